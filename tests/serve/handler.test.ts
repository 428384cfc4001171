import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { RawRow } from '../../src/export/codec.js'
import { loadPredictor } from '../../src/export/predictor.js'
import { type Handler, createHandler } from '../../src/serve/handler.js'
import { ModelSlot } from '../../src/serve/model-slot.js'
import { readRun } from '../../src/run/run-dir.js'
import { MODEL_CONFIG, codec, rawRows, tinyRun } from '../export/fixture.js'

const post = (h: Handler, body: string) => h.handle({ method: 'POST', path: '/v1/rank', body })

/** Splits rows into a context (the user-side features) and candidates (the rest). */
function request(rows: Record<string, unknown>[]) {
  const { user, tags, age } = rows[0]
  return {
    context: { user, tags, age },
    candidates: rows.map(({ item, cats, price }) => ({ item, cats, price })),
  }
}

describe('rank handler', () => {
  let run: Awaited<ReturnType<typeof tinyRun>>
  let slot: ModelSlot
  let handler: Handler
  before(async () => {
    run = await tinyRun({ seed: 21 })
    slot = new ModelSlot(await loadPredictor(run.dir), () => loadPredictor(run.dir))
    handler = createHandler(slot, { limits: { maxCandidates: 50 } })
  })
  after(async () => {
    await slot.close()
    await run.session.release()
  })

  it('scores every candidate as the model predicts the same rows, sorted by fused score', async () => {
    const base = rawRows(40, 3)
    const body = request(base)
    const rows = body.candidates.map((c) => ({ ...body.context, ...c })) as RawRow[]
    const want = await run.session.predict(codec.encode(rows))
    const res = await post(handler, JSON.stringify(body))
    assert.equal(res.status, 200, res.body)
    const { results, version } = JSON.parse(res.body) as {
      results: { index: number; score: number; tasks: Record<string, number> }[]
      version: string
    }
    assert.equal(version, readRun(run.dir).version)
    assert.deepEqual(
      results.map((r) => r.index).sort((a, b) => a - b),
      [...Array(40).keys()],
    )
    for (let k = 1; k < results.length; k++) assert.ok(results[k - 1].score >= results[k].score)
    for (const r of results) {
      assert.ok(Math.abs(r.tasks.click - want.click[r.index]) <= 1e-6)
      assert.ok(Math.abs(r.tasks.purchase - want.purchase[r.index]) <= 1e-6)
      assert.ok(Math.abs(r.score - (want.click[r.index] + 4 * want.purchase[r.index])) <= 1e-6)
    }
  })

  it('writes the response JSON exactly as JSON.stringify of the ranked results', async () => {
    const body = JSON.stringify(request(rawRows(25, 8)))
    assert.equal((await post(handler, body)).body, JSON.stringify(await handler.rank(body)))
  })

  it('maps unknown categorical values to the out-of-vocabulary id, as in training', async () => {
    const cands = [
      { item: 'never-seen', cats: ['nope'], price: 3 },
      { item: 'i0', cats: ['c0'], price: 3 },
    ]
    const res = await handler.rank({ context: { user: 'u1', tags: [], age: 30 }, candidates: cands })
    const [a, b] = [res.results.find((r) => r.index === 0)!, res.results.find((r) => r.index === 1)!]
    assert.equal(a.score, b.score) // "i0" and "c0" are id 0 in the fixture's vocabularies
  })

  const good = JSON.stringify(request(rawRows(3, 1)))
  const bad: [string, string, number, RegExp][] = [
    ['malformed JSON', '{"context": {', 400, /^body: malformed JSON/],
    ['an empty body', '', 400, /^body: empty/],
    ['a body that is not an object', '[1, 2]', 400, /^body: expected a JSON object/],
    [
      'an unknown top-level key',
      '{"candidates": [], "user": 1}',
      400,
      /^body\.user: unknown key \(allowed: context, candidates\)/,
    ],
    ['no candidates key', '{"context": {}}', 400, /^body\.candidates: missing/],
    ['candidates that are neither rows nor columns', '{"candidates": "i1"}', 400, /^body\.candidates: expected a list/],
    [
      'a column that is not a list',
      '{"candidates": {"item": "i1"}}',
      400,
      /^body\.candidates\.item: expected a list of values, one per candidate/,
    ],
    [
      'an empty candidate list',
      '{"context": {}, "candidates": []}',
      400,
      /^body\.candidates: expected at least 1 candidate, got 0/,
    ],
    [
      'too many candidates',
      JSON.stringify({ candidates: Array(51).fill({}) }),
      413,
      /^body\.candidates: 51 candidates, over the limit of 50/,
    ],
    [
      'a candidate that is not an object',
      '{"context": {}, "candidates": [7]}',
      400,
      /^body\.candidates\[0\]: expected an object/,
    ],
    [
      'a missing feature',
      '{"context": {"user": "u1", "tags": [], "age": 3}, "candidates": [{"item": "i1", "cats": []}]}',
      400,
      /^body\.candidates\[0\]\.price: missing feature/,
    ],
    [
      'an unknown feature in context',
      '{"context": {"usr": "u1"}, "candidates": [{}]}',
      400,
      /^body\.context\.usr: unknown feature \(features: user, item, tags, cats, age, price\)/,
    ],
    [
      'an unknown feature in a candidate',
      '{"context": {"user": "u1", "tags": [], "age": 3}, "candidates": [{"item": "i1", "cats": [], "price": 1}, {"itm": 1}]}',
      400,
      /^body\.candidates\[1\]\.itm: unknown feature/,
    ],
    [
      'a feature in both places',
      '{"context": {"user": "u1", "tags": [], "age": 3}, "candidates": [{"user": "u2"}]}',
      400,
      /^body\.candidates\[0\]\.user: also given in context/,
    ],
    [
      'a string for a number',
      '{"context": {"user": "u1", "tags": [], "age": "30"}, "candidates": [{"item": "i1", "cats": [], "price": 1}]}',
      400,
      /^body\.context\.age: expected a finite number, got "30"/,
    ],
    [
      'an object for a category',
      '{"context": {"user": {"id": 1}, "tags": [], "age": 3}, "candidates": [{"item": "i1", "cats": [], "price": 1}]}',
      400,
      /^body\.context\.user: expected a string or a number, got an object/,
    ],
    [
      'a bad list element',
      '{"context": {"user": "u1", "tags": ["t1", true], "age": 3}, "candidates": [{"item": "i1", "cats": [], "price": 1}]}',
      400,
      /^body\.context\.tags\[1\]: expected a string or a number, got boolean/,
    ],
    [
      'null for a number without a fill value',
      '{"context": {"user": null, "tags": null, "age": 3}, "candidates": [{"item": "i1", "cats": [], "price": null}]}',
      400,
      /^body\.candidates\[0\]\.price: expected a value, got null/,
    ],
    [
      'a non-finite number',
      '{"context": {"user": "u1", "tags": [], "age": 3}, "candidates": [{"item": "i1", "cats": [], "price": 1e999}]}',
      400,
      /^body\.candidates\[0\]\.price: expected a finite number, got Infinity/,
    ],
  ]
  for (const [what, body, status, message] of bad) {
    it(`rejects ${what} with ${status} naming the field, then serves the next good request`, async () => {
      const res = await post(handler, body)
      assert.equal(res.status, status, res.body)
      const err = JSON.parse(res.body) as { error: string; field: string }
      assert.match(err.error, message)
      assert.ok(err.error.startsWith(err.field), `field ${err.field} not at the start of "${err.error}"`)
      assert.equal((await post(handler, good)).status, 200)
    })
  }

  it('answers unknown routes with 404 and wrong methods with 405, in the error shape {error, field}', async () => {
    const missing = await handler.handle({ method: 'GET', path: '/v2/rank' })
    assert.equal(missing.status, 404)
    assert.deepEqual(Object.keys(JSON.parse(missing.body)), ['error', 'field'])
    assert.equal(JSON.parse(missing.body).field, 'path')
    const res = await handler.handle({ method: 'GET', path: '/v1/rank' })
    assert.equal(res.status, 405)
    assert.match(res.body, /allowed: POST/)
    assert.equal(JSON.parse(res.body).field, 'method')
  })

  it('reports health and Prometheus metrics (counts, latency histogram, errors)', async () => {
    const health = JSON.parse((await handler.handle({ method: 'GET', path: '/healthz' })).body)
    assert.deepEqual(health, {
      status: 'ok',
      model: MODEL_CONFIG.model,
      version: readRun(run.dir).version,
      tasks: ['click', 'purchase'],
    })
    const text = (await handler.handle({ method: 'GET', path: '/metrics' })).body
    assert.match(text, /^resflow_requests_total\{route="POST \/v1\/rank",status="200"\} \d+$/m)
    assert.match(text, /^resflow_requests_total\{route="POST \/v1\/rank",status="400"\} \d+$/m)
    assert.match(text, /^resflow_request_duration_seconds_bucket\{route="POST \/v1\/rank",le="\+Inf"\} \d+$/m)
    assert.match(text, /^resflow_errors_total\{kind="bad_request"\} \d+$/m)
    assert.match(text, /^resflow_errors_total\{kind="too_large"\} 1$/m)
    assert.match(
      text,
      new RegExp(
        `^resflow_model_info\\{model="${MODEL_CONFIG.model}",version="${readRun(run.dir).version}"\\} 1$`,
        'm',
      ),
    )
  })
})

describe('ModelSlot', () => {
  it('keeps the old version serving when a reload fails, and swaps on success', async () => {
    const a = await tinyRun({ seed: 31, steps: 1 })
    const b = await tinyRun({ seed: 32, steps: 1 })
    let next = 'broken'
    const slot = new ModelSlot(await loadPredictor(a.dir), () =>
      loadPredictor(next === 'broken' ? '/nonexistent' : b.dir),
    )
    const handler = createHandler(slot, { admin: {} })
    const failed = await handler.handle({ method: 'POST', path: '/admin/reload', contentType: 'application/json' })
    assert.equal(failed.status, 500)
    assert.match(failed.body, new RegExp(`still serving version ${readRun(a.dir).version}.*not a run directory`))
    next = 'ok'
    const inFlight = slot.acquire() // a request holding the old version while the swap happens
    const ok = JSON.parse((await handler.reload()).body)
    assert.equal(ok.version, readRun(b.dir).version)
    assert.equal((await inFlight.predictRows(rawRows(2, 1))).score.length, 2) // old session still usable
    slot.release(inFlight)
    await slot.close()
    await a.session.release()
    await b.session.release()
  })
})
