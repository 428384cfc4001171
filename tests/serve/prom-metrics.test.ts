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
import { MODEL_CONFIG, rawRows, tinyRun } from '../export/fixture.js'

function rankBody(n: number, seed: number): string {
  const rows = rawRows(n, seed)
  const { user, tags, age } = rows[0]
  return JSON.stringify({
    context: { user, tags, age },
    candidates: rows.map(({ item, cats, price }) => ({ item, cats, price })),
  })
}

/** The value of the one sample line `name{labels} value` (labels as written, in prom-client's order). */
function sample(text: string, line: RegExp): number {
  const found = text.split('\n').filter((l) => line.test(l))
  assert.equal(found.length, 1, `one line matching ${line}, got ${found.length}:\n${found.join('\n')}`)
  return Number(found[0].split(' ').at(-1))
}

describe('/metrics with prom-client', () => {
  let run: Awaited<ReturnType<typeof tinyRun>>
  let slot: ModelSlot
  let app: ReturnType<typeof buildApp>
  before(async () => {
    run = await tinyRun({ seed: 51, steps: 1 })
    slot = new ModelSlot(await loadPredictor(run.dir), () => loadPredictor(run.dir))
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
    const res = await app.inject({
      method: 'POST',
      url: '/v1/rank',
      headers: { 'content-type': 'application/json' },
      payload: rankBody(4, 3),
    })
    assert.equal(res.statusCode, 200, res.body)
  }

  it('has the default process and Node.js metrics: CPU, heap, event-loop lag, GC', async () => {
    const text = await metrics()
    for (const name of [
      'process_cpu_user_seconds_total',
      'process_resident_memory_bytes',
      'nodejs_heap_size_used_bytes',
      'nodejs_eventloop_lag_seconds',
      'nodejs_eventloop_lag_p99_seconds',
    ]) {
      assert.match(text, new RegExp(`^# TYPE ${name} `, 'm'), name)
      assert.match(text, new RegExp(`^${name}(\\{[^}]*\\})? [0-9.e+-]+$`, 'm'), name)
    }
    assert.match(text, /^# TYPE nodejs_gc_duration_seconds histogram$/m)
  })

  it('counts a /v1/rank request in the HTTP latency histogram of its route, every bucket and the count', async () => {
    const line = (suffix: string) =>
      new RegExp(`^http_request_duration_seconds_${suffix}\\{.*route="/v1/rank".*status_code="200".*\\} `)
    const bucket = (le: string) =>
      new RegExp(
        `^http_request_duration_seconds_bucket\\{le="${le.replace('+', '\\+')}",method="POST",route="/v1/rank",status_code="200"\\} `,
      )
    await rank()
    const before = await metrics()
    assert.match(before, /^# TYPE http_request_duration_seconds histogram$/m)
    const count = sample(before, line('count'))
    const inf = sample(before, bucket('+Inf'))
    assert.equal(inf, count)
    const anyBucket =
      /^http_request_duration_seconds_bucket\{le="[^"]+",method="POST",route="\/v1\/rank",status_code="200"\} /
    const les = before
      .split('\n')
      .filter((l) => anyBucket.test(l))
      .map((l) => /le="([^"]+)"/.exec(l)![1])
    assert.ok(les.length >= 10 && les.at(-1) === '+Inf', `buckets: ${les.join(', ')}`)

    await rank()
    await rank()
    const afterText = await metrics()
    assert.equal(sample(afterText, line('count')), count + 2)
    assert.equal(sample(afterText, bucket('+Inf')), inf + 2)
    assert.ok(sample(afterText, line('sum')) > sample(before, line('sum')))
  })

  it("keeps the handler's resflow_* metrics on the same page", async () => {
    await rank()
    const text = await metrics()
    assert.match(text, /^resflow_requests_total\{route="POST \/v1\/rank",status="200"\} \d+$/m)
    assert.match(text, /^resflow_request_duration_seconds_bucket\{route="POST \/v1\/rank",le="\+Inf"\} \d+$/m)
    assert.match(text, /^resflow_candidates_scored_total \d+$/m)
    // the page is one exposition: no metric family declared twice
    const types = text
      .split('\n')
      .filter((l) => l.startsWith('# TYPE '))
      .map((l) => l.split(' ')[2])
    assert.equal(new Set(types).size, types.length)
  })
})

describe('/metrics: per-model counters and reloads', () => {
  let run: Awaited<ReturnType<typeof tinyRun>>
  let slot: ModelSlot
  let app: ReturnType<typeof buildApp>
  let failNext = false
  before(async () => {
    run = await tinyRun({ seed: 52, steps: 1 })
    slot = new ModelSlot(await loadPredictor(run.dir), async () => {
      if (failNext) throw new Error('injected load failure')
      return loadPredictor(run.dir)
    })
    app = buildApp(createHandler(slot, { admin: {} }), { maxBodyBytes: 64 * 1024 })
  })
  after(async () => {
    await app.close()
    await slot.close()
    await run.session.release()
  })

  const metrics = async () => (await app.inject({ method: 'GET', url: '/metrics' })).body
  const post = (payload: string) =>
    app.inject({ method: 'POST', url: '/v1/rank', headers: { 'content-type': 'application/json' }, payload })
  const reload = () =>
    app.inject({ method: 'POST', url: '/admin/reload', headers: { 'content-type': 'application/json' } })
  /** resflow_model_<what>_total for the served model's name and version. */
  const perModel = (text: string, what: string) => {
    const { model, version } = slot.predictor
    return sample(text, new RegExp(`^resflow_model_${what}_total\\{model="${model}",version="${version}"\\} `))
  }
  const reloads = (text: string, outcome: 'ok' | 'failed') =>
    sample(text, new RegExp(`^resflow_model_reloads_total\\{outcome="${outcome}"\\} `))

  it("starts the served model's counters at 0, declared as counters", async () => {
    const text = await metrics()
    for (const what of ['requests', 'candidates_scored', 'errors']) {
      assert.match(text, new RegExp(`^# TYPE resflow_model_${what}_total counter$`, 'm'))
      assert.equal(perModel(text, what), 0, what)
    }
  })

  it('counts 2 requests and 6 candidates after two /v1/rank requests of 3 candidates, under the served name and version', async () => {
    for (const seed of [1, 2]) assert.equal((await post(rankBody(3, seed))).statusCode, 200)
    const text = await metrics()
    assert.equal(perModel(text, 'requests'), 2)
    assert.equal(perModel(text, 'candidates_scored'), 6)
    assert.equal(perModel(text, 'errors'), 0)
    assert.equal(slot.predictor.model, MODEL_CONFIG.model)
  })

  it('counts a failed request as an error of the served model: a bad body (400) and one too large for the server (413)', async () => {
    const before = await metrics()
    assert.equal((await post('{"context": {}, "candidates": "nope"}')).statusCode, 400)
    const mid = await metrics()
    assert.equal(perModel(mid, 'errors'), perModel(before, 'errors') + 1)
    assert.equal(perModel(mid, 'requests'), perModel(before, 'requests') + 1)
    assert.equal(perModel(mid, 'candidates_scored'), perModel(before, 'candidates_scored'))
    assert.equal((await post('x'.repeat(100 * 1024))).statusCode, 413)
    assert.equal(perModel(await metrics(), 'errors'), perModel(before, 'errors') + 2)
  })

  it('counts reloads by outcome, ok and failed', async () => {
    const before = await metrics()
    assert.equal((await reload()).statusCode, 200)
    const mid = await metrics()
    assert.equal(reloads(mid, 'ok'), reloads(before, 'ok') + 1)
    assert.equal(reloads(mid, 'failed'), reloads(before, 'failed'))
    failNext = true
    try {
      assert.equal((await reload()).statusCode, 500)
    } finally {
      failNext = false
    }
    const afterText = await metrics()
    assert.equal(reloads(afterText, 'failed'), reloads(before, 'failed') + 1)
    assert.equal(reloads(afterText, 'ok'), reloads(before, 'ok') + 1)
    // one exposition still: no metric family declared twice
    const types = afterText
      .split('\n')
      .filter((l) => l.startsWith('# TYPE '))
      .map((l) => l.split(' ')[2])
    assert.equal(new Set(types).size, types.length)
  })
})
