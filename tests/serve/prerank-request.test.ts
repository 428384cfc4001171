/**
 * The pre-rank request body as a spec, without HTTP: ids by list or as {itemKey: id} candidates, k,
 * the context; every refusal a RequestError naming the field. End to end with a small twin run, the
 * response lists the ranker's top k with their request index.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { RequestError } from '../../src/errors.js'
import { exportTwinRun } from '../../src/export/twin.js'
import { createPreRanker } from '../../src/serve/prerank.js'
import { DEFAULT_PRERANK_K, parsePrerankRequest, prerankResponse } from '../../src/serve/prerank-request.js'
import { twinData, twinRun } from '../export/twin-fixture.js'

function refused(body: unknown, field: string, message: RegExp, status = 400) {
  assert.throws(
    () => parsePrerankRequest(body, 'item_id', { maxCandidates: 5 }),
    (err: unknown) => {
      assert.ok(err instanceof RequestError, String(err))
      assert.equal(err.field, field)
      assert.equal(err.status, status)
      assert.match(err.message, message)
      return true
    },
  )
}

describe('parsePrerankRequest', () => {
  it('ids as a list or as {itemKey: id} candidates give the same request; k defaults', () => {
    const context = { user_id: 3, tags: ['a', 'b'], hour: null }
    const a = parsePrerankRequest({ context, item_ids: [7, 'x9'], k: 1 }, 'item_id')
    const b = parsePrerankRequest({ context, candidates: [{ item_id: 7 }, { item_id: 'x9' }], k: 1 }, 'item_id')
    assert.deepEqual(a, { context, ids: [7, 'x9'], k: 1 })
    assert.deepEqual(b, a)
    assert.equal(parsePrerankRequest({ item_ids: [1] }, 'item_id').k, DEFAULT_PRERANK_K)
    assert.deepEqual(parsePrerankRequest({ item_ids: [1] }, 'item_id').context, {})
  })

  it('refuses bad bodies, naming the field', () => {
    refused([1, 2], 'body', /^body: expected a JSON object/)
    refused({ item_ids: [1], limit: 3 }, 'body.limit', /unknown field \(allowed: context, item_ids, candidates, k\)/)
    refused(
      { context: { hour: 3 } },
      'body.item_ids',
      /missing \(expected a list of item ids, or "candidates": \[\{"item_id": id\}/,
    )
    refused({ item_ids: [1], candidates: [{ item_id: 1 }] }, 'body', /give the candidates once/)
    refused({ item_ids: [] }, 'body.item_ids', /at least one candidate id, got none/)
    refused({ item_ids: [1, 2, 3, 4, 5, 6] }, 'body.item_ids', /6 candidates, over the limit of 5 per request/, 413)
    refused({ item_ids: [1, null] }, 'body.item_ids[1]', /expected an item id \(a string or a number\), got null/)
    refused({ item_ids: [1, ''] }, 'body.item_ids[1]', /got ""/)
    refused({ item_ids: [2 ** 60] }, 'body.item_ids[0]', /not an exact integer id .* send the id as a string/)
    refused(
      { candidates: [{ item_id: 1, item_price: 3 }] },
      'body.candidates[0].item_price',
      /by "item_id" only: item vectors are computed at load/,
    )
    refused({ candidates: [{ sku: 1 }] }, 'body.candidates[0].sku', /by "item_id" only/)
    refused({ candidates: [{}] }, 'body.candidates[0].item_id', /expected an item id .* got nothing/)
    refused({ item_ids: [1], k: 0 }, 'body.k', /expected a positive integer, got 0/)
    refused({ item_ids: [1], k: 2.5 }, 'body.k', /got 2.5/)
    refused({ item_ids: [1], context: [] }, 'body.context', /expected an object of user\/context features/)
    refused(
      { item_ids: [1], context: { hour: { h: 3 } } },
      'body.context.hour',
      /expected a string, a finite number, null or a list of them/,
    )
  })
})

describe('prerankResponse', () => {
  it('lists the top k with their request index, id, fused score and task probabilities', async () => {
    const { items, contexts } = await twinData()
    const ranker = await createPreRanker(
      exportTwinRun(await twinRun({}, { kind: 'additive', weights: { click: 1, purchase: 4 } })),
      items,
      {
        itemKey: 'item_id',
      },
    )
    const ids = items.slice(0, 30).map((r) => r.item_id as number)
    const request = parsePrerankRequest(
      JSON.parse(JSON.stringify({ context: contexts[0], item_ids: ids, k: 4 })),
      'item_id',
    )
    const response = prerankResponse(ranker, await ranker.rank(request.context, request.ids, request.k))
    const all = await ranker.scoreIds(contexts[0], ids)
    const best = Array.from(all.score, (s, i) => ({ s, i }))
      .sort((a, b) => b.s - a.s || a.i - b.i)
      .slice(0, 4)
    assert.equal(response.model, 'resflow-twin')
    assert.equal(response.version, ranker.version)
    assert.equal(response.candidates, 30)
    assert.deepEqual(
      response.results.map((r) => r.index),
      best.map((b) => b.i),
    )
    for (const r of response.results) {
      assert.equal(r.id, ids[r.index])
      assert.equal(r.score, all.score[r.index])
      assert.deepEqual(Object.keys(r.tasks), ['click', 'cart', 'purchase'])
      for (const t of ranker.tasks) assert.ok(Math.abs(r.tasks[t] - all.probs[t][r.index]) <= 1e-7)
    }
    await ranker.release()
  })
})
