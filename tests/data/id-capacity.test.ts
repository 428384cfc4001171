import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect, queryObjects, sqlString } from '../../src/data/duck.js'
import { encodeDataset } from '../../src/data/encode.js'
import { fitPreprocessing } from '../../src/data/preprocessing.js'
import { parseDatasetSchema } from '../../src/data/schema.js'
import { encodeRows } from '../../src/data/encode-rows.js'
import { hashBucket } from '../../src/data/id-hash.js'
import { inputSpecOf } from '../../src/data/preprocessing.js'

const root = mkdtempSync(join(tmpdir(), 'resflow-capacity-'))
after(() => rmSync(root, { recursive: true, force: true }))
const train = join(root, 'train.parquet')
const test = join(root, 'test.parquet')

before(async () => {
  const conn = await connect()
  // item: skewed over 0..999 (popular ids small), plus ids near 2^40 only in the test file
  for (const [file, big] of [
    [train, false],
    [test, true],
  ] as const) {
    await conn.run(`COPY (SELECT CASE WHEN ${big} AND i % 10 = 0 THEN 1099511627776 + i ELSE floor(1000 * pow((hash(i, ${big ? 2 : 1}) % 100000) / 100000.0, 2))::BIGINT END AS item,
      (hash(i * 5) % 10 = 0)::INTEGER AS click FROM range(20000) t(i)) TO ${sqlString(file)} (FORMAT parquet)`)
  }
  conn.closeSync()
})

const schemaWith = (item: Record<string, unknown>) =>
  parseDatasetSchema(
    { format: 'parquet', sparse: [{ name: 'item', ...item }], tasks: [{ name: 'click' }] },
    'capacity test',
  )

describe('embedding capacity (sparse capacity / hashBuckets)', () => {
  it('keeps the most frequent ids, hashes the rest into the buckets, and counts the hashed rows', async () => {
    const prep = await fitPreprocessing(schemaWith({ capacity: 50, hashBuckets: 10 }), [train])
    const f = prep.sparse[0]
    const conn = await connect()
    const counts = (
      await queryObjects(
        conn,
        `SELECT item::VARCHAR AS v, count(*)::DOUBLE AS c FROM read_parquet(${sqlString(train)}) GROUP BY item ORDER BY c DESC, v`,
      )
    ).map((r) => ({ v: String(r.v), c: Number(r.c) }))
    // 50 rows = id 0 + 39 own values + 10 buckets
    assert.deepEqual(
      f.vocab,
      counts.slice(0, 39).map((e) => e.v),
    )
    assert.equal(f.evicted, counts.length - 39)
    assert.equal(inputSpecOf(prep).sparse[0].vocabSize, 50)
    for (const [file, name] of [
      [train, 'train'],
      [test, 'test'],
    ] as const) {
      const ds = await encodeDataset(prep, [file])
      const own = new Set(f.vocab)
      const values = (await queryObjects(conn, `SELECT item::VARCHAR AS v FROM read_parquet(${sqlString(file)})`)).map(
        (r) => String(r.v),
      )
      const expectHashed = values.filter((v) => !own.has(v)).length
      assert.equal(ds.report.hashed?.item, expectHashed, name)
      const ids = ds.columns.sparse.item
      values.forEach((v, i) => {
        const want = own.has(v) ? f.vocab.indexOf(v) + 1 : 40 + hashBucket(Number(v), 10)
        assert.equal(ids[i], want, `${name} row ${i} item ${v}`)
      })
      // serving maps every value to the same row
      const served = encodeRows(
        prep,
        values.slice(0, 500).map((v) => ({ item: v })),
      )
      assert.deepEqual([...served.sparse.item], [...ids.subarray(0, 500)])
    }
    conn.closeSync()
  })

  it('without hashBuckets sends the ids beyond the capacity to id 0', async () => {
    const prep = await fitPreprocessing(schemaWith({ capacity: 20 }), [train])
    const ds = await encodeDataset(prep, [train])
    assert.equal(prep.sparse[0].vocab.length, 19)
    assert.equal(ds.report.hashed, undefined)
    const own = new Set(prep.sparse[0].vocab.map(Number))
    assert.ok(ds.columns.sparse.item.every((id) => id >= 0 && id < 20))
    assert.ok(
      ds.columns.sparse.item.some((id) => id === 0),
      'some rows are beyond the capacity',
    )
    assert.ok(own.size === 19)
  })

  it('refuses hashBuckets that leave no room, naming the field', () => {
    assert.throws(() => schemaWith({ capacity: 10, hashBuckets: 9 }), /hashBuckets/)
  })
})
