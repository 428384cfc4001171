/**
 * Wide synthetic funnel data at any row count (`resflow datagen --width aliexpress`): the AliExpress layout,
 * 16 categorical fields (one of them, item_id, an id field of `ids` distinct values, 1M by default) and 63
 * numeric ones, click → purchase.
 *
 * The narrow generator (synth.ts) builds every row in JS and stages CSV; at 20M rows × 83 columns that would
 * hold gigabytes. Here DuckDB generates the rows itself and COPYs them to Parquet row group by row group, so memory
 * stays bounded whatever the row count. Randomness is a counter-based hash: u(seed, stream, key) =
 * hash(seed, stream, key) / 2^64 (see h below), so a row's values depend only on (seed, row number) and an entity's
 * attributes only on (seed, entity id); the same seed writes the same files.
 *
 * The model is the narrow generator's: user and item latent factors u, v ∈ R^4 and biases; click fires with
 * q_1 = σ(a_1 + b_u + b_i + b_cat + 1.2·⟨u, v⟩ + hour + context terms), purchase given click with
 * q_2 = σ(a_2 + 0.7·base + ⟨u, v⟩ − 0.35·log(price/20) + 0.2·ctx). The intercepts are solved on a sample of
 * rows (click ≈ 4%, purchase-given-click ≈ 8%) and the Bayes probabilities p_click = q_1 and
 * p_purchase = q_1·q_2 are written as columns, as in synth.ts.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { connect, sqlString, streamColumns } from './duck.js'
import type { DatasetSchemaInput } from './schema.js'
import {
  CLICK_RATE,
  LAST_GIVEN_FIRST,
  type SyntheticOptions,
  type SyntheticResult,
  sigmoid,
  solveIntercept,
} from './synth.js'

/** The narrow generator's options but its tasks: the wide layout is always click → purchase. */
export interface WideSyntheticOptions extends Omit<SyntheticOptions, 'tasks'> {
  /** distinct values of the id field item_id (default 1,000,000) */
  ids?: number
}

export type WideSyntheticResult = SyntheticResult

const USERS = 200_000
const INTERCEPT_SAMPLE = 200_000
/** bisection steps of the intercepts (solveIntercept); the narrow generator takes 50 */
const INTERCEPT_STEPS = 60

/** The 16 categorical fields: name → SQL of its value (r = row number, u = user, i = item). */
function categoricals(): [string, string][] {
  return [
    ['item_id', 'i'],
    ['shop_id', `${h(101, 'i')} % 50000`],
    ['brand_id', `${h(102, 'i')} % 20000`],
    ['category_l2', `${h(103, 'i')} % 400`],
    ['category_l1', `(${h(103, 'i')} % 400) % 30`],
    ['user_cluster', 'u'],
    ['user_segment', `${h(201, 'u')} % 10`],
    ['gender', `${h(202, 'u')} % 3`],
    ['age_band', `${h(203, 'u')} % 8`],
    ['city', `${h(204, 'u')} % 300`],
    ['device', `${h(11, 'r')} % 4`],
    ['os', `${h(12, 'r')} % 3`],
    ['hour', 'hour'],
    ['weekday', `${h(14, 'r')} % 7`],
    ['channel', `${h(15, 'r')} % 12`],
    ['position', `${h(16, 'r')} % 50`],
  ]
}

export const WIDE_NUMERIC = 63
export const WIDE_CATEGORICAL = 16

/**
 * A hashed 64-bit draw for (seed, stream, key). DuckDB's hash of several arguments combines their hashes too
 * weakly (hash(s, 4, r) and hash(s, 5, r) come out almost perfectly anti-correlated), so the three are packed
 * into one BIGINT first: key · 2^16 + stream, offset by seed · 2^44 (keys stay below 2^27, streams below 2^16).
 */
const h = (stream: number, key: string) => `hash((${key})::BIGINT * 65536 + ${stream} + S * 17592186044416)`
/** uniform in (0, 1) */
const unif = (stream: number, key: string) => `((${h(stream, key)} >> 11)::DOUBLE + 0.5) / 9007199254740992.0`
/** standard normal (Box–Muller) from streams 2·stream and 2·stream + 1 */
const normal = (stream: number, key: string) =>
  `(sqrt(-2 * ln(${unif(2 * stream, key)})) * cos(6.283185307179586 * ${unif(2 * stream + 1, key)}))`

/**
 * One SELECT of every generated column of rows [lo, hi), intercepts a1 and a2 as SQL literals. The inner
 * query draws the entities and features; the outer one the labels.
 */
function rowsSql(seed: number, ids: number, lo: number, hi: number, a1: string, a2: string, where = 'true'): string {
  // popular users and items are drawn far more often: index = floor(n · u^k)
  const dot = Array.from(
    { length: 4 },
    (_, d) => `${normal(1204 + d, 'u')} * 0.55 * ${normal(1208 + d, 'i')} * 0.55`,
  ).join(' + ')
  // numeric features: 21 of the user, 21 of the item, 21 of the context; a few carry signal into the logits
  const numeric = Array.from({ length: WIDE_NUMERIC }, (_, j) => {
    const key = j < 21 ? 'u' : j < 42 ? 'i' : 'r'
    const base = normal(2000 + j, key)
    // a third of them heavy-tailed (counts, prices), the rest plain scores
    return j % 3 === 0 ? `exp(1 + 0.8 * ${base})` : base
  })
  const cats = categoricals().map(([n, sql]) => `${sql}::INTEGER AS ${n}`)
  const inner = `
    SELECT r, u, i, hour, click_u, purchase_u,
      ${cats.join(',\n      ')},
      ${numeric.map((x, j) => `${x} AS num_${j + 1}`).join(',\n      ')},
      (${dot}) AS dot,
      0.5 * ${normal(303, 'u')} AS ubias,
      0.5 * ${normal(304, 'i')} AS ibias,
      0.3 * ${normal(305, `${h(103, 'i')} % 400`)} AS catbias,
      exp(3 + ${normal(306, 'i')}) AS price,
      ${normal(307, 'r')} AS ctx
    FROM (
      SELECT r,
        least(${USERS - 1}, floor(${USERS} * pow(${unif(1, 'r')}, 2.2)))::BIGINT AS u,
        least(${ids - 1}, floor(${ids} * pow(${unif(2, 'r')}, 1.5)))::BIGINT AS i,
        (${h(13, 'r')} % 24)::BIGINT AS hour,
        ${unif(4, 'r')} AS click_u,
        ${unif(5, 'r')} AS purchase_u
      FROM range(${lo}, ${hi}) t(r)
      WHERE ${where}
    )`
  const z1 = `(ubias + ibias + catbias + 1.2 * dot + 0.4 * sin(hour / 24 * 6.283185307179586) + 0.35 * ctx + CASE WHEN device = 2 THEN -0.3 ELSE 0 END + 0.15 * num_2 - 0.15 * num_23)`
  const z2 = `(0.7 * (ubias + ibias + catbias) + dot - 0.35 * ln(price / 20) + 0.2 * ctx + 0.1 * num_44)`
  const sql = `
    SELECT *, 1 / (1 + exp(-(${a1} + z1))) AS q1, 1 / (1 + exp(-(${a2} + z2))) AS q2
    FROM (SELECT *, ${z1} AS z1, ${z2} AS z2 FROM (${inner}))`
  return withSeed(sql, seed)
}

/** the seed into every draw of h() */
const withSeed = (sql: string, seed: number) => sql.replaceAll('+ S * ', `+ ${seed} * `)

export async function generateWideSynthetic(opts: WideSyntheticOptions): Promise<WideSyntheticResult> {
  const seed = opts.seed ?? 1
  const ids = opts.ids ?? 1_000_000
  const split = opts.split ?? [0.8, 0.1, 0.1]
  const conn = await connect()
  mkdirSync(opts.outDir, { recursive: true })

  // intercepts from the logits of the first rows (the same rows for a given seed)
  const sample = Math.min(opts.rows, INTERCEPT_SAMPLE)
  const z1 = new Float64Array(sample)
  const z2 = new Float64Array(sample)
  let at = 0
  await streamColumns(
    conn,
    `SELECT z1::DOUBLE, z2::DOUBLE FROM (${rowsSql(seed, ids, 0, sample, '0', '0')})`,
    ['f64', 'f64'],
    (cols, n) => {
      z1.set(cols[0] as Float64Array, at)
      z2.set(cols[1] as Float64Array, at)
      at += n
    },
  )
  const a1 = solveIntercept(z1, CLICK_RATE, undefined, INTERCEPT_STEPS)
  const a2 = solveIntercept(
    z2,
    LAST_GIVEN_FIRST, // purchase given click
    z1.map((z) => sigmoid(a1 + z)),
    INTERCEPT_STEPS,
  )

  const catNames = categoricals().map(([n]) => n)
  const numNames = Array.from({ length: WIDE_NUMERIC }, (_, j) => `num_${j + 1}`)
  const select = [
    ...catNames,
    ...numNames.map((n) => `${n}::FLOAT AS ${n}`),
    '(click_u < q1)::INTEGER AS click',
    '(click_u < q1 AND purchase_u < q2)::INTEGER AS purchase',
    'q1::FLOAT AS p_click',
    '(q1 * q2)::FLOAT AS p_purchase',
  ].join(', ')
  const names = ['train', 'val', 'test'] as const
  const files = {
    train: join(opts.outDir, 'train.parquet'),
    val: join(opts.outDir, 'val.parquet'),
    test: join(opts.outDir, 'test.parquet'),
  }
  const counts = { train: 0, val: 0, test: 0 }
  let clicks = 0
  let purchases = 0
  // A row's split is a hashed uniform of its number, filtered before any feature is computed, so the three
  // COPYs together compute every row once. COPY streams (row groups are written as they fill) and keeps
  // the source order (DuckDB's preserve_insertion_order), so the files are in row-number order.
  const splitU = withSeed(unif(3, 'r'), seed)
  const bounds = [0, split[0], split[0] + split[1], 2]
  for (const [s, name] of names.entries()) {
    const where = `${splitU} >= ${bounds[s]} AND ${splitU} < ${bounds[s + 1]}`
    const sql = `SELECT ${select} FROM (${rowsSql(seed, ids, 0, opts.rows, a1.toPrecision(17), a2.toPrecision(17), where)})`
    await conn.run(`COPY (${sql}) TO ${sqlString(files[name])} (FORMAT parquet, ROW_GROUP_SIZE 122880)`)
    const reader = await conn.runAndReadAll(
      `SELECT count(*)::DOUBLE AS n, sum(click)::DOUBLE AS c, sum(purchase)::DOUBLE AS p FROM read_parquet(${sqlString(files[name])})`,
    )
    const [row] = reader.getRowObjectsJS() as { n: number; c: number | null; p: number | null }[]
    counts[name] = Number(row.n)
    clicks += Number(row.c ?? 0)
    purchases += Number(row.p ?? 0)
  }
  conn.closeSync()

  const schema: DatasetSchemaInput = {
    format: 'parquet',
    sparse: catNames
      .map((name) => ({
        name,
        side: /^(user_|gender|age_band|city)/.test(name)
          ? ('user' as const)
          : /^(item_|shop_|brand_|category_)/.test(name)
            ? ('item' as const)
            : undefined,
      }))
      .map((f) => (f.side ? f : { name: f.name })),
    dense: numNames.map((name) => ({ name })),
    tasks: [{ name: 'click' }, { name: 'purchase' }],
    funnel: 'error',
    group: 'user_cluster',
    extra: ['p_click', 'p_purchase'],
  }
  const schemaFile = join(opts.outDir, 'schema.json')
  writeFileSync(schemaFile, JSON.stringify(schema, null, 2) + '\n')
  return { files, schemaFile, rows: counts, rates: { click: clicks / opts.rows, purchase: purchases / opts.rows } }
}
