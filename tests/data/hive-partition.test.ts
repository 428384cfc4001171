/**
 * Data written by Spark (`df.write.partitionBy("day").parquet(...)`) is a hive-partitioned folder:
 * train/day=3/part-….parquet. DuckDB writes the same layout with COPY … (PARTITION_BY …); this test writes one
 * and trains on it, the partition column (absent from the files, present only in the folder names) used as a
 * feature and in the row filter.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect, sqlString } from '../../src/data/duck.js'
import { computeAuc } from '../../src/metrics/auc.js'
import { collectPredictions } from '../../src/train/evaluate.js'
import { loadExperiment } from '../../src/train/experiment.js'
import { prepareData } from '../../src/train/prepare.js'
import { trainRun } from '../../src/train/train-run.js'

const root = mkdtempSync(join(tmpdir(), 'resflow-hive-'))
after(() => rmSync(root, { recursive: true, force: true }))
const DAYS = 7
const ROWS = { train: 30_000, val: 6_000 }

before(async () => {
  const conn = await connect()
  for (const [split, n] of Object.entries(ROWS)) {
    // click depends on the item and on the day (days 5 and 6 click 4× more): both must reach the model
    await conn.run(`COPY (SELECT (i % ${DAYS})::INTEGER AS day, (hash(i * 7, ${n}) % 200)::INTEGER AS item, (hash(i * 3, ${n}) % 1000) / 10.0 AS price,
        (hash(i * 5, ${n}) % 1000 < CASE WHEN item < 20 THEN 300 ELSE 40 END * CASE WHEN day >= 5 THEN 4 ELSE 1 END)::INTEGER AS click
      FROM range(${n}) t(i)) TO ${sqlString(join(root, split))} (FORMAT parquet, PARTITION_BY (day))`)
  }
  conn.closeSync()
  // what Spark leaves beside the partitions
  writeFileSync(join(root, 'train', '_SUCCESS'), '')
  writeFileSync(join(root, 'train', '.part-00000.crc'), 'crc')
  writeFileSync(
    join(root, 'schema.json'),
    JSON.stringify({
      format: 'parquet',
      hivePartitioning: true,
      sparse: [{ name: 'item' }, { name: 'day' }],
      dense: [{ name: 'price' }],
      tasks: [{ name: 'click' }],
      // the day partition 0 is left out, as a date range on a Spark table would be
      filter: [{ column: 'day', greaterThan: 0 }],
    }),
  )
  writeFileSync(
    join(root, 'experiment.yaml'),
    `name: hive
data: { dataset: parquet, train: ${join(root, 'train')}, val: ${join(root, 'val')}, schema: ${join(root, 'schema.json')} }
model: { model: resflow, embeddingDim: 4, towers: [16] }
optimizer: { kind: adam, lr: 0.01 }
sparseOptimizer: { kind: adam, lr: 0.01 }
epochs: 2
batchSize: 512
earlyStopping: { metric: mean-auc, patience: 2 }
seed: 1
`,
  )
})

describe('hive-partitioned Parquet (the layout Spark writes)', () => {
  it('reads every partition (the partition value as a feature, filtered on) and trains on it', async () => {
    assert.deepEqual(
      readdirSync(join(root, 'train'))
        .filter((f) => f.startsWith('day='))
        .sort(),
      Array.from({ length: DAYS }, (_, d) => `day=${d}`),
    )
    const e = loadExperiment(join(root, 'experiment.yaml'))
    const data = await prepareData(e.data, () => {}, e.file)
    // rows of day 0 are filtered out: i % 7 = 0
    const kept = (n: number) => n - Math.ceil(n / DAYS)
    assert.deepEqual(data.rows, { train: kept(ROWS.train), val: kept(ROWS.val), test: 0 })
    assert.deepEqual(data.preprocessing.sparse.find((f) => f.name === 'day')!.vocab.sort(), [
      '1',
      '2',
      '3',
      '4',
      '5',
      '6',
    ])
    const dir = mkdtempSync(join(root, 'run-'))
    const run = await trainRun(e, data, { runDir: dir })
    const val = await collectPredictions(run.session, data.valBatches(4096))
    await run.session.release()
    const auc = computeAuc(val.probs.click, val.labels.click)
    // item and day each separate the clicks; an AUC well above 0.5 means both columns arrived
    assert.ok(auc > 0.7, `val AUC ${auc}`)
  })
})
