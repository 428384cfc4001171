import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { blockBufferOrder, shuffleWindows, streamBatches } from '../../src/data/block-shuffle.js'
import { encodeToDisk } from '../../src/data/disk-table.js'
import { connect, sqlString } from '../../src/data/duck.js'
import { encodeDataset } from '../../src/data/encode.js'
import { fitPreprocessing } from '../../src/data/preprocessing.js'
import { parseDatasetSchema } from '../../src/data/schema.js'
import type { EncodedColumns, EncodedDataset } from '../../src/data/dataset.js'
import type { Preprocessing } from '../../src/data/preprocessing.js'
import type { Batch } from '../../src/data/types.js'
import { CLICK_BUY_COLUMNS_SQL, CLICK_BUY_FIELDS } from '../helpers/click-buy-table.js'

const root = mkdtempSync(join(tmpdir(), 'resflow-stream-'))
after(() => rmSync(root, { recursive: true, force: true }))
const file = join(root, 'train.parquet')
const ROWS = 10_007 // not a multiple of any block or batch size below

const schema = parseDatasetSchema({ format: 'parquet', ...CLICK_BUY_FIELDS, extra: ['rowid'] }, 'stream test schema')

let prep: Preprocessing
let memory: EncodedDataset

before(async () => {
  const conn = await connect()
  // rowid = the row's number, so every streamed row says where it came from
  await conn.run(`COPY (SELECT (hash(i) % 500)::INTEGER AS user, (hash(i * 7) % 300)::INTEGER AS item,
    ${CLICK_BUY_COLUMNS_SQL}, i::DOUBLE AS rowid
    FROM range(${ROWS}) t(i) ORDER BY i) TO ${sqlString(file)} (FORMAT parquet)`)
  conn.closeSync()
  prep = await fitPreprocessing(schema, [file])
  memory = await encodeDataset(prep, [file])
})

/**
 * Row `r` of a batch or of the in-memory dataset's columns (`nd` dense values a row), every column as plain
 * numbers; the tags, when the table has them, after a -1.
 */
function rowAt(c: Omit<Batch, 'size'> | EncodedColumns, nd: number, r: number): number[] {
  const tags = c.multi.tags
  return [
    c.sparse.user[r],
    c.sparse.item[r],
    ...c.dense.subarray(r * nd, r * nd + nd),
    c.labels.click[r],
    c.labels.buy[r],
    c.group![r],
    c.extra!.rowid[r],
    ...(tags ? [-1, ...tags.ids.subarray(tags.offsets[r], tags.offsets[r + 1])] : []),
  ]
}
const rowOf = (ds: EncodedDataset, r: number) => rowAt(ds.columns, ds.spec.dense.length, r)
const rowsOfBatch = (b: Batch) => Array.from({ length: b.size }, (_, i) => rowAt(b, b.dense.length / b.size, i))

describe('block + buffer shuffle', () => {
  it('visits every row exactly once per epoch, in an order that depends only on the seed', () => {
    for (const opts of [
      { blockRows: 1000, bufferBlocks: 3, seed: 5 },
      { blockRows: 7, bufferBlocks: 1, seed: 9 },
      { blockRows: 64, bufferBlocks: 1000, seed: 1 },
    ]) {
      const order = blockBufferOrder(ROWS, opts)
      const seen = new Uint8Array(ROWS)
      for (const r of order) seen[r]++
      assert.ok(
        seen.every((v) => v === 1),
        `each row once with ${JSON.stringify(opts)}`,
      )
      assert.deepEqual(blockBufferOrder(ROWS, opts), order, 'same seed, same order')
      assert.notDeepEqual(
        blockBufferOrder(ROWS, { ...opts, seed: opts.seed + 1 }),
        order,
        'another seed, another order',
      )
    }
  })

  it('keeps the rows of a block inside one buffer and shuffles within the buffer', () => {
    const opts = { blockRows: 100, bufferBlocks: 4, seed: 3 }
    const order = blockBufferOrder(ROWS, opts)
    let at = 0
    for (const win of shuffleWindows(ROWS, opts)) {
      const inWindow = new Set(Array.from(win.blocks))
      const rows = order.subarray(at, at + win.order.length)
      for (const r of rows)
        assert.ok(inWindow.has(Math.floor(r / 100)), `row ${r} of block ${Math.floor(r / 100)} outside its buffer`)
      at += win.order.length
    }
    assert.equal(at, ROWS)
    // not file order inside a buffer: fewer than a tenth of neighbours are consecutive rows
    let consecutive = 0
    for (let i = 1; i < ROWS; i++) if (order[i] === order[i - 1] + 1) consecutive++
    assert.ok(consecutive < ROWS / 10, `${consecutive} consecutive pairs`)
  })

  it('streams from disk exactly the in-memory rows, in the block + buffer order, batches spanning buffers', async () => {
    const { table, hit } = await encodeToDisk(prep, [file], join(root, 'cache', 'a'), { pieceRows: 1500 })
    assert.equal(hit, false)
    assert.equal(table.rows, memory.rows)
    assert.deepEqual(table.positiveRates, {
      click: mean(memory.columns.labels.click),
      buy: mean(memory.columns.labels.buy),
    })
    const shuffle = { blockRows: 333, bufferBlocks: 5, seed: 11 }
    const order = blockBufferOrder(table.rows, shuffle)
    const batches = [...streamBatches(table, { batchSize: 256, shuffle })]
    assert.deepEqual(
      batches.map((b) => b.size),
      [...Array(Math.floor(ROWS / 256)).fill(256), ROWS % 256],
    )
    const streamed = batches.flatMap(rowsOfBatch)
    const expected = Array.from(order, (r) => rowOf(memory, r))
    assert.deepEqual(streamed, expected)
    // without shuffle: file order, small buffers
    const plain = [...streamBatches(table, { batchSize: 1000, bufferRows: 777 })].flatMap(rowsOfBatch)
    assert.deepEqual(
      plain,
      Array.from({ length: ROWS }, (_, r) => rowOf(memory, r)),
    )
  })

  it('streams tables of fixed-size rows (no multi-valued feature) through reused buffers, every batch intact', async () => {
    const flat = parseDatasetSchema({ ...schema, multi: [] }, 'stream test schema without tags')
    const prepFlat = await fitPreprocessing(flat, [file])
    const mem = await encodeDataset(prepFlat, [file])
    const { table } = await encodeToDisk(prepFlat, [file], join(root, 'cache', 'flat'), { pieceRows: 2000 })
    // 7 buffers of 3 blocks: each buffer is overwritten by the next, after its batches were handed out
    const shuffle = { blockRows: 500, bufferBlocks: 3, seed: 4 }
    const batches = [...streamBatches(table, { batchSize: 300, shuffle })]
    const got = batches.flatMap(rowsOfBatch)
    const expected = Array.from(blockBufferOrder(ROWS, shuffle), (r) => rowOf(mem, r))
    assert.deepEqual(got, expected)
  })

  it('reopens a complete entry instead of encoding again', async () => {
    const dir = join(root, 'cache', 'b')
    await encodeToDisk(prep, [file], dir, { pieceRows: 4096 })
    const again = await encodeToDisk(prep, [file], dir)
    assert.equal(again.hit, true)
    assert.deepEqual(
      rowsOfBatch(again.table.read(4000, 4100).all()),
      Array.from({ length: 100 }, (_, i) => rowOf(memory, 4000 + i)),
    )
  })
})

function mean(a: Float32Array): number {
  let s = 0
  for (const v of a) s += v
  return s / a.length
}
