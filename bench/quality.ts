/**
 * `npm run bench:quality`: resflow against the independent PyTorch reference (../shared/reference,
 * mtl_ref.py, run as it is) on the same rows, model for model: test AUC per task, mean ± std over seeds,
 * with the difference of the means and its standard error, and ResFlow's relative gain over NSE (its
 * no-residual ablation) on the last task, seed by seed.
 *
 *   npm run bench:quality -- [--data funnel,census] [--models resflow,nse,...] [--seeds 3]
 *                            [--reference run|skip|FILE.json] [--out FILE.jsonl] [--sequential]
 *                            [--seeds N | A-B]   (N: resflow 1..N, reference 0..N-1; A-B: resflow seeds A..B)
 *                            [--set key=value,...]   (model options for every resflow model, e.g. priorBias=true;
 *                                                     the results are labelled "resflow key=value")
 *   npm run bench:quality -- --from A.jsonl,B.jsonl        (no training: the tables of earlier --out lines)
 *
 * funnel: a `resflow datagen` click → purchase funnel (600k rows: 400k train, 100k val, 100k test; click
 * ≈ 4%, purchase ≈ 0.3%), with the generator's Bayes AUC (its true probabilities) as the ceiling.
 * census: UCI Census-Income, census-income.train.gz for training and census-income.val.gz split in two
 * halves (validation for early stopping, test for the figures), as configs/quality/census.yaml.
 * Both sides use the reference's recipe (configs/quality/*.yaml). resflow's seeds are 1..N, the
 * reference's 0..N-1 (independent draws either way). By default the reference runs beside resflow (one
 * process each, 2 cores): AUC does not depend on timing; --sequential runs one after the other.
 */
import { spawn } from 'node:child_process'
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { computeAuc } from '../src/metrics/auc.js'
import { collectPredictions } from '../src/train/evaluate.js'
import { loadExperiment } from '../src/train/experiment.js'
import { prepareData } from '../src/train/prepare.js'
import { trainRun } from '../src/train/train-run.js'
import { censusData, funnelData } from './quality/reference-data.js'
import { meanStd } from './stats.js'

const root = fileURLToPath(new URL('..', import.meta.url))
const shared = join(root, '../shared')
const referenceScript = join(shared, 'reference/mtl_ref.py')

/** resflow registry name → the reference's model name */
const REFERENCE_NAME: Record<string, string> = {
  resflow: 'resflow',
  nse: 'resflow_nores',
  esmm: 'esmm',
  mmoe: 'mmoe',
  'shared-bottom': 'shared_bottom',
  single: 'single_task',
  ple: 'ple',
}
const FUNNEL = { rows: 600_000, seed: 7, split: [4 / 6, 1 / 6, 1 / 6] as [number, number, number] }

const { values } = parseArgs({
  options: {
    data: { type: 'string', default: 'funnel,census' },
    models: { type: 'string', default: Object.keys(REFERENCE_NAME).join(',') },
    seeds: { type: 'string', default: '3' },
    reference: { type: 'string', default: 'run' },
    out: { type: 'string' },
    from: { type: 'string' },
    sequential: { type: 'boolean', default: false },
    set: { type: 'string' },
  },
})

interface Result {
  /** 'reference', or 'resflow' with the --set options, e.g. 'resflow priorBias=true' */
  side: string
  data: string
  model: string
  seed: number
  /** test AUC per task, in the data set's task order */
  auc: number[]
  tasks: string[]
  bestEpoch: number
  epochs: number
  bayes?: number[]
}

const overrides = (values.set ?? '')
  .split(',')
  .filter(Boolean)
  .map((kv) => {
    const [key, value] = kv.split('=') as [string, string | undefined]
    if (!key || value === undefined) throw new Error(`--set: expected key=value, got "${kv}"`)
    return [key, JSON.parse(value) as unknown] as const
  })
const ours = ['resflow', ...overrides.map(([k, v]) => `${k}=${JSON.stringify(v)}`)].join(' ')
const models = values.models.split(',')
for (const m of models)
  if (!REFERENCE_NAME[m])
    throw new Error(
      `--models: "${m}" has no counterpart in the reference (have: ${Object.keys(REFERENCE_NAME).join(', ')})`,
    )
// --seeds N: resflow seeds 1..N, the reference's 0..N-1; --seeds A-B: resflow seeds A..B only (more seeds for a table)
const [firstSeed, seeds] = /^\d+-\d+$/.test(values.seeds)
  ? ((a: number, b: number) => [a, b - a + 1])(...(values.seeds.split('-').map(Number) as [number, number]))
  : [null, Number(values.seeds)]
const results: Result[] = []
const record = (r: Result) => {
  results.push(r)
  if (values.out) appendFileSync(values.out, JSON.stringify(r) + '\n')
}

if (values.from) {
  const lines = values.from.split(',').flatMap((f) =>
    readFileSync(f, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Result),
  )
  for (const data of [...new Set(lines.map((r) => r.data))])
    console.log(
      formatTables(
        data,
        lines.filter((r) => r.data === data && models.includes(r.model)),
      ) + '\n',
    )
  process.exit(0)
}

const python = '/usr/bin/python3'
const runReference = values.reference === 'run'
// an earlier mtl_ref.py --out JSON of the same data, read instead of running the reference again
const referenceFile = values.reference !== 'run' && values.reference !== 'skip' ? values.reference : null
if (runReference && !existsSync(referenceScript))
  throw new Error(
    `--reference run: ${referenceScript} not found (the shared reference sits beside the project); use --reference skip`,
  )

for (const data of values.data.split(',')) {
  const work = join(root, '.cache/quality')
  mkdirSync(work, { recursive: true })
  let refArgs: string[]
  let bayes: number[] | undefined
  if (data === 'funnel') {
    const f = await funnelData(join(work, 'funnel'), FUNNEL.rows, FUNNEL.seed, FUNNEL.split)
    bayes = (JSON.parse(readFileSync(f.bayes, 'utf8')) as { auc: number[] }).auc
    refArgs = [
      '--csv',
      f.csv.train,
      '--val-csv',
      f.csv.val,
      '--test-csv',
      f.csv.test,
      '--schema',
      f.schema,
      '--bayes',
      f.bayes,
    ]
  } else if (data === 'census') {
    const source = join(shared, 'data/census-income')
    if (!existsSync(source))
      throw new Error(`--data census: ${source} not found (the shared data sits beside the project)`)
    const c = censusData(source, join(work, 'census'))
    refArgs = ['--census-files', [c.train, c.val, c.test].join(',')]
  } else {
    throw new Error(`--data: unknown data set "${data}" (funnel, census)`)
  }
  const refOut = join(tmpdir(), `resflow-quality-${data}-${process.pid}.json`)
  const reference = runReference
    ? spawnReference([
        ...refArgs,
        '--models',
        models.map((m) => REFERENCE_NAME[m]).join(','),
        '--seeds',
        String(seeds),
        '--threads',
        '1',
        '--out',
        refOut,
      ])
    : null
  if (reference && values.sequential) await reference

  const experiment = loadExperiment(join(root, `configs/quality/${data}.yaml`))
  for (const [key, value] of overrides) experiment.model[key] = value // shared options reach every compared model
  const prepared = await prepareData(experiment.data, (line) => console.error(line), experiment.file)
  const tasks = prepared.spec.tasks
  for (const model of models) {
    for (let s = 0; s < seeds; s++) {
      const seed = (firstSeed ?? experiment.seed) + s
      const run = await trainRun(experiment, prepared, {
        model,
        seed,
        runDir: join(tmpdir(), `resflow-quality-${process.pid}`, data, `${model}-${seed}`),
      })
      const test = await collectPredictions(run.session, prepared.testBatches(experiment.evalBatchSize)!)
      await run.session.release()
      const r: Result = {
        side: ours,
        data,
        model,
        seed,
        tasks: [...tasks],
        auc: tasks.map((t) => computeAuc(test.probs[t], test.labels[t])),
        bestEpoch: run.fit.best.epoch,
        epochs: run.fit.history.length,
        ...(bayes ? { bayes } : {}),
      }
      record(r)
      console.error(
        `${ours} ${data} ${model.padEnd(13)} seed ${seed}: test AUC ${r.auc.map((a) => a.toFixed(4)).join(' / ')} (best epoch ${r.bestEpoch}/${r.epochs})`,
      )
    }
  }
  if (reference || referenceFile) {
    await reference
    const res = JSON.parse(readFileSync(referenceFile ?? refOut, 'utf8')) as {
      runs: { model: string; seed: number; test_auc: number[]; best_epoch: number; epochs_run: number }[]
    }
    for (const run of res.runs.filter((r) => models.some((m) => REFERENCE_NAME[m] === r.model))) {
      const model = Object.keys(REFERENCE_NAME).find((k) => REFERENCE_NAME[k] === run.model)!
      record({
        side: 'reference',
        data,
        model,
        seed: run.seed,
        tasks: [...tasks],
        auc: run.test_auc,
        bestEpoch: run.best_epoch,
        epochs: run.epochs_run,
        ...(bayes ? { bayes } : {}),
      })
    }
  }
  console.log(
    formatTables(
      data,
      results.filter((r) => r.data === data),
    ) + '\n',
  )
}
console.log(`command: npm run bench:quality -- ${process.argv.slice(2).join(' ')}`.trimEnd())

function spawnReference(args: string[]): Promise<void> {
  const child = spawn(python, [referenceScript, ...args], {
    env: { ...process.env, OMP_WAIT_POLICY: 'PASSIVE' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let err = ''
  child.stdout.on('data', (d: Buffer) =>
    process.stderr.write(
      d
        .toString()
        .split('\n')
        .filter((l) => / seed \d+: test AUC/.test(l))
        .map((l) => `reference ${l}\n`)
        .join(''),
    ),
  )
  child.stderr.on('data', (d: Buffer) => (err += d.toString()))
  return new Promise((resolve, reject) => {
    child.on('error', reject)
    child.on('close', (code) =>
      code === 0
        ? resolve()
        : reject(
            new Error(`${python} ${referenceScript} ${args.join(' ')} failed (exit ${code}):\n${err.slice(-4000)}`),
          ),
    )
  })
}

function fmt(m: { mean: number; std: number }): string {
  return Number.isFinite(m.std) ? `${m.mean.toFixed(4)} ± ${m.std.toFixed(4)}` : m.mean.toFixed(4)
}

function signed(x: number, d = 4): string {
  return `${x >= 0 ? '+' : ''}${x.toFixed(d)}`
}

/** Per data set and resflow variant: the AUC table against the reference, and ResFlow's gain over NSE on the last task. */
function formatTables(data: string, rs: Result[]): string {
  const variants = [...new Set(rs.map((r) => r.side).filter((s) => s !== 'reference'))]
  return (variants.length ? variants : ['resflow'])
    .map((v) =>
      formatTable(
        data,
        v,
        rs.filter((r) => r.side === v || r.side === 'reference'),
      ),
    )
    .join('\n\n')
}

function formatTable(data: string, variant: string, rs: Result[]): string {
  const tasks = rs[0]?.tasks ?? []
  const head = ['model', 'seeds (ours / ref)', ...tasks.flatMap((t) => [`${t} ${variant}`, `${t} reference`, 'Δ (SE)'])]
  const rows = models
    .filter((m) => rs.some((r) => r.model === m))
    .map((model) => {
      const ours = rs.filter((r) => r.side === variant && r.model === model)
      const theirs = rs.filter((r) => r.side === 'reference' && r.model === model)
      const cells = [model, `${ours.length} / ${theirs.length}`]
      tasks.forEach((_, k) => {
        const a = ours.length ? meanStd(ours.map((r) => r.auc[k])) : null
        const b = theirs.length ? meanStd(theirs.map((r) => r.auc[k])) : null
        const se = a && b ? Math.sqrt(a.std ** 2 / ours.length + b.std ** 2 / theirs.length) : NaN
        cells.push(
          a ? fmt(a) : '—',
          b ? fmt(b) : '—',
          a && b ? `${signed(a.mean - b.mean)}${Number.isFinite(se) ? ` (${se.toFixed(4)})` : ''}` : '—',
        )
      })
      return cells
    })
  const bayes = rs.find((r) => r.bayes)?.bayes
  if (bayes) rows.push(['Bayes (true p)', '', ...bayes.flatMap((b) => [b.toFixed(4), b.toFixed(4), ''])])
  const table = [head, head.map(() => '---'), ...rows].map((r) => `| ${r.join(' | ')} |`)
  const out = [
    `### ${data}, ${variant}: test AUC, mean ± std over seeds; Δ = resflow − reference (standard error of the difference)`,
    '',
    ...table,
  ]
  // ResFlow vs NSE on the last task: relative AUC gain per seed (paired by seed within each side)
  const last = tasks.length - 1
  const gains = (side: string) => {
    const nse = new Map(rs.filter((r) => r.side === side && r.model === 'nse').map((r) => [r.seed, r.auc[last]]))
    return rs
      .filter((r) => r.side === side && r.model === 'resflow' && nse.has(r.seed))
      .map((r) => 100 * (r.auc[last] / nse.get(r.seed)! - 1))
  }
  const gainRows = [variant, 'reference'].map((side) => [side, gains(side)] as const).filter(([, g]) => g.length > 0)
  if (gainRows.length && tasks.length > 1) {
    out.push('', `ResFlow vs NSE, ${tasks[last]} AUC, relative gain per seed (%):`, '')
    for (const [side, g] of gainRows)
      out.push(`- ${side}: ${g.map((x) => signed(x, 2)).join(', ')} (mean ${signed(meanStd(g).mean, 2)})`)
  }
  return out.join('\n')
}
