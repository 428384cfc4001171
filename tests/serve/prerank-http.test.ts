/**
 * POST /v1/prerank over HTTP (Fastify's inject) on a resflow-twin run served with an item store: the
 * k best candidates and their per-task probabilities equal what /v1/rank gives for the same ids through
 * the full model (whose item features come from the same store); unknown ids are refused naming them;
 * a server without a pre-ranker says why; a reload keeps the pre-ranker.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import type { FastifyInstance } from 'fastify'
import { createHandler } from '../../src/serve/handler.js'
import { loadServed } from '../../src/serve/load.js'
import { ModelSlot } from '../../src/serve/model-slot.js'
import { buildApp } from '../../src/serve/server.js'
import { ITEM_COLUMNS, TASKS, VARIANTS, twinData, twinRun } from '../export/twin-fixture.js'

const TOLERANCE = 1e-5
const dir = mkdtempSync(join(tmpdir(), 'resflow-prerank-http-'))
const itemsFile = join(dir, 'items.csv')
let runDir: string
let slot: ModelSlot
let app: FastifyInstance

async function post(url: string, body: unknown) {
  const res = await app.inject({
    method: 'POST',
    url,
    headers: { 'content-type': 'application/json' },
    payload: JSON.stringify(body),
  })
  return { status: res.statusCode, json: res.json() }
}

describe('POST /v1/prerank', () => {
  before(async () => {
    const { items } = await twinData()
    const cell = (v: unknown) => (v === null || v === undefined ? '' : String(v))
    writeFileSync(
      itemsFile,
      [ITEM_COLUMNS.join(','), ...items.map((r) => ITEM_COLUMNS.map((c) => cell(r[c])).join(','))].join('\n') + '\n',
    )
    const variant = VARIANTS[0]
    runDir = await twinRun(variant.config, variant.fusion)
    const load = () => loadServed(runDir, { items: { file: itemsFile, key: 'item_id' } })
    slot = new ModelSlot(await load(), load)
    app = buildApp(createHandler(slot))
  })
  after(async () => {
    await app.close()
    await slot.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it("returns the k best by fused score, with the full model's probabilities for the same ids", async () => {
    const { items, contexts } = await twinData()
    const ids = items.slice(0, 60).map((r) => r.item_id)
    for (const context of contexts.slice(0, 3)) {
      const pre = await post('/v1/prerank', { context, item_ids: ids, k: 7 })
      assert.equal(pre.status, 200, JSON.stringify(pre.json))
      const full = await post('/v1/rank', { context, item_ids: ids })
      assert.equal(full.status, 200, JSON.stringify(full.json))
      assert.equal(pre.json.candidates, ids.length)
      assert.equal(pre.json.results.length, 7)
      // the full model's order, best first: the pre-ranker's top 7 are its first 7
      const top = full.json.results.slice(0, 7)
      assert.deepEqual(
        pre.json.results.map((r: { index: number }) => r.index),
        top.map((r: { index: number }) => r.index),
      )
      pre.json.results.forEach(
        (r: { index: number; id: unknown; score: number; tasks: Record<string, number> }, i: number) => {
          assert.equal(String(r.id), String(ids[r.index]))
          assert.ok(Math.abs(r.score - top[i].score) <= TOLERANCE, `score ${r.score} vs ${top[i].score}`)
          for (const t of TASKS)
            assert.ok(Math.abs(r.tasks[t] - top[i].tasks[t]) <= TOLERANCE, `${t}: ${r.tasks[t]} vs ${top[i].tasks[t]}`)
        },
      )
    }
  })

  it('refuses unknown ids, naming them, and bad bodies, naming the field', async () => {
    const { items, contexts } = await twinData()
    const unknown = await post('/v1/prerank', { context: contexts[0], item_ids: [items[0].item_id, 'no-such-item'] })
    assert.equal(unknown.status, 422)
    assert.equal(unknown.json.field, 'body.item_ids')
    assert.match(unknown.json.error, /no-such-item/)
    const badK = await post('/v1/prerank', { context: contexts[0], item_ids: [items[0].item_id], k: 0 })
    assert.equal(badK.status, 400)
    assert.equal(badK.json.field, 'body.k')
  })

  it('keeps pre-ranking after a reload', async () => {
    const { items, contexts } = await twinData()
    const before = await post('/v1/prerank', {
      context: contexts[1],
      item_ids: items.slice(0, 20).map((r) => r.item_id),
      k: 3,
    })
    await slot.reload()
    const after = await post('/v1/prerank', {
      context: contexts[1],
      item_ids: items.slice(0, 20).map((r) => r.item_id),
      k: 3,
    })
    assert.equal(after.status, 200)
    assert.deepEqual(after.json.results, before.json.results)
  })

  it('a server without a pre-ranker says what it needs', async () => {
    const plain = await loadServed(runDir)
    const plainSlot = new ModelSlot(plain, () => loadServed(runDir))
    const plainApp = buildApp(createHandler(plainSlot))
    const res = await plainApp.inject({
      method: 'POST',
      url: '/v1/prerank',
      headers: { 'content-type': 'application/json' },
      payload: '{"item_ids": [1]}',
    })
    assert.equal(res.statusCode, 404)
    assert.equal(res.json().field, 'path')
    assert.match(res.json().error, /resflow-twin run served with --items/)
    await plainApp.close()
    await plainSlot.close()
  })
})
