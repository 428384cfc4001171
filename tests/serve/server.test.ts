/** The HTTP server on loopback: framework-level errors, graceful shutdown, and reload under load. */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { loadPredictor } from '../../src/export/predictor.js'
import { createHandler } from '../../src/serve/handler.js'
import { ModelSlot } from '../../src/serve/model-slot.js'
import { type RunningServer, handleSignals, startServer } from '../../src/serve/server.js'
import { readRun } from '../../src/run/run-dir.js'
import { codec, rawRows, tinyRun } from '../export/fixture.js'

type Results = { version: string; results: { index: number; score: number; tasks: Record<string, number> }[] }

function body(n: number, seed: number) {
  const rows = rawRows(n, seed)
  const { user, tags, age } = rows[0]
  return { context: { user, tags, age }, candidates: rows.map(({ item, cats, price }) => ({ item, cats, price })) }
}

async function rank(
  url: string,
  payload: unknown,
): Promise<{ status: number; json: Results & { error?: string; field?: string } }> {
  const res = await fetch(`${url}/v1/rank`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof payload === 'string' ? payload : JSON.stringify(payload),
  })
  return { status: res.status, json: (await res.json()) as Results }
}

describe('HTTP server', () => {
  let runs: Awaited<ReturnType<typeof tinyRun>>[]
  let server: RunningServer
  let slot: ModelSlot
  let handler: ReturnType<typeof createHandler>
  let next = 1
  before(async () => {
    runs = [await tinyRun({ seed: 41, steps: 2 }), await tinyRun({ seed: 42, steps: 2 })]
    // each reload alternates between the two runs, so the version tells which model answered
    slot = new ModelSlot(await loadPredictor(runs[0].dir), () => loadPredictor(runs[next++ % 2].dir))
    handler = createHandler(slot, { limits: { maxCandidates: 2000 }, admin: {} })
    server = await startServer(handler, slot, { port: 0, maxBodyBytes: 64 * 1024 })
  })
  after(async () => {
    await server.close()
    for (const r of runs) await r.session.release()
  })

  it('returns the same scores over HTTP as the model predicts for the same rows', async () => {
    const payload = body(60, 5)
    const { status, json } = await rank(server.url, payload)
    assert.equal(status, 200)
    const rows = payload.candidates.map((c) => ({ ...payload.context, ...c }))
    const want = await runs[0].session.predict(codec.encode(rows))
    for (const r of json.results) {
      assert.ok(Math.abs(r.tasks.click - want.click[r.index]) <= 1e-6)
      assert.ok(Math.abs(r.tasks.purchase - want.purchase[r.index]) <= 1e-6)
    }
  })

  it('rejects a body over the limit with 413 naming the body, malformed JSON with 400, and keeps serving', async () => {
    const big = await rank(server.url, body(1500, 1))
    assert.equal(big.status, 413)
    assert.equal(big.json.field, 'body')
    assert.match(big.json.error!, /^body: larger than the limit of 65536 bytes/)
    const bad = await rank(server.url, '{"candidates": [')
    assert.equal(bad.status, 400)
    assert.match(bad.json.error!, /^body: malformed JSON/)
    const noType = await fetch(`${server.url}/v1/rank`, { method: 'POST', body: JSON.stringify(body(2, 1)) }) // text/plain
    assert.equal(noType.status, 200)
    assert.equal((await rank(server.url, body(5, 2))).status, 200)
    const metrics = await (await fetch(`${server.url}/metrics`)).text()
    assert.match(metrics, /^resflow_errors_total\{kind="too_large"\} 1$/m)
    assert.match(metrics, /^resflow_requests_total\{route="POST \/v1\/rank",status="413"\} 1$/m)
  })

  it('loses no request under concurrent load with reloads (admin endpoint and SIGHUP) in the middle', async () => {
    const unlisten = handleSignals(server, handler, () => {})
    const payload = body(200, 9)
    const versions = new Set<string>()
    const statuses: number[] = []
    let sent = 0
    const client = async () => {
      while (sent < 240) {
        sent++
        const { status, json } = await rank(server.url, payload)
        statuses.push(status)
        if (status === 200) {
          versions.add(json.version)
          assert.equal(json.results.length, 200)
        }
      }
    }
    const clients = Array.from({ length: 6 }, client)
    const reloads = (async () => {
      while (sent < 60) await new Promise((r) => setTimeout(r, 5))
      const res = await fetch(`${server.url}/admin/reload`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
      })
      assert.equal(res.status, 200)
      while (sent < 150) await new Promise((r) => setTimeout(r, 5))
      process.kill(process.pid, 'SIGHUP')
    })()
    await Promise.all([...clients, reloads])
    unlisten()
    assert.equal(statuses.length, 240)
    assert.deepEqual([...new Set(statuses)], [200], `statuses: ${[...new Set(statuses)]}`)
    assert.ok(
      versions.has(readRun(runs[0].dir).version) && versions.has(readRun(runs[1].dir).version),
      `versions seen: ${[...versions]}`,
    )
    await new Promise((r) => setTimeout(r, 50)) // let the SIGHUP reload settle before the metrics read
    const metrics = await (await fetch(`${server.url}/metrics`)).text()
    assert.match(metrics, /^resflow_model_reloads_total\{outcome="ok"\} 2$/m)
  })
})

describe('graceful shutdown', () => {
  it('finishes in-flight requests, then refuses new connections', async () => {
    const run = await tinyRun({ seed: 43, steps: 1 })
    const slot = new ModelSlot(await loadPredictor(run.dir), () => loadPredictor(run.dir))
    const server = await startServer(createHandler(slot), slot, { port: 0 })
    let arrived = 0
    server.app.server.on('request', () => arrived++)
    const inFlight = Array.from({ length: 4 }, (_, i) => rank(server.url, body(3000, i)))
    while (arrived < 4) await new Promise((r) => setTimeout(r, 1)) // all four reached the server
    const closing = server.close()
    const done = await Promise.all(inFlight)
    await closing
    assert.deepEqual(
      done.map((d) => d.status),
      [200, 200, 200, 200],
    )
    assert.ok(done.every((d) => d.json.results.length === 3000))
    await assert.rejects(fetch(`${server.url}/healthz`))
    await run.session.release()
  })
})
