/**
 * The two halves of a resflow-twin run as standalone ONNX files: written by writeTwinTowers, opened by
 * a fresh onnxruntime session from the file alone, fed from the full model's codec (an encoding
 * independent of the pre-ranker's per-side one), they reproduce the pre-ranker's user and item vectors;
 * and composing their dot products by the `resflow.twin` metadata alone, as a consumer outside resflow
 * would, reproduces the full model's probabilities and fused score.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { type GraphFeeds, batchFeeds } from '../../src/export/feeds.js'
import { type FeatureLayout, readExportMetadata } from '../../src/export/onnx.js'
import { createPredictor } from '../../src/export/predictor.js'
import { TWIN_METADATA_KEY, type TwinComposition, exportTwinRun, writeTwinTowers } from '../../src/export/twin.js'
import { createPreRanker } from '../../src/serve/prerank.js'
import { type GraphInput, runFresh } from '../helpers/fresh-onnx.js'
import { VARIANTS, twinData, twinRun } from './twin-fixture.js'

const TOLERANCE = 1e-5

/**
 * Runs a tower file in a fresh session, fed from the full model's feeds: its ids as they are, its `dense`
 * the columns its `resflow.features` names, picked from the full dense block by name.
 */
async function runFile(
  file: string,
  full: GraphFeeds,
  fullLayout: FeatureLayout,
): Promise<Record<string, Float32Array>> {
  const meta = await readExportMetadata(readFileSync(file))
  const inputs = JSON.parse(meta['resflow.inputs']) as GraphInput[]
  const own = JSON.parse(meta['resflow.features']) as FeatureLayout
  const { dims } = full
  const feeds: Record<string, unknown> = { ...full.feeds }
  const B = dims.B
  const all = full.feeds.dense as Float32Array
  feeds.dense = Float32Array.from(
    { length: B * own.dense.length },
    (_, x) =>
      all[
        Math.floor(x / own.dense.length) * fullLayout.dense.length +
          fullLayout.dense.indexOf(own.dense[x % own.dense.length])
      ],
  )
  return runFresh(file, inputs, feeds, dims, { checkInputs: true })
}

/** z_k from the metadata alone (an independent reading of the composition rule). */
function compose(c: TwinComposition, d: Record<string, number>): Record<string, number> {
  const z: Record<string, number> = {}
  for (const { task, parents } of c.nodes) {
    const own = d[task]
    if (c.residual === 'none' || parents.length === 0) z[task] = own
    else if (c.nonIncreasing) z[task] = Math.min(...parents.map((p) => z[p])) - Math.log(1 + Math.exp(own))
    else z[task] = own + parents.reduce((a, p) => a + z[p], 0) / parents.length
  }
  return z
}

for (const variant of VARIANTS.slice(0, 3)) {
  describe(`twin tower files, ${variant.name}`, () => {
    it('run standalone, reproduce the pre-ranker vectors, and compose to the full model', async () => {
      const { items, contexts } = await twinData()
      const twin = exportTwinRun(await twinRun(variant.config, variant.fusion))
      const files = writeTwinTowers(twin, join(mkdtempSync(join(tmpdir(), 'resflow-twin-out-')), 'model.onnx'))
      assert.match(files.user, /model\.user\.onnx$/)
      assert.match(files.item, /model\.item\.onnx$/)

      // inputs: each file takes only its side's ids
      const userMeta = await readExportMetadata(readFileSync(files.user))
      const itemMeta = await readExportMetadata(readFileSync(files.item))
      const inputsOf = (m: Record<string, string>) =>
        (JSON.parse(m['resflow.inputs']) as { name: string; shape: unknown[] }[])
          .map((i) => `${i.name} [${i.shape.join(', ')}]`)
          .sort()
      assert.deepEqual(inputsOf(userMeta), [
        'dense [B, 2]',
        'ids.device [B]',
        'ids.hour [B]',
        'ids.user_id [B]',
        'ids.user_segment [B]',
      ])
      assert.deepEqual(inputsOf(itemMeta), ['dense [B, 2]', 'ids.item_category [B]', 'ids.item_id [B]'])
      assert.deepEqual(JSON.parse(userMeta['resflow.features']).dense, ['user_activity', 'context_score'])
      assert.deepEqual(JSON.parse(itemMeta['resflow.features']).dense, ['item_price', 'item_ctr_hist'])
      const composition = JSON.parse(userMeta[TWIN_METADATA_KEY]) as TwinComposition
      assert.deepEqual(JSON.parse(itemMeta[TWIN_METADATA_KEY]), composition)
      assert.deepEqual(composition, twin.composition)
      assert.equal(composition.nodes.length, 3)

      // the same rows through the full model's codec and the tower files
      const rows = items.slice(0, 25).map((item, i) => ({ ...contexts[i % contexts.length], ...item }))
      const fullFeeds = batchFeeds(twin.run.exported.layout, twin.run.codec.encode(rows))
      const user = await runFile(files.user, fullFeeds, twin.run.exported.layout)
      const item = await runFile(files.item, fullFeeds, twin.run.exported.layout)
      const ranker = await createPreRanker(twin, items, { itemKey: 'item_id' })
      const full = await createPredictor(twin.run.exported, twin.run.model, twin.run.codec)
      const want = await full.predict(twin.run.codec.encode(rows))
      const V = composition.vectorDim
      for (let b = 0; b < rows.length; b++) {
        const u = await ranker.userVectors(contexts[b % contexts.length])
        const r = ranker.itemIndex(rows[b].item_id as number)
        const d: Record<string, number> = {}
        composition.nodes.forEach(({ task }, k) => {
          const uf = user[`user.${task}`].subarray(b * V, (b + 1) * V)
          const vf = item[`item.${task}`].subarray(b * V, (b + 1) * V)
          for (let j = 0; j < V; j++) {
            assert.ok(Math.abs(uf[j] - u[k * V + j]) <= TOLERANCE, `user.${task}[${j}]`)
            assert.ok(
              Math.abs(vf[j] - ranker.vectors[r * composition.nodes.length * V + k * V + j]) <= TOLERANCE,
              `item.${task}[${j}]`,
            )
          }
          d[task] = uf.reduce((a, x, j) => a + x * vf[j], 0)
        })
        const z = compose(composition, d)
        const p = Object.fromEntries(composition.tasks.map((t) => [t, 1 / (1 + Math.exp(-z[t]))]))
        for (const t of composition.tasks)
          assert.ok(Math.abs(p[t] - want.probs[t][b]) <= TOLERANCE, `row ${b} p.${t}: ${p[t]} vs ${want.probs[t][b]}`)
        const w = Object.entries(composition.fusion.weights)
        const score =
          composition.fusion.kind === 'additive'
            ? w.reduce((a, [t, x]) => a + x * p[t], 0)
            : w.reduce((a, [t, x]) => a * p[t] ** x, 1)
        assert.ok(Math.abs(score - want.score[b]) <= TOLERANCE * 10, `row ${b} score`)
      }
      await ranker.release()
      await full.release()
    })
  })
}

describe('twin export beside the full export', () => {
  it('the full model is exported unchanged; the tower files add the composition and narrow dense to their side', async () => {
    const twin = exportTwinRun(await twinRun({}, null))
    assert.equal(twin.run.exported.main.metadata['resflow.model'], 'resflow-twin')
    assert.ok(
      twin.run.exported.main.inputs.some((io) => io.name === 'ids.item_id') &&
        twin.run.exported.main.inputs.some((io) => io.name === 'ids.user_id'),
    )
    const plain = await readExportMetadata(twin.run.exported.towers.user.bytes)
    const ours = await readExportMetadata(twin.user.graph.bytes)
    assert.equal(plain[TWIN_METADATA_KEY], undefined)
    assert.deepEqual(JSON.parse(plain['resflow.inputs']).find((i: { name: string }) => i.name === 'dense').shape, [
      'B',
      4,
    ])
    assert.deepEqual(JSON.parse(ours['resflow.inputs']).find((i: { name: string }) => i.name === 'dense').shape, [
      'B',
      2,
    ])
    for (const key of [
      'resflow.schema_version',
      'resflow.model',
      'resflow.tasks',
      'resflow.fusion',
      'resflow.part',
      'resflow.outputs',
    ])
      assert.equal(ours[key], plain[key], key)
    assert.deepEqual(JSON.parse(ours[TWIN_METADATA_KEY]).fusion, { kind: 'additive', weights: { purchase: 1 } }) // no stored fusion: the last task
  })
})
