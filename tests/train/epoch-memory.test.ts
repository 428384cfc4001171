/**
 * An epoch's batches are garbage once trained: nothing between the data source and the session holds on to
 * them. A 20M-row streamed epoch (docs/scale.md) grew by its whole encoded size, 5 GB, because the resumable
 * epoch iterator kept every batch it had handed out until the end of the epoch.
 *
 * Reachability is checked with WeakRefs after a forced collection (gc exposed through V8's flags, as the
 * test runner does not pass --expose-gc).
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { streamBatches } from '../../src/data/block-shuffle.js'
import { type DiskTable, encodeToDisk } from '../../src/data/disk-table.js'
import { connect, sqlString } from '../../src/data/duck.js'
import { fitPreprocessing } from '../../src/data/preprocessing.js'
import { parseDatasetSchema } from '../../src/data/schema.js'
import type { Batch } from '../../src/data/types.js'
import { Resumable } from '../../src/train/resumable.js'
import { CLICK_BUY_COLUMNS_SQL, CLICK_BUY_FIELDS } from '../helpers/click-buy-table.js'

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

/** Collects twice, after the current job has ended (WeakRef targets made in a job live until its end). */
async function collect(): Promise<void> {
  await new Promise((resolve) => setImmediate(resolve))
  gc()
  await new Promise((resolve) => setImmediate(resolve))
  gc()
}

function* synthetic(n: number, size = 64): Generator<Batch> {
  for (let i = 0; i < n; i++)
    yield {
      size,
      sparse: {},
      multi: {},
      dense: new Float32Array(size).fill(i),
      labels: { click: new Float32Array(size) },
    }
}

/**
 * Reads `source` as the session does (one batch ahead of the step), keeping a WeakRef to each batch's data;
 * returns before telling the source how many were trained (the trainer does so only at a checkpoint or at
 * the end of the epoch), so the refs show what the source holds during the epoch.
 */
async function drain(
  source: Resumable,
  stopAfter = Number.POSITIVE_INFINITY,
): Promise<{ refs: WeakRef<Float32Array>[]; trained: number }> {
  const refs: WeakRef<Float32Array>[] = []
  const it = source[Symbol.asyncIterator]()
  let cur = await it.next()
  let trained = 0
  while (!cur.done) {
    refs.push(new WeakRef(cur.value.dense))
    const upcoming = await it.next() // read ahead while the step "runs"
    if (++trained === stopAfter) break
    cur = upcoming
  }
  return { refs, trained }
}

const alive = (refs: WeakRef<object>[]) => refs.filter((r) => r.deref() !== undefined).length

describe('an epoch lets go of its trained batches', () => {
  it('the resumable iterator keeps only the last few batches it handed out', async () => {
    const source = new Resumable(synthetic(300))
    const { refs, trained } = await drain(source)
    await collect()
    assert.equal(refs.length, 300)
    assert.ok(alive(refs) <= 8, `${alive(refs)} of 300 trained batches still reachable`)
    source.trained(trained)
  })

  it('still hands out the batch read ahead when training stops, then the rest in order', async () => {
    const source = new Resumable(synthetic(50))
    source.trained((await drain(source, 20)).trained) // 21 handed out, 20 trained
    const rest: number[] = []
    for await (const b of source) rest.push(b.dense[0])
    assert.deepEqual(
      rest,
      Array.from({ length: 30 }, (_, i) => 20 + i),
    )
  })

  it('refuses to hand out again more batches than it kept', async () => {
    const source = new Resumable(synthetic(50))
    for await (const b of source) if (b.dense[0] === 29) break // 30 handed out
    assert.throws(() => source.trained(10), /only the last \d+ are kept/)
  })

  describe('streamed from the on-disk cache', () => {
    const root = mkdtempSync(join(tmpdir(), 'resflow-epoch-memory-'))
    after(() => rmSync(root, { recursive: true, force: true }))
    const ROWS = 20_000
    const tables: Record<string, DiskTable> = {}

    before(async () => {
      const file = join(root, 'train.parquet')
      const conn = await connect()
      await conn.run(`COPY (SELECT (hash(i) % 500)::INTEGER AS user, (hash(i * 7) % 300)::INTEGER AS item,
        ${CLICK_BUY_COLUMNS_SQL} FROM range(${ROWS}) t(i) ORDER BY i) TO ${sqlString(file)} (FORMAT parquet)`)
      conn.closeSync()
      // fixed-size rows (buffers reused, batches copied out) and with a multi-valued feature (new buffers)
      for (const name of ['fixed', 'multi']) {
        const fields = { ...CLICK_BUY_FIELDS, multi: name === 'fixed' ? [] : CLICK_BUY_FIELDS.multi }
        const prep = await fitPreprocessing(parseDatasetSchema({ format: 'parquet', ...fields }, name), [file])
        tables[name] = (await encodeToDisk(prep, [file], join(root, name), { pieceRows: 4096 })).table
      }
    })

    for (const name of ['fixed', 'multi']) {
      it(`${name}: a shuffled epoch's batches are collected as it goes`, async () => {
        const source = new Resumable(
          streamBatches(tables[name], { batchSize: 64, shuffle: { blockRows: 1000, bufferBlocks: 4, seed: 3 } }),
        )
        const { refs } = await drain(source)
        await collect()
        assert.equal(refs.length, Math.ceil(ROWS / 64))
        assert.ok(alive(refs) <= 8, `${alive(refs)} of ${refs.length} batches still reachable`)
        await source.close()
      })
    }
  })
})
