/**
 * Data for the quality benchmark, written so that both resflow and the independent PyTorch reference
 * (../shared/reference/mtl_ref.py) read the very same rows:
 *
 * - funnel: `resflow datagen` output (train/val/test Parquet), plus the same splits as CSV with a header
 *   for the reference's generic mode, its schema JSON, and a truth file with the test metrics of the
 *   generator's true probabilities (the Bayes AUC, `--bayes`).
 * - census: the given census-income.train.gz, and census-income.val.gz split in two halves by the
 *   rule of `data.splitVal` (row i → validation if the i-th draw of mulberry32(seed) is < fraction,
 *   else test), written as raw UCI files for the reference's `--census-files TRAIN,VAL,TEST`.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { gunzipSync, gzipSync } from 'node:zlib'
import { connect, queryObjects, sqlString } from '../../src/data/duck.js'
import { generateSynthetic } from '../../src/data/synth.js'
import { Rng } from '../../src/engine/rng.js'
import { computeAuc } from '../../src/metrics/auc.js'
import { computeLogloss } from '../../src/metrics/logloss.js'

export interface FunnelData {
  dir: string
  csv: { train: string; val: string; test: string }
  schema: string
  bayes: string
  tasks: string[]
}

/** Generates (once) a click → purchase funnel and its reference-side files under `dir` (split: train/val/test fractions). */
export async function funnelData(
  dir: string,
  rows: number,
  seed: number,
  split: [number, number, number] = [0.8, 0.1, 0.1],
): Promise<FunnelData> {
  const tasks = ['click', 'purchase']
  const csv = { train: join(dir, 'train.csv'), val: join(dir, 'val.csv'), test: join(dir, 'test.csv') }
  const out: FunnelData = {
    dir,
    csv,
    schema: join(dir, 'reference-schema.json'),
    bayes: join(dir, 'bayes.json'),
    tasks,
  }
  const stamp = join(dir, 'quality-data.json')
  const want = JSON.stringify({ rows, seed, tasks, split })
  if (existsSync(stamp) && readFileSync(stamp, 'utf8') === want) return out
  mkdirSync(dir, { recursive: true })
  await generateSynthetic({ outDir: dir, rows, seed, tasks, split })
  const conn = await connect()
  for (const split of ['train', 'val', 'test'] as const) {
    await conn.run(
      `COPY (SELECT * FROM read_parquet(${sqlString(join(dir, `${split}.parquet`))})) TO ${sqlString(csv[split])} (HEADER, DELIMITER ',')`,
    )
  }
  const test = await queryObjects(
    conn,
    `SELECT ${tasks.flatMap((t) => [t, `p_${t}`]).join(', ')} FROM read_parquet(${sqlString(join(dir, 'test.parquet'))})`,
  )
  conn.closeSync()
  const auc: number[] = []
  const logloss: number[] = []
  for (const t of tasks) {
    const y = Float32Array.from(test, (r) => Number(r[t]))
    const p = Float32Array.from(test, (r) => Number(r[`p_${t}`]))
    auc.push(computeAuc(p, y))
    logloss.push(computeLogloss(p, y))
  }
  writeFileSync(out.bayes, JSON.stringify({ auc, logloss }) + '\n')
  const schema = {
    sparse: ['user_id', 'item_id', 'item_category', 'user_segment', 'hour', 'device'],
    dense: ['user_activity', 'item_price', 'item_ctr_hist', 'context_score'],
    labels: tasks,
    group: 'user_id',
    sep: ',',
  }
  writeFileSync(out.schema, JSON.stringify(schema, null, 1) + '\n')
  writeFileSync(stamp, want)
  return out
}

export interface CensusData {
  train: string
  val: string
  test: string
}

/**
 * The census validation file split in two halves by the mulberry32 rule of `data.splitVal`, written as
 * raw gzipped UCI files, so that the reference sees the rows resflow uses for early stopping and test.
 */
export function censusData(sourceDir: string, dir: string, seed = 2024, valFraction = 0.5): CensusData {
  const out = {
    train: join(sourceDir, 'census-income.train.gz'),
    val: join(dir, 'census-val-half.gz'),
    test: join(dir, 'census-test-half.gz'),
  }
  if (existsSync(out.val) && existsSync(out.test)) return out
  mkdirSync(dir, { recursive: true })
  const lines = gunzipSync(readFileSync(join(sourceDir, 'census-income.val.gz')))
    .toString('utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
  const rng = new Rng(seed)
  const val: string[] = []
  const test: string[] = []
  for (const line of lines) (rng.next() < valFraction ? val : test).push(line)
  writeFileSync(out.val, gzipSync(val.join('\n') + '\n'))
  writeFileSync(out.test, gzipSync(test.join('\n') + '\n'))
  return out
}
