/**
 * Training at scale: AliExpress-like data (`resflow datagen --width aliexpress`: 16 categorical incl. a 1M-value
 * id field, 63 numeric, click → purchase) at 1M and 20M rows, one epoch of `resflow train` in a child process,
 * within a memory budget. Prints per run: rows, peak RSS of the training process (GNU time's maximum resident
 * set), first-pass rows/s (encode + cache), epoch samples/s, and the ratio of each epoch rate to the smallest
 * run's.
 *
 *   npm run bench:scale                                  # 1M rows
 *   npm run bench:scale -- --rows 1000000,20000000       # 20M takes a long while (datagen ≈ 15 min, epoch ≈ 10 min)
 *   npm run bench:scale -- --workers 1,2                 # passes --workers N to train (the `workers` config key)
 *   options: --budget-mb 4096 (data.memoryBudgetMB), --data DIR (default .cache/scale), --json FILE, --epochs 1
 *
 * Data is generated once per row count into DIR/wide-<rows> (reused after); every run gets a fresh encoded
 * cache (RESFLOW_CACHE_DIR), so the first pass is measured each time.
 */
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'

const { values } = parseArgs({
  options: {
    rows: { type: 'string', default: '1000000' },
    workers: { type: 'string' },
    'budget-mb': { type: 'string', default: '4096' },
    data: { type: 'string', default: join('.cache', 'scale') },
    json: { type: 'string' },
    epochs: { type: 'string', default: '1' },
    batch: { type: 'string', default: '2048' },
  },
})
const rowCounts = values.rows.split(',').map(Number)
const workerCounts = values.workers ? values.workers.split(',').map(Number) : [undefined]
const budgetMb = Number(values['budget-mb'])
for (const n of [...rowCounts, budgetMb, ...workerCounts.filter((w) => w !== undefined)]) {
  if (!Number.isInteger(n) || n < 1)
    throw new Error(`bench:scale: expected positive integers, got ${JSON.stringify(values)}`)
}
const dataRoot = resolve(values.data)
mkdirSync(dataRoot, { recursive: true })
const cli = ['--import', 'tsx', resolve('src/cli/main.ts')]
const hasTime = existsSync('/usr/bin/time')

interface Result {
  rows: number
  trainRows: number
  workers: number
  budgetMb: number
  streamed: boolean
  peakRssMb: number | null
  firstPassRowsPerS: number | null
  epochSamplesPerS: number
  valAuc: Record<string, number>
  seconds: number
  /** the child's data: lines (phases, with the process RSS and peak after each) */
  dataLog: string[]
}

function ensureData(rows: number): string {
  const dir = join(dataRoot, `wide-${rows}`)
  if (existsSync(join(dir, 'schema.json'))) return dir
  console.error(`bench:scale: generating ${rows} rows into ${dir} ...`)
  const t0 = performance.now()
  const r = spawnSync(
    process.execPath,
    [...cli, 'datagen', '--out', dir, '--rows', String(rows), '--width', 'aliexpress'],
    { stdio: 'inherit' },
  )
  if (r.status !== 0) throw new Error(`bench:scale: datagen failed (${r.status})`)
  console.error(`bench:scale: generated in ${((performance.now() - t0) / 1000).toFixed(0)} s`)
  return dir
}

function trainOnce(rows: number, workers: number | undefined): Result {
  const dir = ensureData(rows)
  const work = mkdtempSync(join(dataRoot, 'run-'))
  const config = join(work, 'experiment.yaml')
  writeFileSync(
    config,
    `name: scale
data: { dataset: synthetic, dir: ${dir} }
model: { model: resflow, embeddingDim: 8, towers: [64, 32] }
optimizer: { kind: adam, lr: 0.001 }
sparseOptimizer: { kind: adam, lr: 0.001 }
epochs: ${Number(values.epochs)}
batchSize: ${Number(values.batch)}
earlyStopping: { metric: mean-auc, patience: 2 }
seed: 1
`,
  )
  const runDir = join(work, 'run')
  const args = [
    ...cli,
    'train',
    '--config',
    config,
    '--out',
    runDir,
    '--memory-budget-mb',
    String(budgetMb),
    ...(workers !== undefined ? ['--workers', String(workers)] : []),
  ]
  const t0 = performance.now()
  // GNU time reports the child's maximum resident set size (kB) on its last stderr line
  const r = hasTime
    ? spawnSync('/usr/bin/time', ['-f', 'peak-rss-kb %M', process.execPath, ...args], {
        encoding: 'utf8',
        env: { ...process.env, RESFLOW_CACHE_DIR: join(work, 'cache') },
        maxBuffer: 1 << 26,
      })
    : spawnSync(process.execPath, args, {
        encoding: 'utf8',
        env: { ...process.env, RESFLOW_CACHE_DIR: join(work, 'cache') },
        maxBuffer: 1 << 26,
      })
  const seconds = (performance.now() - t0) / 1000
  const stderr = r.stderr ?? ''
  if (r.status !== 0) throw new Error(`bench:scale: train failed (${r.status}):\n${stderr.slice(-4000)}`)
  const rss = /peak-rss-kb (\d+)/.exec(stderr)
  const pass =
    /train: first pass encoded \d+ rows in [\d.]+s \((\d+) rows\/s\)|first pass encoded \d+ training rows in [\d.]+s \((\d+) rows\/s\)/.exec(
      stderr,
    )
  const log = readFileSync(join(runDir, 'log.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { rows: number; samplesPerSecond: number; valAuc: Record<string, number> })
  const last = log[log.length - 1]
  rmSync(work, { recursive: true, force: true })
  return {
    rows,
    trainRows: last.rows,
    workers: workers ?? 1,
    budgetMb,
    streamed: /streaming them from the on-disk cache/.test(stderr),
    peakRssMb: rss ? Math.round(Number(rss[1]) / 1024) : null,
    firstPassRowsPerS: pass ? Number(pass[1] ?? pass[2]) : null,
    epochSamplesPerS: Math.round(log.reduce((s, e) => s + e.samplesPerSecond, 0) / log.length),
    valAuc: last.valAuc,
    seconds: Math.round(seconds),
    dataLog: stderr.split(/[\r\n]+/).filter((l) => l.startsWith('data:')),
  }
}

const results: Result[] = []
for (const rows of rowCounts) {
  for (const workers of workerCounts) {
    const res = trainOnce(rows, workers)
    results.push(res)
    console.error(JSON.stringify(res))
  }
}
const base = results[0]
const fmt = (n: number | null) => (n === null ? '-' : n.toLocaleString('en-US'))
console.log(
  `budget ${budgetMb} MB (data.memoryBudgetMB); load average at the end ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`,
)
console.log(
  '| rows | train rows | workers | data | peak RSS MB | first pass rows/s | epoch samples/s | vs first | val AUC click / purchase | wall s |',
)
console.log('|---:|---:|---:|---|---:|---:|---:|---:|---|---:|')
for (const r of results) {
  console.log(
    `| ${fmt(r.rows)} | ${fmt(r.trainRows)} | ${r.workers} | ${r.streamed ? 'streamed' : 'in memory'} | ${fmt(r.peakRssMb)} | ${fmt(r.firstPassRowsPerS)} | ${fmt(r.epochSamplesPerS)} | ${(r.epochSamplesPerS / base.epochSamplesPerS).toFixed(2)} | ${Object.values(
      r.valAuc,
    )
      .map((a) => a.toFixed(4))
      .join(' / ')} | ${r.seconds} |`,
  )
}
if (values.json)
  writeFileSync(
    values.json,
    JSON.stringify(
      { command: `npm run bench:scale -- ${process.argv.slice(2).join(' ')}`, date: new Date().toISOString(), results },
      null,
      2,
    ) + '\n',
  )
