/**
 * Integer ids beyond 2^53 (where doubles stop holding every integer) keep their identity: in the fitted
 * vocabulary, in the training encoder, in the serving encoder and in the query groups.
 */
import { after, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DataError } from '../../src/errors.js'
import { connect, sqlString } from '../../src/data/duck.js'
import { encodeDataset } from '../../src/data/encode.js'
import { encodeRows } from '../../src/data/encode-rows.js'
import { fitPreprocessing, loadPreprocessing, savePreprocessing } from '../../src/data/preprocessing.js'
import { parseDatasetSchema } from '../../src/data/schema.js'

const root = mkdtempSync(join(tmpdir(), 'resflow-big-ids-'))
after(() => rmSync(root, { recursive: true, force: true }))

const BASE = 2n ** 62n
/** 100 distinct ids 2^62 + k, each twice; every double near 2^62 is 1024 apart, so all 100 round to one */
const ids = Array.from({ length: 200 }, (_, i) => BASE + BigInt(i % 100))
const schema = parseDatasetSchema(
  { format: 'csv', sparse: [{ name: 'uid' }], dense: [{ name: 'x' }], tasks: [{ name: 'click' }], group: 'uid' },
  'test schema',
)
const csv = join(root, 'train.csv')
writeFileSync(csv, ['uid,x,click', ...ids.map((id, i) => `${id},${i % 7},${i % 3 === 0 ? 1 : 0}`)].join('\n') + '\n')

describe('integer ids above 2^53', () => {
  it('fits an exact integer vocabulary and encodes 100 distinct ids to 100 distinct rows (CSV)', async () => {
    const prep = await fitPreprocessing(schema, [csv])
    const f = prep.sparse[0]
    assert.equal(f.valueType, 'int')
    assert.equal(f.vocab.length, 100)
    assert.ok(f.vocab.includes(String(BASE + 99n)))
    const ds = await encodeDataset(prep, [csv])
    const uid = ds.columns.sparse.uid
    assert.equal(new Set(uid).size, 100)
    for (let i = 0; i < ids.length; i++) assert.equal(f.vocab[uid[i] - 1], String(ids[i]), `row ${i}`)
    // query groups stay apart too (GAUC)
    assert.equal(new Set(ds.columns.group).size, 100)
  })

  it('keeps them apart in a Parquet BIGINT column', async () => {
    const file = join(root, 'train.parquet')
    const conn = await connect()
    await conn.run(
      `COPY (SELECT (${BASE} + i % 100)::BIGINT AS uid, (i % 7)::DOUBLE AS x, (i % 3 = 0)::INTEGER AS click FROM range(200) t(i)) TO ${sqlString(file)} (FORMAT parquet)`,
    )
    conn.closeSync()
    const prep = await fitPreprocessing({ ...schema, format: 'parquet' }, [file])
    const ds = await encodeDataset(prep, [file])
    assert.equal(new Set(ds.columns.sparse.uid).size, 100)
    assert.equal(new Set(ds.columns.group).size, 100)
  })

  it('maps an unseen id that rounds to a known one to id 0, not to the known one', async () => {
    const small = join(root, 'small.csv')
    writeFileSync(small, 'uid,x,click\n9007199254740992,1,0\n5,2,1\n')
    const prep = await fitPreprocessing(schema, [small])
    const val = join(root, 'val.csv')
    writeFileSync(val, 'uid,x,click\n9007199254740993,1,0\n9007199254740992,2,1\n')
    const ds = await encodeDataset(prep, [val])
    assert.deepEqual([...ds.columns.sparse.uid], [0, prep.sparse[0].vocab.indexOf('9007199254740992') + 1])
  })

  it('serving encodes string ids exactly as training does, and refuses a JSON number that lost digits', async () => {
    const file = join(root, 'prep.json')
    savePreprocessing(await fitPreprocessing(schema, [csv]), file)
    const prep = loadPreprocessing(file)
    const ds = await encodeDataset(prep, [csv])
    const rows = ids.slice(0, 100).map((id, i) => ({ uid: String(id), x: i % 7 }))
    const batch = encodeRows(prep, rows)
    assert.deepEqual([...batch.sparse.uid], [...ds.columns.sparse.uid.subarray(0, 100)])
    // the same id written with a leading zero or a plus sign is the same integer
    assert.equal(encodeRows(prep, [{ uid: `+0${BASE + 7n}`, x: 0 }]).sparse.uid[0], batch.sparse.uid[7])
    // a safe integer given as a number is fine; one beyond 2^53 cannot be trusted to be the id that was sent
    assert.throws(
      () => encodeRows(prep, [{ uid: Number(BASE + 5n), x: 0 }]),
      (err: unknown) => {
        assert.ok(err instanceof DataError)
        assert.match(
          err.message,
          /rows\[0\]\.uid: 4611686018427388000 is not an exact integer id \(beyond 2\^53 - 1 a number loses digits\); send the id as a string/,
        )
        assert.equal(err.field, 'rows[0].uid')
        return true
      },
    )
  })
})
