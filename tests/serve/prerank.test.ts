/**
 * Twin-tower pre-ranking as a spec: for every composition variant (chain, task graph, non-increasing,
 * residual none, reversed order), scoring candidates by id (item vectors precomputed, one user-tower
 * run, dot products in JS) gives the same per-task probabilities and fused score as the full model's
 * predictor on the joined user + item rows; top-K equals sorting those full scores; bad ids and bad
 * contexts are refused naming them.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { DataError, RequestError } from '../../src/errors.js'
import { type Predictor, createPredictor } from '../../src/export/predictor.js'
import { exportTwinRun } from '../../src/export/twin.js'
import {
  type PreRanker,
  createPreRanker,
  createPreRankerFromItems,
  loadPreRanker,
  topK,
} from '../../src/serve/prerank.js'
import { maxAbsDiff } from '../helpers/max-abs-diff.js'
import { Rng } from '../helpers/rng.js'
import { VARIANTS, twinData, twinRun } from '../export/twin-fixture.js'

const TOLERANCE = 1e-5

for (const variant of VARIANTS) {
  describe(`pre-ranking, ${variant.name}`, () => {
    let ranker: PreRanker
    let full: Predictor
    let ids: number[]
    before(async () => {
      const dir = await twinRun(variant.config, variant.fusion)
      const twin = exportTwinRun(dir)
      const { items } = await twinData()
      ranker = await createPreRanker(twin, items, { itemKey: 'item_id', loadBatchRows: 7 }) // several load batches
      full = await createPredictor(twin.run.exported, twin.run.model, twin.run.codec)
      // every item once, shuffled, and some twice (a candidate list may repeat an id)
      const rng = new Rng(5)
      ids = items.map((r) => r.item_id as number)
      for (let i = ids.length - 1; i > 0; i--) {
        const j = rng.int(i + 1)
        ;[ids[i], ids[j]] = [ids[j], ids[i]]
      }
      ids.push(ids[3], ids[0])
    })
    after(async () => {
      await ranker?.release()
      await full?.release()
    })

    it('per-task probabilities and the fused score equal the full model on the joined rows', async () => {
      const { items, contexts } = await twinData()
      const byId = new Map(items.map((r) => [r.item_id as number, r]))
      for (const context of contexts.slice(0, 6)) {
        const got = await ranker.scoreIds(context, ids)
        const want = await full.predictRows(ids.map((id) => ({ ...context, ...byId.get(id)! })))
        for (const task of ranker.tasks) {
          const d = maxAbsDiff(got.probs[task], want.probs[task])
          assert.ok(d <= TOLERANCE, `p.${task}: max abs diff ${d}`)
        }
        const d = maxAbsDiff(got.score, want.score)
        assert.ok(d <= TOLERANCE * 10, `score: max abs diff ${d}`)
      }
    })

    it('top-K equals sorting the full model scores', async () => {
      const { items, contexts } = await twinData()
      const byId = new Map(items.map((r) => [r.item_id as number, r]))
      const context = contexts[7]
      const want = await full.predictRows(ids.map((id) => ({ ...context, ...byId.get(id)! })))
      const sorted = Array.from(want.score, (s, i) => ({ s, i })).sort((a, b) => b.s - a.s || a.i - b.i)
      for (const k of [1, 5, 20, ids.length + 3]) {
        const { hits, candidates } = await ranker.rank(context, ids, k)
        assert.equal(candidates, ids.length)
        assert.equal(hits.length, Math.min(k, ids.length))
        for (let r = 0; r < hits.length; r++) {
          const hit = hits[r]
          assert.equal(hit.id, ids[hit.position])
          if (r > 0) assert.ok(hits[r - 1].score >= hit.score, 'hits best first')
          // positions can swap only where the full model's float32 scores are within the tolerance
          const ref = sorted[r]
          if (hit.position !== ref.i)
            assert.ok(
              Math.abs(ref.s - want.score[hit.position]) <= TOLERANCE * 10,
              `rank ${r}: position ${hit.position} vs ${ref.i}`,
            )
          for (const task of ranker.tasks)
            assert.ok(Math.abs(hit.probs[task] - want.probs[task][hit.position]) <= TOLERANCE)
        }
      }
    })
  })
}

describe('pre-ranking refuses bad input', () => {
  let ranker: PreRanker
  before(async () => {
    const { items } = await twinData()
    ranker = await createPreRanker(exportTwinRun(await twinRun({}, null)), items, { itemKey: 'item_id' })
  })
  after(async () => ranker?.release())

  it('unknown ids: a RequestError naming them (and how many more)', async () => {
    const { contexts, items } = await twinData()
    const known = items[0].item_id as number
    await assert.rejects(ranker.rank(contexts[0], [known, 99999, 'nope'], 5), (err: unknown) => {
      assert.ok(err instanceof RequestError)
      assert.equal(err.field, 'body.item_ids')
      assert.equal(err.status, 422)
      assert.match(
        err.message,
        /2 unknown item id\(s\): 99999, "nope" \(the item store holds \d+ items keyed by item_id\)/,
      )
      return true
    })
    const many = Array.from({ length: 15 }, (_, i) => 100000 + i)
    await assert.rejects(ranker.scoreIds(contexts[0], many), /15 unknown item id\(s\): 100000, .*100009 and 5 more/)
    // ids as strings name the same items as numbers
    assert.equal(ranker.itemIndex(String(known)), ranker.itemIndex(known))
    assert.ok(ranker.itemIndex(known) >= 0)
  })

  it('a context missing a numeric user feature, and a bad k, are request errors', async () => {
    const { contexts, items } = await twinData()
    const { user_activity: _, ...partial } = contexts[0]
    await assert.rejects(
      ranker.rank(partial, [items[0].item_id as number], 1),
      (err: unknown) =>
        err instanceof RequestError &&
        /^body\.context\.user_activity: missing feature \(one of the user side's; send null for a missing value\)/.test(
          err.message,
        ),
    )
    // null is a missing value: a numeric user feature without a fill value refuses it, naming it
    await assert.rejects(
      ranker.rank({ ...contexts[0], user_activity: null }, [items[0].item_id as number], 1),
      (err: unknown) =>
        err instanceof RequestError && /^body\.context\.user_activity: expected a number, got null/.test(err.message),
    )
    // a missing categorical value is fine (id 0, as in training), and item-side columns in the context are ignored
    const { hits } = await ranker.rank(
      { ...contexts[0], device: null, item_price: 'not read' },
      [items[0].item_id as number],
      1,
    )
    assert.equal(hits.length, 1)
    await assert.rejects(
      ranker.rank(contexts[0], [items[0].item_id as number], 0),
      /body\.k: expected a positive integer, got 0/,
    )
  })

  it('item rows: a missing key or a duplicate is named', async () => {
    const { items } = await twinData()
    const twin = exportTwinRun(await twinRun({}, null))
    await assert.rejects(
      createPreRanker(twin, [items[0], { ...items[1], item_id: null }], { itemKey: 'item_id' }),
      /items\[1\]\.item_id: expected an item key/,
    )
    await assert.rejects(
      createPreRanker(twin, [items[0], items[1], items[0]], { itemKey: 'item_id' }),
      /items\[2\]\.item_id: duplicate item key "\d+" \(also items\[0\]\)/,
    )
    // every item-side column must be there (null marks a missing value)
    const { item_category: _, ...noCategory } = items[2]
    await assert.rejects(
      createPreRanker(twin, [items[0], items[1], noCategory], { itemKey: 'item_id' }),
      /items\[2\]\.item_category: missing feature \(one of the item side's/,
    )
    // a bad item feature in the second load batch is named by its row in the whole list
    const bad = items.slice(0, 8).map((r, i) => (i === 5 ? { ...r, item_price: 'cheap' } : r))
    await assert.rejects(
      createPreRanker(twin, bad, { itemKey: 'item_id', loadBatchRows: 4 }),
      (err: unknown) =>
        err instanceof DataError && /^items\[5\]\.item_price: expected a number, got "cheap"/.test(err.message),
    )
  })

  it('loadPreRanker reads the run folder: the same vectors and scores as createPreRanker', async () => {
    const { items, contexts } = await twinData()
    const dir = await twinRun({}, null)
    const loaded = await loadPreRanker(dir, items, { itemKey: 'item_id' })
    const made = await createPreRanker(exportTwinRun(dir), items, { itemKey: 'item_id' })
    assert.deepEqual(loaded.vectors, made.vectors)
    assert.equal(loaded.version, made.version)
    const ids = items.slice(0, 10).map((r) => r.item_id as number)
    assert.deepEqual((await loaded.scoreIds(contexts[0], ids)).score, (await made.scoreIds(contexts[0], ids)).score)
    await loaded.release()
    await made.release()
  })

  it('a run of another model is refused', async () => {
    // the same run with its manifest saying resflow: no towers
    const { twinComposition } = await import('../../src/export/twin.js')
    const twin = exportTwinRun(await twinRun({}, null))
    assert.throws(
      () =>
        twinComposition({
          ...twin.run,
          manifest: { ...twin.run.manifest, model: 'resflow', modelConfig: { towers: [8, 4] } },
          modelConfig: { model: 'resflow', options: { towers: [8, 4] } },
        }),
      /model "resflow" has no user and item towers; pre-ranking needs a resflow-twin run/,
    )
  })
})

describe('topK', () => {
  it('equals a full sort (ties by position) for every k, on random scores with ties', () => {
    const rng = new Rng(9)
    for (const n of [0, 1, 7, 100, 1000]) {
      const score = Float64Array.from({ length: n }, () => Math.round(rng.next() * 50) / 50) // many ties
      const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => score[b] - score[a] || a - b)
      for (const k of [1, 2, 10, n, n + 1])
        assert.deepEqual(Array.from(topK(score, k)), order.slice(0, k), `n ${n}, k ${k}`)
    }
  })
})

describe('pre-ranking under concurrent requests', () => {
  it('requests in flight together (scratch buffers are shared) give the results of one at a time', async () => {
    const { items, contexts } = await twinData()
    const ranker = await createPreRanker(exportTwinRun(await twinRun({}, null)), items, { itemKey: 'item_id' })
    const all = items.map((r) => r.item_id as number)
    // different contexts and sizes, so a request reading another's scratch would differ
    const requests = contexts.slice(0, 6).map((c, i) => ({ c, ids: all.slice(i, all.length - 3 * i), k: 3 + i }))
    const alone = []
    for (const r of requests)
      alone.push({ top: await ranker.rank(r.c, r.ids, r.k), all: await ranker.scoreIds(r.c, r.ids) })
    const together = await Promise.all(
      requests.map(async (r) => {
        const [top, all] = await Promise.all([ranker.rank(r.c, r.ids, r.k), ranker.scoreIds(r.c, r.ids)])
        return { top, all }
      }),
    )
    assert.deepEqual(together, alone)
    await ranker.release()
  })
})

describe('pre-ranking over items already encoded (an item store)', () => {
  it('createPreRankerFromItems gives the vectors and scores of createPreRanker over the raw rows', async () => {
    const { items, contexts } = await twinData()
    const twin = exportTwinRun(await twinRun({}, { kind: 'additive', weights: { click: 1, purchase: 4 } }))
    // the items encoded in the full layout, as an item store holds them: the user-side columns filled from
    // another context on purpose, the item tower must not read them; keys looked up as text
    const encoded = twin.run.codec.encode(items.map((r) => ({ ...contexts[5], ...r })))
    const keys = new Map(items.map((r, i) => [String(r.item_id), i]))
    const store = {
      key: 'item_id',
      size: items.length,
      row: (id: unknown) => keys.get(String(id)) ?? -1,
      batch: () => encoded,
    }
    const fromItems = await createPreRankerFromItems(twin, store, { loadBatchRows: 5 })
    const fromRows = await createPreRanker(twin, items, { itemKey: 'item_id' })
    assert.equal(fromItems.itemCount, items.length)
    assert.ok(maxAbsDiff(fromItems.vectors, fromRows.vectors) <= 1e-6)
    const ids = items.map((r) => r.item_id as number).reverse()
    const a = await fromItems.scoreIds(contexts[1], ids)
    const b = await fromRows.scoreIds(contexts[1], ids)
    assert.ok(maxAbsDiff(a.score, b.score) <= 1e-6)
    await assert.rejects(
      fromItems.rank(contexts[1], [ids[0], -5], 1),
      /1 unknown item id\(s\): -5 \(the item store holds \d+ items keyed by item_id\)/,
    )
    await fromItems.release()
    await fromRows.release()
  })
})
