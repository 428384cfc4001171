import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { describe, it } from 'node:test'
import type { Tensor } from '../../src/engine/node.js'
import { mul, reduceSum, sigmoid } from '../../src/engine/ops.js'
import { batchFeeds } from '../../src/export/feeds.js'
import { applyFusion } from '../../src/metrics/fusion.js'
import { EXPORT_SCHEMA_VERSION, exportModel, readExportMetadata } from '../../src/export/onnx.js'
import { exportRun, loadPredictor } from '../../src/export/predictor.js'
import { modelWeights } from '../../src/run/open-run.js'
import { linear } from '../../src/nn/layers.js'
import { sharedInput } from '../../src/nn/inputs.js'
import { bceWithLogits } from '../../src/nn/losses.js'
import type { Model } from '../../src/models/types.js'
import { loadWeights } from '../../src/run/checkpoint.js'
import { runFiles } from '../../src/run/run-dir.js'
import { TrainSession } from '../../src/train/session.js'
import { MODEL_CONFIG, SPEC, codec, fixtureModel, rawRows, tinyRun } from './fixture.js'
import { type GraphInput, runFresh } from '../helpers/fresh-onnx.js'
import { maxAbsDiff } from '../helpers/max-abs-diff.js'

/** Runs exported bytes in a fresh onnxruntime session, as any consumer would: inputs from its metadata alone. */
async function runFromMetadata(bytes: Uint8Array, feeds: Record<string, unknown>, dims: Record<string, number>) {
  const inputs = JSON.parse((await readExportMetadata(bytes))['resflow.inputs']) as GraphInput[]
  return runFresh(bytes, inputs, feeds, dims, { checkInputs: true })
}

describe('ONNX export', () => {
  it('a fresh onnxruntime session on the exported file reproduces TrainSession.predict within 1e-5', async () => {
    const { session, model } = await tinyRun({ seed: 3 })
    const batch = codec.encode(rawRows(200, 9))
    const fusion = { kind: 'additive' as const, weights: { click: 1, purchase: 4 } }
    const exported = exportModel(
      model,
      {
        params: new Map([...session.params.entries].map(([k, e]) => [k, e.values])),
        tables: new Map([...session.tables].map(([k, t]) => [k, t.weights()])),
      },
      { fusion },
    )
    const { feeds, dims } = batchFeeds(exported.layout, batch)
    const got = await runFromMetadata(exported.main.bytes, feeds, dims)
    const want = await session.predict(batch)
    for (const task of SPEC.tasks) {
      const d = maxAbsDiff(got[`p.${task}`], want[task])
      assert.ok(d <= 1e-5, `p.${task}: max abs diff ${d}`)
    }
    const score = applyFusion(fusion, want)
    assert.ok(maxAbsDiff(got.score, score) <= 1e-5)
    // the batch has both empty and long lists, and values unknown to the vocabularies
    assert.ok(dims.L_tags >= 3)
    await session.release()
  })

  it('PReLU slopes above 1, negative, or all at most 1: the exported graph (max(x, a·x) where every slope ≤ 1) matches TrainSession.predict', async () => {
    const { session, model } = await tinyRun({ seed: 4 })
    const slopes = [...session.params.entries].filter(([k]) => k.endsWith('.slope'))
    assert.ok(slopes.length >= 2, 'the fixture model has PReLU layers')
    const batch = codec.encode(rawRows(200, 5))
    for (const values of [
      [1.7, -0.3],
      [0.9, 0.05],
      [-0.5, 1],
    ]) {
      slopes.forEach(([, e], i) => e.values.fill(values[i % values.length]))
      const exported = exportModel(model, {
        params: new Map([...session.params.entries].map(([k, e]) => [k, e.values])),
        tables: new Map([...session.tables].map(([k, t]) => [k, t.weights()])),
      })
      const { feeds, dims } = batchFeeds(exported.layout, batch)
      const got = await runFromMetadata(exported.main.bytes, feeds, dims)
      const want = await session.predict(batch)
      for (const task of SPEC.tasks) {
        const d = maxAbsDiff(got[`p.${task}`], want[task])
        assert.ok(d <= 1e-5, `slopes ${values}: p.${task}: max abs diff ${d}`)
      }
    }
    await session.release()
  })

  it('multiplicative fusion and the no-fusion default (last task) match applyFusion', async () => {
    const { dir, session } = await tinyRun({
      seed: 4,
      fusion: { kind: 'multiplicative', weights: { click: 1, purchase: 0.5 } },
    })
    const predictor = await loadPredictor(dir)
    const rows = rawRows(50, 2)
    const got = await predictor.predictRows(rows)
    const want = await session.predict(codec.encode(rows))
    assert.ok(
      maxAbsDiff(got.score, applyFusion({ kind: 'multiplicative', weights: { click: 1, purchase: 0.5 } }, want)) <=
        1e-5,
    )
    const plain = exportModel(fixtureModel(), modelWeights(loadWeights(runFiles(dir).weights), fixtureModel()), {
      fusion: null,
    })
    assert.deepEqual(plain.fusion, { kind: 'additive', weights: { purchase: 1 } })
    await predictor.release()
    await session.release()
  })

  it('stores task names, fusion weights, feature order and the schema version in the metadata', async () => {
    const { dir } = await tinyRun({ seed: 5 })
    const run = exportRun(dir)
    const meta = await readExportMetadata(run.exported.main.bytes)
    assert.equal(meta['resflow.schema_version'], String(EXPORT_SCHEMA_VERSION))
    assert.deepEqual(JSON.parse(meta['resflow.tasks']), ['click', 'purchase'])
    assert.deepEqual(JSON.parse(meta['resflow.fusion']), { kind: 'additive', weights: { click: 1, purchase: 4 } })
    assert.deepEqual(JSON.parse(meta['resflow.features']), {
      sparse: ['user', 'item'],
      multi: [
        { name: 'tags', pooling: 'mean' },
        { name: 'cats', pooling: 'sum' },
      ],
      dense: ['age', 'price'],
    })
    const inputs = JSON.parse(meta['resflow.inputs']) as { name: string; dtype: string }[]
    assert.deepEqual(inputs.map((i) => `${i.name}:${i.dtype}`).sort(), [
      'dense:float32',
      'ids.cats:int64',
      'ids.item:int64',
      'ids.tags:int64',
      'ids.user:int64',
      'weights.cats:float32',
      'weights.tags:float32',
    ])
    assert.ok(readFileSync(runFiles(dir).weights).length > 0)
  })

  it('fails with the parameter name when the weights do not fit the model', async () => {
    const { session, model } = await tinyRun({ seed: 6, steps: 1 })
    const params = new Map([...session.params.entries].map(([k, e]) => [k, e.values]))
    const tables = new Map([...session.tables].map(([k, t]) => [k, t.weights()]))
    const name = [...session.params.entries.keys()].find((k) => k.startsWith('tower.click.logit'))!
    params.delete(name)
    assert.throws(
      () => exportModel(model, { params, tables }),
      (err: Error) => err.message.startsWith(`weights: no parameter "${name}" for model "${MODEL_CONFIG.model}"`),
    )
    tables.set('tags', new Float32Array(3))
    assert.throws(
      () => exportModel(model, { params, tables }),
      /table "tags" has 3 values, the model expects \[12, 4\]/,
    )
    await session.release()
  })
})

/** A two-tower toy: user vector · item vector → click; extras user.click / item.click. */
function twinToy(): Model {
  const dim = 4
  return {
    name: 'twin-toy',
    tasks: ['click'],
    spec: SPEC,
    embeddings: [
      ...SPEC.sparse.map((f) => ({ name: f.name, rows: f.vocabSize, dim })),
      ...SPEC.multi.map((f) => ({ name: f.name, rows: f.vocabSize, dim, pooling: f.pooling })),
    ],
    forward(ctx, inputs) {
      const u = linear(
        ctx,
        'user.click',
        sharedInput(ctx, 'user.in', SPEC, inputs, { side: 'user', batchNorm: false }),
        3,
      ) // [B, 3]
      const v = linear(
        ctx,
        'item.click',
        sharedInput(ctx, 'item.in', SPEC, inputs, { side: 'item', batchNorm: false }),
        3,
      ) // [B, 3]
      const logit: Tensor = reduceSum(mul(u, v), [1], true) // [B, 1]
      return {
        probs: { click: sigmoid(logit) },
        logits: { click: logit },
        extras: { 'user.click': u, 'item.click': v },
      }
    },
    loss: (_ctx, out, labels) => bceWithLogits(out.logits.click, labels.click),
  }
}

describe('twin-tower export', () => {
  it('writes a user tower and an item tower that take only their side’s inputs and give the same vectors', async () => {
    const model = twinToy()
    const session = await TrainSession.create(model, { seed: 1, embeddingInitStd: 0.2 })
    const weights = {
      params: new Map([...session.params.entries].map(([k, e]) => [k, e.values])),
      tables: new Map([...session.tables].map(([k, t]) => [k, t.weights()])),
    }
    const exported = exportModel(model, weights)
    assert.deepEqual(Object.keys(exported.towers).sort(), ['item', 'user'])
    const names = (side: string) => exported.towers[side].inputs.map((i) => i.name).sort()
    assert.deepEqual(names('user'), ['dense', 'ids.tags', 'ids.user', 'weights.tags'])
    assert.deepEqual(names('item'), ['dense', 'ids.cats', 'ids.item', 'weights.cats'])
    const batch = codec.encode(rawRows(30, 1))
    const { feeds, dims } = batchFeeds(exported.layout, batch)
    const u = (await runFromMetadata(exported.towers.user.bytes, feeds, dims))['user.click']
    const v = (await runFromMetadata(exported.towers.item.bytes, feeds, dims))['item.click']
    const main = await runFromMetadata(exported.main.bytes, feeds, dims)
    const want = await session.predict(batch)
    assert.ok(maxAbsDiff(main['p.click'], want.click) <= 1e-5)
    const fromTowers = Array.from(
      { length: 30 },
      (_, b) => 1 / (1 + Math.exp(-[0, 1, 2].reduce((s, j) => s + u[b * 3 + j] * v[b * 3 + j], 0))),
    )
    assert.ok(maxAbsDiff(fromTowers, want.click) <= 1e-5)
    await session.release()
  })
})
