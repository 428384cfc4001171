/**
 * The item split (serve/item-split.ts): by-id requests with a shared context are scored from the precomputed
 * item parts of the first layers plus one context row, through the rest graph. On runs of the synthetic
 * funnel, for ResFlow (residual full, input BatchNorm on), NSE, MMoE (experts and gates on x), shared-bottom,
 * PLE, OMoE, ESMM and AITM, with
 * BatchNorm statistics and affine parameters away from their initial values, the split path gives the
 * library predictor's scores on the same joined rows; requests that do not fit it (overrides, rows) take
 * the full path and still agree; a model the split does not apply to is served in full; a reload with new
 * weights recomputes P.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { type Preprocessing, fitPreprocessing, inputSpecOf } from '../../src/data/preprocessing.js'
import { generateSynthetic } from '../../src/data/synth.js'
import { loadDatasetSchema } from '../../src/data/schema.js'
import { Rng } from '../../src/engine/rng.js'
import { exportSplitGraph } from '../../src/export/onnx.js'
import { exportRun } from '../../src/export/predictor.js'
import { modelWeights } from '../../src/run/open-run.js'
import { buildModel } from '../../src/models/registry.js'
import { createHandler } from '../../src/serve/handler.js'
import type { ItemSplit } from '../../src/serve/item-split.js'
import { loadServed } from '../../src/serve/load.js'
import { ModelSlot, type Served } from '../../src/serve/model-slot.js'
import { readRun } from '../../src/run/run-dir.js'
import { TrainSession } from '../../src/train/session.js'
import { CONTEXT_FEATURES, type Row, itemStoreOf, pick, writeItemFile } from '../helpers/item-store-rows.js'
import { moveOffInit, predictedScores, writeSessionRun } from '../helpers/session-run.js'

const TOLERANCE = 1e-5
/** ResFlow with every residual and input BatchNorm: the model most tests here serve */
const RESFLOW_FULL = { model: 'resflow', residual: 'full', inputBatchNorm: true, embeddingDim: 4, towers: [8, 4] }

const dir = mkdtempSync(join(tmpdir(), 'resflow-split-'))
const itemsFile = join(dir, 'items.csv')
let prep: Preprocessing
let rows: Row[] // test rows with the store's item features
let store: Map<number, Row>

/**
 * Writes a run of `modelConfig` with seeded weights, then moves every BatchNorm's statistics and affine
 * parameters (and the PReLU slopes) off their initial values, as training would.
 */
async function writeRun(
  runDir: string,
  modelConfig: { model: string } & Record<string, unknown>,
  seed: number,
): Promise<void> {
  const spec = inputSpecOf(prep)
  const session = await TrainSession.create(buildModel(spec, modelConfig), { seed, embeddingInitStd: 0.3 })
  moveOffInit(session, new Rng(seed * 31 + 7))
  await writeSessionRun(runDir, session, { modelConfig, prep, seed, fusion: { click: 1, purchase: 4 } })
}

/** A slot serving the run with the item store, whose split counts the requests it answers. */
async function serve(runDir: string): Promise<{ slot: ModelSlot; hits: () => number }> {
  let hits = 0
  const load = async (): Promise<Served> => {
    const s = await loadServed(runDir, { items: { file: itemsFile, key: 'item_id' } })
    assert.ok(s.split, 'the split applies')
    const split: ItemSplit = s.split
    const counted: ItemSplit = {
      ...split,
      rank: async (value, limits) => {
        const out = await split.rank(value, limits)
        if (out) hits++
        return out
      },
    }
    return { ...s, split: counted }
  }
  return { slot: new ModelSlot(await load(), load), hits: () => hits }
}

/** Writes the run `name` (see writeRun) and serves it: its folder, the slot, a handler and the split's count. */
async function serveNewRun(name: string, modelConfig: { model: string } & Record<string, unknown>, seed: number) {
  const runDir = join(dir, name)
  await writeRun(runDir, modelConfig, seed)
  const { slot, hits } = await serve(runDir)
  return { runDir, slot, hits, handler: createHandler(slot) }
}

/** The test rows, each with `user`'s context: what a by-id request with that context scores. */
const joinedWith = (user: Row) => rows.map((r) => ({ ...r, ...user }))

function assertClose(results: { index: number; score: number }[], ref: Float32Array, msg: string): void {
  assert.equal(results.length, ref.length, msg)
  let worst = 0
  for (const r of results) worst = Math.max(worst, Math.abs(r.score - ref[r.index]))
  assert.ok(worst <= TOLERANCE, `${msg}: largest score difference ${worst}`)
}

describe('item split', () => {
  before(async () => {
    const data = await generateSynthetic({ outDir: join(dir, 'data'), rows: 3000, seed: 9 })
    prep = await fitPreprocessing(loadDatasetSchema(data.schemaFile), [data.files.train])
    ;({ store, rows } = await itemStoreOf(data.files.test, 200))
    writeItemFile(itemsFile, store)
  })
  after(() => rmSync(dir, { recursive: true, force: true }))

  const models: [string, { model: string } & Record<string, unknown>][] = [
    ['ResFlow, residual full, input BatchNorm', RESFLOW_FULL],
    ['NSE', { model: 'nse', embeddingDim: 4, towers: [8, 4] }],
    [
      'MMoE, input BatchNorm',
      { model: 'mmoe', inputBatchNorm: true, embeddingDim: 4, numExperts: 3, expertUnits: [8], towers: [4] },
    ],
    ['shared-bottom', { model: 'shared-bottom', embeddingDim: 4, bottom: [8], towers: [4] }],
    ['PLE, input BatchNorm', { model: 'ple', inputBatchNorm: true, embeddingDim: 4, expertUnits: [8], towers: [4] }],
    ['OMoE', { model: 'omoe', embeddingDim: 4, expertUnits: [8], towers: [4] }],
    ['ESMM', { model: 'esmm', embeddingDim: 4, towers: [8, 4] }],
    ['AITM', { model: 'aitm', embeddingDim: 4, towers: [8, 4] }],
  ]
  for (const [label, config] of models) {
    it(`${label}: by id with a shared context, the split path scores as the predictor on the joined rows`, async () => {
      const { runDir, slot, hits, handler } = await serveNewRun(label.replace(/\W+/g, '-'), config, 3)
      const user = pick(rows[0], CONTEXT_FEATURES)
      const joined = joinedWith(user)
      const out = await handler.rank({ context: user, item_ids: rows.map((r) => r.item_id) })
      assert.equal(hits(), 1, 'answered by the split')
      assert.match(handler.metrics.render(), /^resflow_item_split_requests_total 1$/m)
      assertClose(out.results, await predictedScores(runDir, joined), label)
      // sorted by score, as the full path sorts
      for (let k = 1; k < out.results.length; k++) assert.ok(out.results[k - 1].score >= out.results[k].score)
      await slot.close()
    })
  }

  it('requests that do not fit take the full path and agree with it; the split layers are the ones on x', async () => {
    const runDir = join(dir, 'fallback')
    await writeRun(runDir, { model: 'resflow', residual: 'full', embeddingDim: 4, towers: [8, 4] }, 4)
    const run = exportRun(runDir)
    const graph = exportSplitGraph(run.model, modelWeights(readRun(runDir).weights, run.model))!
    assert.deepEqual(
      graph.layers.map((l) => [l.name, l.units]),
      [
        ['tower.click.0.dense', 8],
        ['tower.purchase.0.dense', 8],
      ],
    )
    assert.ok(graph.rest.inputs.every((io) => io.name.startsWith('pre.')))
    const { slot, hits } = await serve(runDir)
    const handler = createHandler(slot)
    const user = pick(rows[0], CONTEXT_FEATURES)
    // an item feature in the context overrides the store for every candidate: full path
    const ids = rows.slice(0, 40).map((r) => r.item_id)
    const overridden = rows.slice(0, 40).map((r) => ({ ...r, ...user, item_category: 3 }))
    const a = await handler.rank({ context: { ...user, item_category: 3 }, item_ids: ids })
    assertClose(a.results, await predictedScores(runDir, overridden), 'context override')
    // a per-candidate override (rows naming the key): full path
    const perCandidate: Row[] = rows
      .slice(0, 40)
      .map((r, i) => ({ ...r, ...user, item_price: i % 2 ? 999 : r.item_price }))
    const b = await handler.rank({
      context: user,
      candidates: perCandidate.map((r, i): Row => ({ item_id: r.item_id!, ...(i % 2 ? { item_price: 999 } : {}) })),
    })
    assertClose(b.results, await predictedScores(runDir, perCandidate), 'per-candidate override')
    // a context missing a feature: the full path's 400, naming it
    await assert.rejects(
      handler.rank({ context: pick(rows[0], CONTEXT_FEATURES.slice(1)), item_ids: ids }),
      /body\.context\.user_id: missing feature/,
    )
    // an unknown id: the full path's 422
    await assert.rejects(handler.rank({ context: user, item_ids: [ids[0], 'nope'] }), /unknown item id nope/)
    assert.equal(hits(), 0, 'none of these is answered by the split')
    assert.match(handler.metrics.render(), /^resflow_item_split_requests_total 0$/m)
    // and the split and full paths agree on the same candidates
    const split = await handler.rank({ context: user, item_ids: ids })
    assert.equal(hits(), 1)
    const full = await handler.rank({ candidates: rows.slice(0, 40).map((r) => ({ ...r, ...user })) })
    assert.deepEqual(
      split.results.map((r) => r.index),
      full.results.map((r) => r.index),
    )
    for (const r of split.results)
      assert.ok(Math.abs(r.score - full.results.find((f) => f.index === r.index)!.score) <= TOLERANCE)
    await slot.close()
  })

  it('concurrent requests with different contexts, and ids written as text, each score as their own joined rows', async () => {
    const { runDir, slot, hits, handler } = await serveNewRun('concurrent', RESFLOW_FULL, 7)
    const users = [0, 5, 9, 13].map((i) => pick(rows[i], CONTEXT_FEATURES))
    const asText = (id: unknown, k: number) => (k % 2 ? `00${id}` : ` ${id} `) // the store's integer keys: same items
    const outs = await Promise.all(
      users.map((user, u) =>
        handler.rank({ context: user, item_ids: rows.map((r, k) => (u % 2 ? asText(r.item_id, k) : r.item_id)) }),
      ),
    )
    assert.equal(hits(), users.length, 'all answered by the split')
    for (const [u, user] of users.entries())
      assertClose(outs[u].results, await predictedScores(runDir, joinedWith(user)), `user ${u}`)
    await slot.close()
  })

  it('a model whose x is not made of whole table rows (single: per-task slices) gets no split; by id takes the full path', async () => {
    const runDir = join(dir, 'single')
    await writeRun(runDir, { model: 'single', embeddingDim: 2, towers: [4] }, 3)
    const run = exportRun(runDir)
    assert.equal(exportSplitGraph(run.model, modelWeights(readRun(runDir).weights, run.model)), null)
    const served = await loadServed(runDir, { items: { file: itemsFile, key: 'item_id' } })
    assert.equal(served.split, undefined)
    const slot = new ModelSlot(served, async () => served)
    const user = pick(rows[2], CONTEXT_FEATURES)
    const out = await createHandler(slot).rank({ context: user, item_ids: rows.map((r) => r.item_id) })
    assertClose(out.results, await predictedScores(runDir, joinedWith(user)), 'single')
    await slot.close()
  })

  it('a reload with new weights recomputes the item parts', async () => {
    const { runDir, slot, hits, handler } = await serveNewRun('reload', RESFLOW_FULL, 5)
    const user = pick(rows[1], CONTEXT_FEATURES)
    const body = { context: user, item_ids: rows.map((r) => r.item_id) }
    const joined = joinedWith(user)
    const before = await handler.rank(body)
    await writeRun(runDir, RESFLOW_FULL, 6)
    assert.equal((await handler.reload()).status, 200)
    const afterReload = await handler.rank(body)
    assert.equal(hits(), 2)
    const ref = await predictedScores(runDir, joined)
    assertClose(afterReload.results, ref, 'after reload')
    const moved = before.results.some((r) => Math.abs(r.score - ref[r.index]) > 1e-3)
    assert.ok(moved, 'the new weights change the scores (so the old P would be caught)')
    await slot.close()
  })
})
