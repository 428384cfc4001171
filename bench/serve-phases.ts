/**
 * Where a /v1/rank request's server time goes, in process: `npm run bench:serve-phases` (about 30 s).
 *
 * The census-width run and item store of bench/serve.ts (census-width.ts), loaded as `resflow serve --items`
 * loads them, and each request body handed to the request handler as the bytes the server reads (no HTTP:
 * the client, loopback and body reading are left out). Per form (rows, columns, ids + context), after a
 * warm-up, reports per request the p50 and p99 of the whole handler call and the mean of each phase
 * (parse, encode, run, sort + serialise, from the handler's phase counters), and which path answered.
 *
 * Options: --requests N per form (default 400), --model NAME (default resflow), --threads N (default 1),
 * --row-split on|off (default on), --forms rows,mixed,columns,ids (which bodies, in which order).
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { createHandler } from '../src/serve/handler.js'
import { loadServed } from '../src/serve/load.js'
import { ModelSlot } from '../src/serve/model-slot.js'
import { censusBodies, censusRun } from './census-width.js'

const { values } = parseArgs({
  options: {
    requests: { type: 'string', default: '400' },
    model: { type: 'string', default: 'resflow' },
    threads: { type: 'string', default: '1' },
    'row-split': { type: 'string', default: 'on' },
    /** the bodies to send, in this order (census-width.ts censusBodies) */
    forms: { type: 'string', default: 'rows,mixed,columns,ids' },
  },
})
const N = Number(values.requests)
const WARMUP = 100

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]
}

const dir = mkdtempSync(join(tmpdir(), 'resflow-bench-phases-'))
try {
  const loadBefore = loadavg()[0]
  const census = await censusRun(dir, values.model)
  const served = await loadServed(join(dir, 'census-run'), {
    threads: Number(values.threads),
    items: { file: census.items, key: 'item_id' },
    rowSplit: values['row-split'] !== 'off',
  })
  const slot = new ModelSlot(served, async () => served)
  const handler = createHandler(slot)
  const bodies = censusBodies(census.prep, 1000)
  console.log(
    `census width, ${values.model} (default config), 1000 candidates, ${values.threads} onnxruntime thread(s), ${N} requests per form after ${WARMUP} warm-up; ${cpus().length} cores, load ${loadBefore.toFixed(1)} before`,
  )
  console.log(
    `command: npm run bench:serve-phases${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}\n`,
  )
  console.log('| form | body KB | handler p50 ms | p99 ms | parse | encode | run | sort + serialise | answered by |')
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---|')
  for (const [form, text] of values.forms.split(',').map((f) => [f, (bodies as Record<string, string>)[f]] as const)) {
    const body = Buffer.from(text)
    const request = { method: 'POST', path: '/v1/rank', body, contentType: 'application/json' }
    const times: number[] = []
    const m = handler.metrics
    let phases = { ...m.phases }
    let counts = { split: m.splitRequests, rows: m.rowSplitRequests }
    for (let i = 0; i < WARMUP + N; i++) {
      if (i === WARMUP) {
        phases = { ...m.phases }
        counts = { split: m.splitRequests, rows: m.rowSplitRequests }
      }
      const t = performance.now()
      const out = await handler.handle(request)
      if (i >= WARMUP) times.push(performance.now() - t)
      if (out.status !== 200) throw new Error(`${form}: ${out.status} ${out.body.slice(0, 200)}`)
    }
    const per = (k: keyof typeof phases) => ((m.phases[k] - phases[k]) / N).toFixed(2)
    const path =
      m.splitRequests > counts.split ? 'item split' : m.rowSplitRequests > counts.rows ? 'row split' : 'full model'
    console.log(
      `| ${form} | ${(body.length / 1024).toFixed(0)} | ${quantile(times, 0.5).toFixed(2)} | ${quantile(times, 0.99).toFixed(2)} | ${per('parse')} | ${per('encode')} | ${per('run')} | ${per('sort')} | ${path} |`,
    )
  }
  await slot.close()
} finally {
  rmSync(dir, { recursive: true, force: true })
}
