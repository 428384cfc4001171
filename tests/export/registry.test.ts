/**
 * Export parity for every registry entry: after a few training steps (so BatchNorm statistics and
 * weights are not at their initial values), the exported file run by a fresh onnxruntime session
 * gives the same task probabilities as TrainSession.predict (max abs diff ≤ 1e-5), on rows with
 * single- and multi-valued (sum and mean pooled) features, empty lists and out-of-vocabulary values.
 * Models with extras sides (the twin tower) also get per-side files checked against the main output.
 * New models join automatically.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import * as ort from 'onnxruntime-node'
import { batchFeeds } from '../../src/export/feeds.js'
import { type ExportedGraph, exportModel } from '../../src/export/onnx.js'
import { MODEL_NAMES, buildModel } from '../../src/models/registry.js'
import { TrainSession } from '../../src/train/session.js'
import { SMALL_CONFIGS } from '../models/small-configs.js'
import { SPEC, codec, labelled, rawRows } from './fixture.js'

const TOLERANCE = 1e-5

async function runFresh(
  g: ExportedGraph,
  feeds: Record<string, unknown>,
  dims: Record<string, number>,
): Promise<Record<string, Float32Array>> {
  const session = await ort.InferenceSession.create(g.bytes)
  const ortFeeds: Record<string, ort.Tensor> = {}
  for (const io of g.inputs)
    ortFeeds[io.name] = new ort.Tensor(
      io.dtype as 'float32',
      feeds[io.name] as Float32Array,
      io.shape.map((d) => (typeof d === 'number' ? d : dims[d])),
    )
  const out = await session.run(ortFeeds)
  await session.release()
  return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, v.data as Float32Array]))
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length)
  let m = 0
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]))
  return m
}

describe('every registered model exports to ONNX', () => {
  for (const name of MODEL_NAMES) {
    it(`${name}: exported predictions equal TrainSession.predict within ${TOLERANCE}`, async () => {
      const model = buildModel(SPEC, { model: name, ...SMALL_CONFIGS[name] })
      const session = await TrainSession.create(model, {
        seed: 5,
        optimizer: { kind: 'adam', lr: 0.02 },
        sparseOptimizer: { kind: 'adam', lr: 0.05 },
        embeddingInitStd: 0.3,
      })
      for (let s = 0; s < 4; s++) await session.trainStep(labelled(codec.encode(rawRows(64, 50 + s)), s))
      const weights = {
        params: new Map([...session.params.entries].map(([k, e]) => [k, e.values])),
        tables: new Map([...session.tables].map(([k, t]) => [k, t.weights()])),
      }
      const exported = exportModel(model, weights, { fusion: { kind: 'additive', weights: { click: 1, purchase: 8 } } })
      const batch = codec.encode(rawRows(150, 77))
      const { feeds, dims } = batchFeeds(exported.layout, batch)
      const got = await runFresh(exported.main, feeds, dims)
      const want = await session.predict(batch)
      for (const task of SPEC.tasks) {
        const d = maxAbsDiff(got[`p.${task}`], want[task])
        assert.ok(d <= TOLERANCE, `${name}: p.${task}: max abs diff ${d}`)
      }
      const fused = Array.from(want.click, (p, i) => p + 8 * want.purchase[i])
      assert.ok(maxAbsDiff(got.score, fused) <= TOLERANCE * 9)

      // per-side files (twin tower): the vectors they give reproduce the main graph's first-task logit
      if (Object.keys(exported.towers).length > 0) {
        assert.deepEqual(Object.keys(exported.towers).sort(), ['item', 'user'])
        const itemInputs = exported.towers.item.inputs.map((i) => i.name)
        assert.ok(
          !itemInputs.includes('ids.user') && !itemInputs.includes('ids.tags'),
          `item tower takes user inputs: ${itemInputs}`,
        )
        const u = (await runFresh(exported.towers.user, feeds, dims))['user.click']
        const v = (await runFresh(exported.towers.item, feeds, dims))['item.click']
        const V = u.length / batch.size
        const p = Array.from({ length: batch.size }, (_, b) => {
          let z = 0
          for (let j = 0; j < V; j++) z += u[b * V + j] * v[b * V + j]
          return 1 / (1 + Math.exp(-z))
        })
        assert.ok(maxAbsDiff(p, want.click) <= TOLERANCE, `${name}: σ(u·v) vs p.click`)
      }
      await session.release()
    })
  }
})
