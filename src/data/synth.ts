/**
 * Synthetic funnel data (the embedded default for the demo and tests).
 *
 * Users and items carry latent factors u, v ∈ R^4 and biases; a context has an hour and a device.
 * Stage k of the funnel fires with a conditional probability q_k = σ(a_k + b_u + b_i + s_k·⟨u, v⟩ + w_k·x),
 * so the labels are strictly funnel-consistent: y_k = y_{k-1} · Bernoulli(q_k). The intercepts a_k are
 * solved so that the click rate is ≈ 4% and every later stage multiplies to purchase-given-click ≈ 8%.
 * The true marginal probabilities p_k = q_1 ⋯ q_k are written as columns `p_<task>`, so tests can check
 * how close a model gets to the best possible AUC (≈ 0.8 for click).
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Rng } from '../engine/rng.js'
import { ConfigError } from '../errors.js'
import { connect, sqlString } from './duck.js'
import type { DatasetSchemaInput } from './schema.js'

export interface SyntheticOptions {
  outDir: string
  rows: number
  seed?: number
  /** funnel stages in order; default ['click', 'purchase'] */
  tasks?: string[]
  /** train/val/test fractions; default 0.8/0.1/0.1 */
  split?: [number, number, number]
}

export interface SyntheticResult {
  files: { train: string; val: string; test: string }
  schemaFile: string
  rows: { train: number; val: number; test: number }
  /** observed positive rate per task over all rows */
  rates: Record<string, number>
}

const DIM = 4
/** the funnel's rates, for this generator and the wide one (synth-wide.ts): click ≈ 4% */
export const CLICK_RATE = 0.04
/** … and the last stage given the first ≈ 8% (purchase given click) */
export const LAST_GIVEN_FIRST = 0.08

export function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x))
}

/**
 * Intercept a such that Σ_i w_i·σ(a + z_i) / Σ_i w_i = `target` over the given logits (weights w default 1), by
 * `steps` bisections of [−20, 20]. The generated files depend on the step count to the last bit, so each
 * generator keeps its own (this one 50, the wide one 60).
 */
export function solveIntercept(
  z: Float64Array,
  target: number,
  weight: Float64Array | undefined,
  steps: number,
): number {
  let lo = -20
  let hi = 20
  for (let it = 0; it < steps; it++) {
    const mid = (lo + hi) / 2
    let s = 0
    let w = 0
    for (let i = 0; i < z.length; i++) {
      const m = weight ? weight[i] : 1
      s += m * sigmoid(mid + z[i])
      w += m
    }
    if (s / w > target) hi = mid
    else lo = mid
  }
  return (lo + hi) / 2
}

/** Zipf-like skewed index in [0, n): popular ids are drawn far more often. */
function skewed(rng: Rng, n: number): number {
  return Math.min(n - 1, Math.floor(n * rng.next() ** 2.2))
}

/** The feature columns every generated file has, in file order; task names must not take them. */
export const SYNTHETIC_FEATURES = [
  'user_id',
  'item_id',
  'item_category',
  'user_segment',
  'hour',
  'device',
  'user_activity',
  'item_price',
  'item_ctr_hist',
  'context_score',
] as const

const COLUMN_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/

/**
 * What is wrong with a list of task names for the generator, or undefined: each becomes a label column and a
 * `p_<task>` column beside the features, so names must be plain column names, unique, and clash with none of them.
 */
export function syntheticTasksProblem(tasks: readonly string[]): string | undefined {
  if (tasks.length === 0) return 'expected at least one task name, got none'
  const seen = new Set<string>()
  for (const t of tasks) {
    if (!COLUMN_NAME.test(t)) return `"${t}" is not a column name (letters, digits and _, not starting with a digit)`
    if (seen.has(t)) return `"${t}" is given twice; task names must be unique`
    seen.add(t)
    if ((SYNTHETIC_FEATURES as readonly string[]).includes(t))
      return `"${t}" is the name of a generated feature column (${SYNTHETIC_FEATURES.join(', ')})`
  }
  for (const t of tasks) {
    const of = tasks.find((u) => `p_${u}` === t)
    if (of !== undefined) return `"${t}" is the column of the true probability of task "${of}"; rename one of them`
  }
  return undefined
}

export async function generateSynthetic(opts: SyntheticOptions): Promise<SyntheticResult> {
  const tasks = opts.tasks ?? ['click', 'purchase']
  const problem = syntheticTasksProblem(tasks)
  if (problem) throw new ConfigError(`tasks: ${problem}`, { field: 'tasks' })
  const rows = opts.rows
  const rng = new Rng(opts.seed ?? 1)
  const nUsers = Math.max(50, Math.round(rows / 40))
  const nItems = Math.max(30, Math.round(rows / 80))
  const nCats = 24

  // entities: latent factors [n, DIM], biases, ordinary attributes
  const uVec = new Float64Array(nUsers * DIM).map(() => rng.normal() * 0.55)
  const vVec = new Float64Array(nItems * DIM).map(() => rng.normal() * 0.55)
  const uBias = new Float64Array(nUsers).map(() => rng.normal() * 0.5)
  const iBias = new Float64Array(nItems).map(() => rng.normal() * 0.5)
  const uSegment = Int32Array.from({ length: nUsers }, (_, u) => (uBias[u] > 0 ? 5 : 0) + rng.int(5))
  const iCat = Int32Array.from({ length: nItems }, () => rng.int(nCats))
  const iPrice = new Float64Array(nItems).map(() => Math.exp(3 + rng.normal()))
  const uActivity = Float64Array.from(uBias, (b) => Math.exp(1.5 + b + 0.5 * rng.normal()))
  const catBias = new Float64Array(nCats).map(() => rng.normal() * 0.3)
  const hourBias = Float64Array.from({ length: 24 }, (_, h) => 0.4 * Math.sin((h / 24) * 2 * Math.PI))

  // impressions
  const user = new Int32Array(rows)
  const item = new Int32Array(rows)
  const hour = new Int32Array(rows)
  const device = new Int32Array(rows)
  const ctxScore = new Float64Array(rows)
  const itemCtrHist = new Float64Array(rows)
  const split = new Int32Array(rows)
  const [fTrain, fVal] = opts.split ?? [0.8, 0.1, 0.1]
  const stageLogits = tasks.map(() => new Float64Array(rows))
  for (let r = 0; r < rows; r++) {
    const u = skewed(rng, nUsers)
    const i = skewed(rng, nItems)
    user[r] = u
    item[r] = i
    hour[r] = rng.int(24)
    device[r] = rng.int(3)
    ctxScore[r] = rng.normal()
    itemCtrHist[r] = iBias[i] + 0.3 * rng.normal()
    const s = rng.next()
    split[r] = s < fTrain ? 0 : s < fTrain + fVal ? 1 : 2
    let dot = 0
    for (let d = 0; d < DIM; d++) dot += uVec[u * DIM + d] * vVec[i * DIM + d]
    const base = uBias[u] + iBias[i] + catBias[iCat[i]]
    stageLogits.forEach((z, k) => {
      z[r] =
        k === 0
          ? base + 1.2 * dot + hourBias[hour[r]] + 0.35 * ctxScore[r] + (device[r] === 2 ? -0.3 : 0)
          : 0.7 * base + 1.0 * dot - 0.35 * Math.log(iPrice[i] / 20) + 0.2 * ctxScore[r]
    })
  }

  // intercepts: click rate 4%, each later stage q = 0.08^(1/(K-1)) on average among rows reaching it
  const later = tasks.length > 1 ? LAST_GIVEN_FIRST ** (1 / (tasks.length - 1)) : 0
  const labels = tasks.map(() => new Uint8Array(rows))
  const probs = tasks.map(() => new Float64Array(rows))
  let reach = new Float64Array(rows).fill(1)
  tasks.forEach((_, k) => {
    const a = solveIntercept(stageLogits[k], k === 0 ? CLICK_RATE : later, k === 0 ? undefined : reach, 50)
    const next = new Float64Array(rows)
    for (let r = 0; r < rows; r++) {
      const q = sigmoid(a + stageLogits[k][r])
      probs[k][r] = (k === 0 ? 1 : probs[k - 1][r]) * q
      const prevY = k === 0 ? 1 : labels[k - 1][r]
      labels[k][r] = prevY && rng.next() < q ? 1 : 0
      next[r] = reach[r] * q
    }
    reach = next
  })

  // write: a CSV staging file per split, converted by DuckDB to Parquet
  mkdirSync(opts.outDir, { recursive: true })
  const header = [...SYNTHETIC_FEATURES, ...tasks, ...tasks.map((t) => `p_${t}`)]
  const parts: string[][] = [[], [], []]
  for (let r = 0; r < rows; r++) {
    const u = user[r]
    const i = item[r]
    const cells = [
      u,
      i,
      iCat[i],
      uSegment[u],
      hour[r],
      device[r],
      uActivity[u].toFixed(4),
      iPrice[i].toFixed(2),
      itemCtrHist[r].toFixed(4),
      ctxScore[r].toFixed(4),
    ]
    for (const y of labels) cells.push(y[r])
    for (const p of probs) cells.push(p[r].toPrecision(6))
    parts[split[r]].push(cells.join(','))
  }
  const conn = await connect()
  const names = ['train', 'val', 'test'] as const
  const files = { train: '', val: '', test: '' }
  const counts = { train: 0, val: 0, test: 0 }
  const types = `{${header.map((h, j) => `${sqlString(h)}: '${j < 6 || (j >= 10 && j < 10 + tasks.length) ? 'INTEGER' : 'DOUBLE'}'`).join(', ')}}`
  for (const [s, name] of names.entries()) {
    const staging = join(opts.outDir, `.${name}.csv`)
    writeFileSync(staging, header.join(',') + '\n' + parts[s].join('\n') + '\n')
    const out = join(opts.outDir, `${name}.parquet`)
    try {
      await conn.run(
        `COPY (SELECT * FROM read_csv(${sqlString(staging)}, header=true, auto_detect=false, delim=',', columns=${types})) TO ${sqlString(out)} (FORMAT parquet)`,
      )
    } finally {
      rmSync(staging, { force: true }) // never left behind, even when the conversion fails
    }
    files[name] = out
    counts[name] = parts[s].length
  }
  conn.closeSync()

  const schema: DatasetSchemaInput = {
    format: 'parquet',
    sparse: [
      { name: 'user_id', side: 'user' },
      { name: 'user_segment', side: 'user' },
      { name: 'item_id', side: 'item' },
      { name: 'item_category', side: 'item' },
      { name: 'hour' },
      { name: 'device' },
    ],
    dense: [
      { name: 'user_activity', transform: 'log1p-standardize', side: 'user' },
      { name: 'item_price', transform: 'log1p-standardize', side: 'item' },
      { name: 'item_ctr_hist', transform: 'log1p-standardize', side: 'item' },
      { name: 'context_score', transform: 'log1p-standardize' },
    ],
    tasks: tasks.map((name) => ({ name })),
    funnel: 'error',
    group: 'user_id',
    extra: tasks.map((t) => `p_${t}`),
  }
  const schemaFile = join(opts.outDir, 'schema.json')
  writeFileSync(schemaFile, JSON.stringify(schema, null, 2) + '\n')
  const rates: Record<string, number> = {}
  tasks.forEach((t, k) => {
    rates[t] = labels[k].reduce((a, b) => a + b, 0) / rows
  })
  return { files, schemaFile, rows: counts, rates }
}
