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
import { batchFeeds } from '../../src/export/feeds.js'
import { type ExportedGraph, exportModel } from '../../src/export/onnx.js'
import { MODEL_NAMES, buildModel } from '../../src/models/registry.js'
import { TrainSession } from '../../src/train/session.js'
import { SMALL_CONFIGS } from '../models/small-configs.js'
import { SPEC, codec, labelled, rawRows } from './fixture.js'
import { runFresh } from '../helpers/fresh-onnx.js'
import { maxAbsDiff } from '../helpers/max-abs-diff.js'

const TOLERANCE = 1e-5

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
      const run = (g: ExportedGraph) => runFresh(g.bytes, g.inputs, feeds, dims)
      const got = await run(exported.main)
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
        const u = (await run(exported.towers.user))['user.click']
        const v = (await run(exported.towers.item))['item.click']
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
