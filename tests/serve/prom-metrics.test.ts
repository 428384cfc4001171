/**
 * /metrics through prom-client: the process' default metrics (process_*, nodejs_* with heap, event-loop lag
 * and GC) and an HTTP latency histogram per route, beside the handler's resflow_* metrics. Requests are
 * injected into the Fastify app, no port opened.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { loadPredictor } from '../../src/export/predictor.js'
import { createHandler } from '../../src/serve/handler.js'
import { ModelSlot } from '../../src/serve/model-slot.js'
import { buildApp } from '../../src/serve/server.js'
import { deps, rawRows, tinyRun } from '../export/fixture.js'

function rankBody(n: number, seed: number): string {
  const rows = rawRows(n, seed)
  const { user, tags, age } = rows[0]!
  return JSON.stringify({ context: { user, tags, age }, candidates: rows.map(({ item, cats, price }) => ({ item, cats, price })) })
}

/** The value of the one sample line `name{labels} value` (labels as written, in prom-client's order). */
function sample(text: string, line: RegExp): number {
  const found = text.split('\n').filter((l) => line.test(l))
  assert.equal(found.length, 1, `one line matching ${line}, got ${found.length}:\n${found.join('\n')}`)
  return Number(found[0]!.split(' ').at(-1))
}

describe('/metrics with prom-client', () => {
  let run: Awaited<ReturnType<typeof tinyRun>>
  let slot: ModelSlot
  let app: ReturnType<typeof buildApp>
  before(async () => {
    run = await tinyRun({ seed: 51, steps: 1 })
    slot = new ModelSlot(await loadPredictor(run.dir, deps), () => loadPredictor(run.dir, deps))
    app = buildApp(createHandler(slot))
  })
  after(async () => {
    await app.close()
    await slot.close()
    await run.session.release()
  })

  const metrics = async () => {
    const res = await app.inject({ method: 'GET', url: '/metrics' })
    assert.equal(res.statusCode, 200)
    assert.match(String(res.headers['content-type']), /^text\/plain; version=0\.0\.4/)
    return res.body
  }
  const rank = async () => {
    const res = await app.inject({ method: 'POST', url: '/v1/rank', headers: { 'content-type': 'application/json' }, payload: rankBody(4, 3) })
    assert.equal(res.statusCode, 200, res.body)
  }

  it('has the default process and Node.js metrics: CPU, heap, event-loop lag, GC', async () => {
    const text = await metrics()
    for (const name of ['process_cpu_user_seconds_total', 'process_resident_memory_bytes', 'nodejs_heap_size_used_bytes', 'nodejs_eventloop_lag_seconds', 'nodejs_eventloop_lag_p99_seconds']) {
      assert.match(text, new RegExp(`^# TYPE ${name} `, 'm'), name)
      assert.match(text, new RegExp(`^${name}(\\{[^}]*\\})? [0-9.e+-]+$`, 'm'), name)
    }
    assert.match(text, /^# TYPE nodejs_gc_duration_seconds histogram$/m)
  })

  it('counts a /v1/rank request in the HTTP latency histogram of its route, every bucket and the count', async () => {
    const line = (suffix: string) => new RegExp(`^http_request_duration_seconds_${suffix}\\{.*route="/v1/rank".*status_code="200".*\\} `)
    const bucket = (le: string) => new RegExp(`^http_request_duration_seconds_bucket\\{le="${le.replace('+', '\\+')}",method="POST",route="/v1/rank",status_code="200"\\} `)
    await rank()
    const before = await metrics()
    assert.match(before, /^# TYPE http_request_duration_seconds histogram$/m)
    const count = sample(before, line('count'))
    const inf = sample(before, bucket('+Inf'))
    assert.equal(inf, count)
    const anyBucket = /^http_request_duration_seconds_bucket\{le="[^"]+",method="POST",route="\/v1\/rank",status_code="200"\} /
    const les = before.split('\n').filter((l) => anyBucket.test(l)).map((l) => /le="([^"]+)"/.exec(l)![1])
    assert.ok(les.length >= 10 && les.at(-1) === '+Inf', `buckets: ${les.join(', ')}`)

    await rank()
    await rank()
    const afterText = await metrics()
    assert.equal(sample(afterText, line('count')), count + 2)
    assert.equal(sample(afterText, bucket('+Inf')), inf + 2)
    assert.ok(sample(afterText, line('sum')) > sample(before, line('sum')))
  })

  it('keeps the handler\'s resflow_* metrics on the same page', async () => {
    await rank()
    const text = await metrics()
    assert.match(text, /^resflow_requests_total\{route="POST \/v1\/rank",status="200"\} \d+$/m)
    assert.match(text, /^resflow_request_duration_seconds_bucket\{route="POST \/v1\/rank",le="\+Inf"\} \d+$/m)
    assert.match(text, /^resflow_candidates_scored_total \d+$/m)
    // the page is one exposition: no metric family declared twice
    const types = text.split('\n').filter((l) => l.startsWith('# TYPE ')).map((l) => l.split(' ')[2])
    assert.equal(new Set(types).size, types.length)
  })
})
