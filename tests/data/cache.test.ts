import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect, sqlString } from '../../src/data/duck.js'
import { encodeDataset } from '../../src/data/encode.js'
import { fitPreprocessing } from '../../src/data/preprocessing.js'
import { openDataset } from '../../src/data/adapters.js'
import { parseDatasetSchema } from '../../src/data/schema.js'
import { CLICK_BUY_COLUMNS_SQL, CLICK_BUY_FIELDS } from '../helpers/click-buy-table.js'

const root = mkdtempSync(join(tmpdir(), 'resflow-cache-'))
after(() => rmSync(root, { recursive: true, force: true }))
const data = join(root, 'data')
const csv = join(data, 'train.csv')
const rows = 120_000

const schema = parseDatasetSchema(CLICK_BUY_FIELDS, 'cache test schema')

before(async () => {
  mkdirSync(data)
  const conn = await connect()
  // deterministic, funnel-consistent rows (buy only after click)
  await conn.run(`COPY (SELECT 'u' || (hash(i) % 5000) AS user, (hash(i * 7) % 800)::INTEGER AS item,
    ${CLICK_BUY_COLUMNS_SQL}
    FROM range(${rows}) t(i)) TO ${sqlString(csv)} (HEADER)`)
  conn.closeSync()
})

const time = async <T>(fn: () => Promise<T>): Promise<[T, number]> => {
  const t = performance.now()
  const out = await fn()
  return [out, performance.now() - t]
}

describe('encoded on-disk cache', () => {
  it('reads the second pass from the column files, identical and much faster', async () => {
    const cacheDir = join(root, 'cache-a')
    const prep = await fitPreprocessing(schema, [csv])
    const [first, missMs] = await time(() => encodeDataset(prep, [csv], { cacheDir }))
    assert.equal(first.report.cache?.hit, false)
    const [second, hitMs] = await time(() => encodeDataset(prep, [csv], { cacheDir }))
    assert.equal(second.report.cache?.hit, true)
    assert.equal(second.report.cache?.dir, first.report.cache?.dir)
    assert.equal(second.rows, first.rows)
    assert.deepEqual(second.columns, first.columns)
    assert.deepEqual({ ...second.report, cache: undefined }, { ...first.report, cache: undefined })
    assert.ok(hitMs < missMs / 3, `cache hit ${hitMs.toFixed(0)} ms vs first pass ${missMs.toFixed(0)} ms`)
    // batches from the cached columns equal those from the encoded ones
    const a = [...first.batches(4096, { shuffle: true, seed: 3 })].map((b) => [...b.labels.click])
    const b = [...second.batches(4096, { shuffle: true, seed: 3 })].map((b) => [...b.labels.click])
    assert.deepEqual(b, a)
  })

  it('rebuilds when a data file is touched or the preprocessing changes', async () => {
    const cacheDir = join(root, 'cache-b')
    const prep = await fitPreprocessing(schema, [csv])
    const first = await encodeDataset(prep, [csv], { cacheDir })
    assert.equal((await encodeDataset(prep, [csv], { cacheDir })).report.cache?.hit, true)

    const later = new Date(Date.now() + 5000)
    utimesSync(csv, later, later)
    const touched = await encodeDataset(prep, [csv], { cacheDir })
    assert.equal(touched.report.cache?.hit, false)
    assert.notEqual(touched.report.cache?.dir, first.report.cache?.dir)

    const refit = await fitPreprocessing(
      parseDatasetSchema({ ...schema, sparse: [{ name: 'user', minCount: 50 }, { name: 'item' }] }, 'refit'),
      [csv],
    )
    const changed = await encodeDataset(refit, [csv], { cacheDir })
    assert.equal(changed.report.cache?.hit, false)
    assert.equal((await encodeDataset(refit, [csv], { cacheDir })).report.cache?.hit, true)
    assert.equal(readdirSync(join(cacheDir, 'encoded')).filter((d) => !d.includes('.tmp')).length, 3)
  })

  it('rebuilds an incomplete entry instead of reading it', async () => {
    const cacheDir = join(root, 'cache-c')
    const prep = await fitPreprocessing(schema, [csv])
    const first = await encodeDataset(prep, [csv], { cacheDir })
    const dir = first.report.cache!.dir
    const col = readdirSync(dir).find((f) => f.endsWith('-dense.bin'))!
    writeFileSync(join(dir, col), new Uint8Array(12)) // truncated column file
    const again = await encodeDataset(prep, [csv], { cacheDir })
    assert.equal(again.report.cache?.hit, false)
    assert.deepEqual(again.columns.dense, first.columns.dense)
  })

  it('openDataset with cache: the second open skips fitting and encoding', async () => {
    const cacheDir = join(root, 'cache-d')
    const [a, missMs] = await time(() =>
      openDataset({ dataset: 'csv', path: data, schema: schemaFile(), cache: true, cacheDir }),
    )
    const [b, hitMs] = await time(() =>
      openDataset({ dataset: 'csv', path: data, schema: schemaFile(), cache: true, cacheDir }),
    )
    assert.equal(a.train.report.cache?.hit, false)
    assert.equal(b.train.report.cache?.hit, true)
    assert.deepEqual(b.prep, JSON.parse(JSON.stringify(a.prep)))
    assert.ok(hitMs < missMs / 3, `second open ${hitMs.toFixed(0)} ms vs first ${missMs.toFixed(0)} ms`)
  })
})

function schemaFile(): string {
  const f = join(root, 'schema.json')
  writeFileSync(f, JSON.stringify({ ...schema, format: 'csv' }))
  return f
}
