/**
 * Twin-tower pre-ranking latency, in process (no HTTP): `node --import tsx bench/prerank.ts` (about 20 s).
 *
 * Builds a resflow-twin run with the default config (towers 128/64, vectorDim 32, embedding dim 16; the
 * synthetic funnel's schema and fitted preprocessing; weights at their seeded initial values, which do not
 * change the cost), an item store of --items synthetic item rows (load time reported), then times
 * `PreRanker.rank(context, ids, k)` for --candidates ids drawn from the store per request: encode the
 * context, one user-tower run, the dot products and composition for every candidate, fusion, top-k.
 * Reports p50/p99/mean over --requests requests (after 50 warm-up ones) and the machine load; the target
 * is p99 ≤ 5 ms for 10,000 candidates.
 *
 * Options: --items N (default 50000), --candidates N (10000), --requests N (500), --k N (100), --tasks N (2).
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import type { Preprocessing } from '../src/data/preprocessing.js'
import { generateSynthetic } from '../src/data/synth.js'
import { loadDatasetSchema } from '../src/data/schema.js'
import { Rng } from '../src/engine/rng.js'
import type { RawRow } from '../src/export/codec.js'
import { loadPreRanker } from '../src/serve/prerank.js'
import { writeSeededRun } from './seeded-run.js'

const { values } = parseArgs({
  options: {
    items: { type: 'string', default: '50000' },
    candidates: { type: 'string', default: '10000' },
    requests: { type: 'string', default: '500' },
    k: { type: 'string', default: '100' },
    tasks: { type: 'string', default: '2' },
  },
})
const ITEMS = Number(values.items)
const CANDIDATES = Number(values.candidates)
const REQUESTS = Number(values.requests)
const K = Number(values.k)
const TASKS = (
  { 1: ['click'], 2: ['click', 'purchase'], 3: ['click', 'cart', 'purchase'] } as Record<string, string[]>
)[values.tasks]
if (!TASKS) throw new Error(`--tasks: expected 1, 2 or 3, got ${values.tasks}`)
const WARMUP = 50
const TARGET_P99_MS = 5
const LOAD_BEFORE = loadavg()[0]

async function makeRun(dir: string): Promise<Preprocessing> {
  const data = await generateSynthetic({ outDir: join(dir, 'data'), rows: 20_000, seed: 1, tasks: TASKS })
  return writeSeededRun(join(dir, 'run'), loadDatasetSchema(data.schemaFile), [data.files.train], 'resflow-twin')
}

/** Raw values of one side's columns, drawn from the vocabularies (5% unseen); numbers uniform. */
function rawValues(prep: Preprocessing, side: 'user' | 'item', rng: Rng): Record<string, string | number> {
  const on = (f: { side?: string }) => (f.side ?? 'user') === side
  const out: Record<string, string | number> = {}
  for (const f of prep.sparse.filter(on)) {
    const v = rng.next() < 0.05 ? 'unseen' : f.vocab[rng.int(f.vocab.length)]
    out[f.column] = f.valueType === 'int' && v !== 'unseen' ? Number(v) : v
  }
  for (const f of [...prep.dense, ...prep.buckets].filter(on)) out[f.column] = Math.round(rng.next() * 1000) / 10
  return out
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]
}

const dir = mkdtempSync(join(tmpdir(), 'resflow-bench-prerank-'))
try {
  const prep = await makeRun(dir)
  const rng = new Rng(7)
  // item rows keyed by a separate store key, so the store can be larger than the item vocabulary
  const items: RawRow[] = Array.from({ length: ITEMS }, (_, i) => ({ sku: i, ...rawValues(prep, 'item', rng) }))
  const t0 = performance.now()
  const ranker = await loadPreRanker(join(dir, 'run'), items, { itemKey: 'sku' })
  const loadMs = performance.now() - t0
  const contexts = Array.from({ length: 64 }, () => rawValues(prep, 'user', rng))
  const idLists = Array.from({ length: 16 }, () => Array.from({ length: CANDIDATES }, () => rng.int(ITEMS)))

  const times: number[] = []
  // CPU time of this process per request (all its threads): the work itself, without the time spent
  // waiting for a core, which on a loaded machine is most of the tail
  const cpuTimes: number[] = []
  let checksum = 0
  for (let r = 0; r < WARMUP + REQUESTS; r++) {
    const cpu = process.cpuUsage()
    const start = performance.now()
    const { hits } = await ranker.rank(contexts[r % contexts.length], idLists[r % idLists.length], K)
    const ms = performance.now() - start
    const used = process.cpuUsage(cpu)
    checksum += hits[0].score
    if (r >= WARMUP) {
      times.push(ms)
      cpuTimes.push((used.user + used.system) / 1000)
    }
  }
  // where the time goes: the user tower alone (encode + one run)
  const userTimes: number[] = []
  for (let r = 0; r < 200; r++) {
    const start = performance.now()
    await ranker.userVectors(contexts[r % contexts.length])
    userTimes.push(performance.now() - start)
  }
  await ranker.release()

  times.sort((a, b) => a - b)
  userTimes.sort((a, b) => a - b)
  cpuTimes.sort((a, b) => a - b)
  const mean = times.reduce((a, b) => a + b, 0) / times.length
  const p99 = quantile(times, 0.99)
  const c = ranker.composition
  console.log(
    `resflow-twin pre-rank, in process: ${c.tasks.length} tasks (${c.nodes.map((n) => n.task).join(' → ')}), vectorDim ${c.vectorDim}, towers 128/64, embedding dim 16`,
  )
  console.log(
    `item store: ${ITEMS} items, vectors computed in ${loadMs.toFixed(0)} ms (incl. export and session compile) = ${((ITEMS * c.tasks.length * c.vectorDim * 4) / 2 ** 20).toFixed(1)} MiB`,
  )
  console.log(`per request: ${CANDIDATES} candidate ids, top ${K}; ${REQUESTS} requests after ${WARMUP} warm-up`)
  console.log(
    `  latency ms: min ${times[0].toFixed(2)}  p50 ${quantile(times, 0.5).toFixed(2)}  p99 ${p99.toFixed(2)}  mean ${mean.toFixed(2)}  max ${times[times.length - 1].toFixed(2)}  → ${((CANDIDATES * 1000) / mean / 1e6).toFixed(2)} M candidates/s`,
  )
  console.log(
    `  CPU time per request (process, all threads): p50 ${quantile(cpuTimes, 0.5).toFixed(2)} ms  p99 ${quantile(cpuTimes, 0.99).toFixed(2)} ms`,
  )
  console.log(
    `  of which the user tower (encode + run): p50 ${quantile(userTimes, 0.5).toFixed(2)} ms  p99 ${quantile(userTimes, 0.99).toFixed(2)} ms`,
  )
  console.log(
    `  target p99 ≤ ${TARGET_P99_MS} ms: ${p99 <= TARGET_P99_MS ? 'met' : 'NOT met'}  (checksum ${checksum.toFixed(4)})`,
  )
  console.log(
    `machine: ${cpus().length} × ${cpus()[0]?.model ?? '?'}; load average (1 min) ${LOAD_BEFORE.toFixed(2)} before, ${loadavg()[0].toFixed(2)} after`,
  )
  console.log(`command: node --import tsx bench/prerank.ts ${process.argv.slice(2).join(' ')}`.trimEnd())
} finally {
  rmSync(dir, { recursive: true, force: true })
}
