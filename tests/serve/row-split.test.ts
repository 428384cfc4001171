/**
 * The row split (serve/row-split.ts): rows and columns requests whose context-side features are the same
 * in every candidate run the first layers on the item columns only, with the context's part added once.
 * On runs of the synthetic funnel (whose schema marks the item side), with BatchNorm statistics and affine
 * parameters away from their initial values, the row split gives the library predictor's scores on the same
 * rows, for several models, with the item side taken from the schema or from an item store; rows of two
 * users take the full model and agree too; the row-split graph reads no context-side feature.
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
import type { RawRow } from '../../src/export/codec.js'
import { loadPredictor } from '../../src/export/predictor.js'
import { buildModel } from '../../src/models/registry.js'
import { createHandler } from '../../src/serve/handler.js'
import { loadServed } from '../../src/serve/load.js'
import { ModelSlot } from '../../src/serve/model-slot.js'
import { TrainSession } from '../../src/train/session.js'
import {
  CONTEXT_FEATURES,
  ITEM_FEATURES,
  type Row,
  itemStoreOf,
  pick,
  writeItemFile,
} from '../helpers/item-store-rows.js'
import { rowSplitOf } from '../helpers/row-split.js'
import { moveOffInit, predictedScores, writeSessionRun } from '../helpers/session-run.js'

const TOLERANCE = 1e-5
const dir = mkdtempSync(join(tmpdir(), 'resflow-rowsplit-'))
const itemsFile = join(dir, 'items.csv')
let prep: Preprocessing
let rows: Row[]

/** A run of `modelConfig` with seeded weights, its BatchNorms and PReLU slopes moved off their initial values. */
async function writeRun(runDir: string, modelConfig: { model: string } & Record<string, unknown>, seed: number) {
  const session = await TrainSession.create(buildModel(inputSpecOf(prep), modelConfig), {
    seed,
    embeddingInitStd: 0.3,
  })
  moveOffInit(session, new Rng(seed * 17 + 3))
  await writeSessionRun(runDir, session, { modelConfig, prep, seed, fusion: { click: 1, purchase: 4 } })
}

function worstDiff(results: { index: number; score: number }[], ref: Float32Array): number {
  assert.equal(results.length, ref.length)
  let worst = 0
  for (const r of results) worst = Math.max(worst, Math.abs(r.score - ref[r.index]))
  return worst
}

const rowSplitCount = (text: string) => Number(/^resflow_row_split_requests_total (\d+)$/m.exec(text)?.[1])

describe('row split', () => {
  before(async () => {
    const data = await generateSynthetic({ outDir: join(dir, 'data'), rows: 3000, seed: 11 })
    prep = await fitPreprocessing(loadDatasetSchema(data.schemaFile), [data.files.train])
    let store: Map<number, Row>
    ;({ store, rows } = await itemStoreOf(data.files.test, 150))
    writeItemFile(itemsFile, store)
  })
  after(() => rmSync(dir, { recursive: true, force: true }))

  const models: [string, { model: string } & Record<string, unknown>][] = [
    [
      'ResFlow, residual full, input BatchNorm',
      { model: 'resflow', residual: 'full', inputBatchNorm: true, embeddingDim: 4, towers: [8, 4] },
    ],
    [
      'MMoE, input BatchNorm',
      { model: 'mmoe', inputBatchNorm: true, embeddingDim: 4, numExperts: 3, expertUnits: [8], towers: [4] },
    ],
    ['shared-bottom', { model: 'shared-bottom', embeddingDim: 4, bottom: [8], towers: [4] }],
    ['PLE', { model: 'ple', embeddingDim: 4, expertUnits: [8], towers: [4] }],
    ['AITM', { model: 'aitm', embeddingDim: 4, towers: [8, 4] }],
  ]
  for (const [label, config] of models) {
    for (const withItems of [false, true]) {
      it(`${label}, item side from ${withItems ? 'the item store' : 'the schema'}: rows and columns repeating the context score as the predictor`, async () => {
        const runDir = join(dir, `${label.replace(/\W+/g, '-')}-${withItems}`)
        await writeRun(runDir, config, 5)
        const served = await loadServed(runDir, withItems ? { items: { file: itemsFile, key: 'item_id' } } : {})
        assert.ok(served.rowSplit, 'the row split applies')
        const wide = served.rowSplit.layers.every((l) => l.itemColumns < l.columns && l.itemColumns > 0)
        assert.ok(wide, `each split layer keeps only the item columns: ${JSON.stringify(served.rowSplit.layers)}`)
        const slot = new ModelSlot(served, async () => served)
        const handler = createHandler(slot)
        const user = pick(rows[3], CONTEXT_FEATURES)
        const full = rows.map((r) => ({ ...r, ...user }))
        const ref = await predictedScores(runDir, full)
        // every feature in every row, the user's repeated
        const a = await handler.rank({ candidates: full })
        assert.equal(rowSplitCount(handler.metrics.render()), 1, 'rows answered by the row split')
        assert.ok(worstDiff(a.results, ref) <= TOLERANCE, `rows: ${worstDiff(a.results, ref)}`)
        // the same as columns, and as context + item columns per row
        const columns = Object.fromEntries(Object.keys(full[0]).map((k) => [k, full.map((r) => r[k])]))
        const b = await handler.rank({ candidates: columns })
        assert.ok(worstDiff(b.results, ref) <= TOLERANCE, `columns: ${worstDiff(b.results, ref)}`)
        const c = await handler.rank({
          context: user,
          candidates: rows.map((r) => pick(r, ['item_id', ...ITEM_FEATURES])),
        })
        assert.ok(worstDiff(c.results, ref) <= TOLERANCE, `context + rows: ${worstDiff(c.results, ref)}`)
        assert.equal(rowSplitCount(handler.metrics.render()), 3)
        await slot.close()
      })
    }
  }

  it('rows of two users take the full model, and the scores differ from a split on row 0 (so a wrong split would be caught)', async () => {
    const runDir = join(dir, 'two-users')
    await writeRun(
      runDir,
      { model: 'resflow', residual: 'full', inputBatchNorm: true, embeddingDim: 4, towers: [8, 4] },
      6,
    )
    const served = await loadServed(runDir)
    const slot = new ModelSlot(served, async () => served)
    const handler = createHandler(slot)
    const users = [pick(rows[0], CONTEXT_FEATURES), pick(rows[7], CONTEXT_FEATURES)]
    // one context feature differs in the last row only
    const mixed = rows.map((r, i) => ({
      ...r,
      ...users[0],
      ...(i === rows.length - 1 ? { hour: (Number(users[0].hour) + 5) % 24 } : {}),
    }))
    const out = await handler.rank({ candidates: mixed })
    assert.equal(rowSplitCount(handler.metrics.render()), 0, 'taken by the full model')
    const ref = await predictedScores(runDir, mixed)
    assert.ok(worstDiff(out.results, ref) <= TOLERANCE)
    const asIfRow0 = await predictedScores(
      runDir,
      mixed.map((r) => ({ ...r, ...users[0] })),
    )
    assert.ok(Math.abs(asIfRow0[rows.length - 1] - ref[rows.length - 1]) > 1e-4, 'the changed hour moves that score')
    // two users, each with all rows: full model as well
    const two = await handler.rank({ candidates: rows.map((r, i) => ({ ...r, ...users[i % 2] })) })
    assert.equal(rowSplitCount(handler.metrics.render()), 0)
    assert.ok(
      worstDiff(
        two.results,
        await predictedScores(
          runDir,
          rows.map((r, i) => ({ ...r, ...users[i % 2] })),
        ),
      ) <= TOLERANCE,
    )
    await slot.close()
  })

  it('with one item table (no joined lookup) and an item-side number, scores a batch as the predictor', async () => {
    const runDir = join(dir, 'one-table')
    await writeRun(
      runDir,
      { model: 'resflow', residual: 'full', inputBatchNorm: true, embeddingDim: 4, towers: [8, 4] },
      8,
    )
    const { run, split } = await rowSplitOf(runDir, ['item_id', 'item_price'])
    assert.ok(split)
    assert.deepEqual(
      split.layers.map((l) => l.itemColumns),
      [5, 5],
      'item_id (4 columns) and item_price',
    )
    const p = await loadPredictor(runDir)
    // everything but item_id and item_price is context-side here, so the same in every row
    const user = { ...pick(rows[2], CONTEXT_FEATURES), item_category: rows[2].item_category, item_ctr_hist: 0.25 }
    const batch = run.codec.encode(rows.map((r) => ({ ...r, ...user })) as RawRow[])
    const got = await split.rank(batch)
    assert.ok(got)
    const ref = await p.predict(batch)
    for (let i = 0; i < batch.size; i++)
      assert.ok(Math.abs(got.score[i] - ref.score[i]) <= TOLERANCE, `row ${i}: ${got.score[i]} vs ${ref.score[i]}`)
    // item_category is context-side here: when it differs between rows, no split
    const mixed = rows.map((r, i) => ({
      ...r,
      ...user,
      ...(i === 5 ? { item_category: r.item_category === 1 ? 2 : 1 } : {}),
    }))
    assert.equal(await split.rank(run.codec.encode(mixed as RawRow[])), null)
    await p.release()
    await split.release()
  })

  it('can be turned off, and a model the split does not apply to (single) is served in full', async () => {
    const runDir = join(dir, 'off')
    await writeRun(runDir, { model: 'resflow', embeddingDim: 4, towers: [8, 4] }, 7)
    assert.equal((await loadServed(runDir, { rowSplit: false })).rowSplit, undefined)
    const single = join(dir, 'single')
    await writeRun(single, { model: 'single', embeddingDim: 2, towers: [4] }, 3)
    const served = await loadServed(single)
    assert.equal(served.rowSplit, undefined)
    await served.release()
  })
})
