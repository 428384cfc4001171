/**
 * Data throughput: a 1M-row, 82-column AliExpress-like file (16 id columns, 63 numbers, 2 labels, a query id)
 * in CSV and Parquet → fitted preprocessing → encoded typed columns (first pass) → shuffled batches of
 * 1024 (later epochs, from the in-memory encoded columns). Command: `npm run bench:data` (ROWS=… to change size).
 */
import { existsSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { connect, sqlString } from '../src/data/duck.js'
import { encodeDataset, fitPreprocessing, parseDatasetSchema } from '../src/data/index.js'
import { aliexpressSchema } from '../src/data/adapters.js'

const rows = Number(process.env.ROWS ?? 1_000_000)
const dir = join('.cache', 'bench-data')
mkdirSync(dir, { recursive: true })
const parquet = join(dir, `aliexpress-like-${rows}.parquet`)
const csv = join(dir, `aliexpress-like-${rows}.csv`)

const conn = await connect()
if (!existsSync(parquet) || !existsSync(csv)) {
  const cats = Array.from({ length: 16 }, (_, i) => `(hash(i * ${i + 7}) % ${[3, 10, 100, 1000, 50000][i % 5]})::INTEGER AS categorical_${i + 1}`).join(', ')
  const nums = Array.from({ length: 63 }, (_, i) => `round((hash(i + ${i * 13}) % 100000) / 100000.0, 5)::DOUBLE AS numerical_${i + 1}`).join(', ')
  const click = `(hash(i * 3) % 100 < 3)`
  await conn.run(`COPY (SELECT (i // 20)::BIGINT AS search_id, ${cats}, ${nums}, ${click}::INTEGER AS click, (${click} AND hash(i * 5) % 100 < 10)::INTEGER AS conversion FROM range(${rows}) t(i)) TO ${sqlString(parquet)} (FORMAT parquet)`)
  await conn.run(`COPY (SELECT * FROM read_parquet(${sqlString(parquet)})) TO ${sqlString(csv)} (HEADER)`)
}

const rate = (n: number, ms: number) => `${Math.round((n / ms) * 1000).toLocaleString('en-US')} rows/s`
const results: string[] = []
for (const [format, file] of [['parquet', parquet], ['csv', csv]] as const) {
  const schema = parseDatasetSchema({ ...aliexpressSchema(), format }, 'bench')
  let t = performance.now()
  const prep = await fitPreprocessing(schema, [file], { conn })
  const fitMs = performance.now() - t
  t = performance.now()
  const ds = await encodeDataset(prep, [file], { conn })
  const encMs = performance.now() - t
  t = performance.now()
  let seen = 0
  const epochs = 3
  for (let e = 0; e < epochs; e++) for (const b of ds.batches(1024, { shuffle: true, seed: e, reuseBuffers: true })) seen += b.size
  const epochMs = performance.now() - t
  t = performance.now()
  let seenFresh = 0
  for (const b of ds.batches(1024, { shuffle: true, seed: 9 })) seenFresh += b.size
  const freshMs = performance.now() - t
  t = performance.now()
  let seenViews = 0
  for (const b of ds.batches(1024)) seenViews += b.size
  const viewMs = performance.now() - t
  results.push(
    `${format}: fit ${(fitMs / 1000).toFixed(1)} s (${rate(rows, fitMs)}); first pass encode ${(encMs / 1000).toFixed(1)} s (${rate(ds.rows, encMs)}); fit+encode ${rate(rows, fitMs + encMs)}`,
    `${format}: cached epochs, shuffled, reused buffers ${rate(seen, epochMs)}; shuffled, fresh buffers ${rate(seenFresh, freshMs)}; in order (views) ${rate(seenViews, viewMs)}`,
  )
  console.log(results.slice(-2).join('\n'))
}
conn.closeSync()
console.log(`\nbench/data.ts, ${rows} rows × 82 columns, ${new Date().toISOString()}, node ${process.version}`)
