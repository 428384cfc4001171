/**
 * Data throughput: a 1M-row, 82-column AliExpress-like file (16 id columns, 63 numbers, 2 labels, a query id)
 * in CSV and Parquet → fitted preprocessing → encoded typed columns (first pass, written to the on-disk cache)
 * → reading the cache back (a later run) → shuffled batches of 2048 (later epochs): full shuffle and block
 * shuffle (blockSize 128). Command: `npm run bench:data` (ROWS=… to change size).
 *
 * Loading share of an epoch: a ResFlow-sized training step at B=2048 takes ~35–45 ms on this machine, about
 * 50k rows/s, so a loader at R rows/s takes 50k / (R + 50k) of an epoch when it does not overlap the step.
 */
import { existsSync, mkdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { connect, sqlString } from '../src/data/duck.js'
import { encodeDataset } from '../src/data/encode.js'
import { fitPreprocessing } from '../src/data/preprocessing.js'
import { parseDatasetSchema } from '../src/data/schema.js'
import { aliexpressSchema } from '../src/data/adapters.js'

const rows = Number(process.env.ROWS ?? 1_000_000)
const dir = join('.cache', 'bench-data')
mkdirSync(dir, { recursive: true })
const parquet = join(dir, `aliexpress-like-${rows}.parquet`)
const csv = join(dir, `aliexpress-like-${rows}.csv`)

const conn = await connect()
if (!existsSync(parquet) || !existsSync(csv)) {
  const cats = Array.from(
    { length: 16 },
    (_, i) => `(hash(i * ${i + 7}) % ${[3, 10, 100, 1000, 50000][i % 5]})::INTEGER AS categorical_${i + 1}`,
  ).join(', ')
  const nums = Array.from(
    { length: 63 },
    (_, i) => `round((hash(i + ${i * 13}) % 100000) / 100000.0, 5)::DOUBLE AS numerical_${i + 1}`,
  ).join(', ')
  const click = `(hash(i * 3) % 100 < 3)`
  await conn.run(
    `COPY (SELECT (i // 20)::BIGINT AS search_id, ${cats}, ${nums}, ${click}::INTEGER AS click, (${click} AND hash(i * 5) % 100 < 10)::INTEGER AS conversion FROM range(${rows}) t(i)) TO ${sqlString(parquet)} (FORMAT parquet)`,
  )
  await conn.run(`COPY (SELECT * FROM read_parquet(${sqlString(parquet)})) TO ${sqlString(csv)} (HEADER)`)
}

const rate = (n: number, ms: number) => `${Math.round((n / ms) * 1000).toLocaleString('en-US')} rows/s`
const TRAIN_ROWS_PER_S = 50_000 // ResFlow-sized step at B=2048: ~35–45 ms
const share = (n: number, ms: number) =>
  `${((100 * TRAIN_ROWS_PER_S) / ((n / ms) * 1000 + TRAIN_ROWS_PER_S)).toFixed(1)}% of an epoch`
const cacheDir = join(dir, 'encoded-cache')
rmSync(cacheDir, { recursive: true, force: true })
const B = 2048
const results: string[] = []
for (const [format, file] of [
  ['parquet', parquet],
  ['csv', csv],
] as const) {
  const schema = parseDatasetSchema({ ...aliexpressSchema(), format }, 'bench')
  let t = performance.now()
  const prep = await fitPreprocessing(schema, [file], { conn })
  const fitMs = performance.now() - t
  t = performance.now()
  const first = await encodeDataset(prep, [file], { conn, cacheDir })
  const encMs = performance.now() - t
  t = performance.now()
  const ds = await encodeDataset(prep, [file], { conn, cacheDir })
  const loadMs = performance.now() - t
  if (!ds.report.cache?.hit || ds.rows !== first.rows) throw new Error('bench: the second encode did not hit the cache')
  const epochs = (blockSize: number, reuseBuffers: boolean, count: number) => {
    const t0 = performance.now()
    let seen = 0
    for (let e = 0; e < count; e++)
      for (const b of ds.batches(B, { shuffle: true, seed: e, reuseBuffers, blockSize })) seen += b.size
    return [seen, performance.now() - t0] as const
  }
  const [full, fullMs] = epochs(1, true, 3)
  const [block, blockMs] = epochs(128, true, 3)
  const [fresh, freshMs] = epochs(128, false, 1)
  t = performance.now()
  let seenViews = 0
  for (const b of ds.batches(B)) seenViews += b.size
  const viewMs = performance.now() - t
  results.push(
    `${format}: fit ${(fitMs / 1000).toFixed(1)} s (${rate(rows, fitMs)}); first pass encode + cache write ${(encMs / 1000).toFixed(1)} s (${rate(ds.rows, encMs)}); fit+encode ${rate(rows, fitMs + encMs)}; cache read ${(loadMs / 1000).toFixed(2)} s (${rate(ds.rows, loadMs)})`,
    `${format}: cached epochs, B=${B}, reused buffers: full shuffle ${rate(full, fullMs)} (${share(full, fullMs)}); block shuffle 128 ${rate(block, blockMs)} (${share(block, blockMs)}); block 128 fresh buffers ${rate(fresh, freshMs)}; in order (views) ${rate(seenViews, viewMs)}`,
  )
  console.log(results.slice(-2).join('\n'))
}
conn.closeSync()
rmSync(cacheDir, { recursive: true, force: true }) // ~0.6 GB of column files per format
console.log(`\nbench/data.ts, ${rows} rows × 82 columns, ${new Date().toISOString()}, node ${process.version}`)
