import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect, sqlString } from '../../src/data/duck.js'
import type { Batch } from '../../src/data/types.js'
import { prepareData } from '../../src/train/prepare.js'
import { BLOCK_ROWS } from '../../src/train/prepare-streamed.js'

const root = mkdtempSync(join(tmpdir(), 'resflow-budget-'))
const cacheBefore = process.env.RESFLOW_CACHE_DIR
process.env.RESFLOW_CACHE_DIR = join(root, 'cache')
after(() => {
  if (cacheBefore === undefined) delete process.env.RESFLOW_CACHE_DIR
  else process.env.RESFLOW_CACHE_DIR = cacheBefore
  rmSync(root, { recursive: true, force: true })
})
const ROWS = { train: 40_000, val: 5_003 }

before(async () => {
  const conn = await connect()
  for (const [split, n] of Object.entries(ROWS)) {
    await conn.run(`COPY (SELECT (hash(i, ${n}) % 700)::INTEGER AS user, (hash(i * 7) % 90)::INTEGER AS item, (hash(i * 3) % 1000) / 10.0 AS price,
      (hash(i * 5) % 10 = 0)::INTEGER AS click, (hash(i * 5) % 50 = 0)::INTEGER AS buy, i::DOUBLE + ${split === 'val' ? 1e6 : 0} AS rowid
      FROM range(${n}) t(i) ORDER BY i) TO ${sqlString(join(root, `${split}.parquet`))} (FORMAT parquet)`)
  }
  conn.closeSync()
  writeFileSync(
    join(root, 'schema.json'),
    JSON.stringify({
      format: 'parquet',
      sparse: [{ name: 'user' }, { name: 'item' }],
      dense: [{ name: 'price' }],
      tasks: [{ name: 'click' }, { name: 'buy' }],
      extra: ['rowid'],
    }),
  )
})

const config = (memoryBudgetMB?: number) => ({
  dataset: 'parquet',
  train: join(root, 'train.parquet'),
  val: join(root, 'val.parquet'),
  schema: join(root, 'schema.json'),
  ...(memoryBudgetMB ? { memoryBudgetMB } : {}),
})
/** every row of the batches as [rowid, user, item, price, click, buy], in batch order */
const rowsOf = (batches: Iterable<Batch>) =>
  [...batches].flatMap((b) =>
    Array.from({ length: b.size }, (_, i) => [
      b.extra!.rowid[i],
      b.sparse.user[i],
      b.sparse.item[i],
      b.dense[i],
      b.labels.click[i],
      b.labels.buy[i],
    ]),
  )
const byRowid = (rows: number[][]) => [...rows].sort((a, b) => a[0] - b[0])

describe('memory budget (data.memoryBudgetMB)', () => {
  it('a budget below the encoded size streams from disk, with the same rows, values and validation batches as in memory', async () => {
    const lines: string[] = []
    const memory = await prepareData(config(), () => {})
    // 45k rows × 24 bytes ≈ 1 MB: a budget of 1 MB (2^20 bytes) is just under it
    const streamed = await prepareData(config(1), (l) => lines.push(l))
    assert.ok(
      lines.some((l) => /streaming them from the on-disk cache/.test(l)),
      lines.join('\n'),
    )
    assert.ok(
      lines.some((l) => /first pass encoded 40000 rows in .* rows\/s/.test(l)),
      lines.join('\n'),
    )
    assert.deepEqual(streamed.rows, memory.rows)
    assert.deepEqual(streamed.positiveRates, memory.positiveRates)
    assert.deepEqual(streamed.spec, memory.spec)
    assert.deepEqual(rowsOf(streamed.valBatches(999)), rowsOf(memory.valBatches(999)))
    // an epoch: each training row once, with its values; another order than the in-memory full shuffle
    const epoch1 = rowsOf(streamed.trainBatches(1, 1, 512))
    const inMemory = rowsOf(memory.trainBatches(1, 1, 512))
    assert.deepEqual(byRowid(epoch1), byRowid(inMemory))
    assert.equal(new Set(epoch1.map((r) => r[0])).size, ROWS.train)
    // deterministic per (seed, epoch); another epoch, another order
    assert.deepEqual(rowsOf(streamed.trainBatches(1, 1, 512)), epoch1)
    assert.notDeepEqual(
      rowsOf(streamed.trainBatches(1, 2, 512)).map((r) => r[0]),
      epoch1.map((r) => r[0]),
    )
  })

  it('sizes the shuffle buffer within the budget', async () => {
    const lines: string[] = []
    await prepareData(config(1), (l) => lines.push(l))
    const m = lines.map((l) => /(\d+) blocks \((\d+) rows, (\d+) MB\) a buffer/.exec(l)).find(Boolean)
    assert.ok(m, lines.join('\n'))
    assert.equal(Number(m[2]), Number(m[1]) * BLOCK_ROWS)
    // 1 MB / (4 × 24 bytes a row) is under one block: the floor is one block
    assert.equal(Number(m[1]), 1)
    assert.ok(
      lines.some((l) => /read from the cache/.test(l)),
      'the second prepare reuses the encoded entry',
    )
  })

  it('refuses data.splitVal when streaming, naming the field', async () => {
    await assert.rejects(
      prepareData({ ...config(1), splitVal: { seed: 1, valFraction: 0.5 } }),
      /data\.splitVal: .*streamed from disk/,
    )
  })
})
