/**
 * The item split with multi-valued item features (mean and sum pooling, empty and missing lists) and a
 * bucketed number: the split path's scores equal the library predictor's on the same joined rows; and the
 * row split with multi-valued features on the item side and on the context side.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, it } from 'node:test'
import { type Preprocessing, inputSpecOf } from '../../src/data/preprocessing.js'
import { parseDatasetSchema } from '../../src/data/schema.js'
import type { RawRow } from '../../src/export/codec.js'
import { loadPredictor } from '../../src/export/predictor.js'
import { buildModel } from '../../src/models/registry.js'
import { createHandler } from '../../src/serve/handler.js'
import { loadServed } from '../../src/serve/load.js'
import { ModelSlot } from '../../src/serve/model-slot.js'
import { TrainSession } from '../../src/train/session.js'
import { rowSplitOf } from '../helpers/row-split.js'
import { writeSessionRun } from '../helpers/session-run.js'

const dir = mkdtempSync(join(tmpdir(), 'resflow-split-multi-'))
after(() => rmSync(dir, { recursive: true, force: true }))

const schema = parseDatasetSchema({
  sparse: [{ name: 'item_id' }, { name: 'uid' }],
  multi: [
    { name: 'tags', separator: '|' },
    { name: 'cats', separator: '|' },
  ],
  dense: [{ name: 'price' }, { name: 'age' }],
  tasks: [{ name: 'click' }, { name: 'purchase' }],
})
const PREP: Preprocessing = {
  version: 1,
  schema,
  sparse: [
    { name: 'item_id', column: 'item_id', valueType: 'int', vocab: ['1', '2', '3', '4', '5'] },
    { name: 'uid', column: 'uid', valueType: 'int', vocab: ['7', '8', '9'] },
  ],
  multi: [
    { name: 'tags', column: 'tags', separator: '|', pooling: 'mean', vocab: ['a', 'b', 'c'] },
    { name: 'cats', column: 'cats', separator: '|', pooling: 'sum', vocab: ['x', 'y'] },
  ],
  dense: [
    { name: 'price', column: 'price', transform: 'standardize', mean: 10, std: 4, min: 0, max: 100 },
    { name: 'age', column: 'age', transform: 'standardize', mean: 35, std: 10, min: 0, max: 90 },
  ],
  buckets: [{ name: 'price_q', column: 'price', edges: [5, 10, 20] }],
  tasks: ['click', 'purchase'],
  fit: { files: [], rows: 0 },
}

const ITEMS: Record<string, string | number | null>[] = [
  { item_id: 1, tags: 'a|b', cats: 'x', price: 3 },
  { item_id: 2, tags: 'c', cats: 'x|y|x', price: 12.5 },
  { item_id: 3, tags: null, cats: 'y', price: 30 },
  { item_id: 4, tags: 'a|zzz', cats: null, price: 7 },
  { item_id: 6, tags: 'b|c|a', cats: 'x|y', price: 0 }, // an id the model's vocabulary lacks
]

it('multi-valued item features and a bucketed price: the split path scores as the predictor on the joined rows', async () => {
  const runDir = join(dir, 'run')
  const spec = inputSpecOf(PREP)
  const modelConfig = { model: 'resflow', inputBatchNorm: true, embeddingDim: 3, towers: [6, 4] }
  const session = await TrainSession.create(buildModel(spec, modelConfig), { seed: 11, embeddingInitStd: 0.5 })
  for (const [name, e] of session.params.entries)
    if (name.endsWith('.running_var')) e.values.forEach((_, i) => (e.values[i] = 0.5 + (i % 5) / 3))
  await writeSessionRun(runDir, session, { modelConfig, prep: PREP, seed: 11, fusion: { click: 1, purchase: 2 } })
  const itemsFile = join(dir, 'items.csv')
  const cols = ['item_id', 'tags', 'cats', 'price']
  writeFileSync(
    itemsFile,
    [cols.join(','), ...ITEMS.map((r) => cols.map((c) => r[c] ?? '').join(','))].join('\n') + '\n',
  )

  const served = await loadServed(runDir, { items: { file: itemsFile, key: 'item_id' } })
  assert.ok(served.split, 'the split applies')
  let hits = 0
  const split = served.split
  const counted = async (value: unknown, limits: { maxCandidates: number }) => {
    const out = await split.rank(value, limits)
    if (out) hits++
    return out
  }
  const slot = new ModelSlot({ ...served, split: { ...split, rank: counted } }, async () => served)
  const handler = createHandler(slot)
  const reference = await loadPredictor(runDir)
  try {
    for (const user of [
      { uid: 8, age: 41 },
      { uid: 'unseen', age: 19 },
    ]) {
      const ids = [1, 2, 3, 4, 6, 2, 1]
      const out = await handler.rank({ context: user, item_ids: ids })
      const want = ids.map((id) => ({ ...ITEMS.find((r) => r.item_id === id)!, ...user }))
      const ref = await reference.predictRows(want as RawRow[])
      assert.equal(out.results.length, ids.length)
      for (const r of out.results)
        assert.ok(
          Math.abs(r.score - ref.score[r.index]) <= 1e-5,
          `user ${user.uid}, candidate ${r.index}: ${r.score} vs ${ref.score[r.index]}`,
        )
    }
    assert.equal(hits, 2, 'both answered by the split')
  } finally {
    await reference.release()
    await slot.close()
  }
})

it('the row split with multi-valued features on either side: full rows of one user score as the predictor', async () => {
  const runDir = join(dir, 'run') // written by the test above
  const itemsFile = join(dir, 'items.csv')
  const reference = await loadPredictor(runDir)
  const served = await loadServed(runDir, { items: { file: itemsFile, key: 'item_id' } })
  assert.ok(served.rowSplit, 'the row split applies (item side: the store columns, tags and cats among them)')
  const slot = new ModelSlot(served, async () => served)
  const handler = createHandler(slot)
  try {
    const user = { uid: 9, age: 52 }
    const rows = [...ITEMS, ...ITEMS.slice(0, 3)].map((r) => ({ ...r, ...user }))
    const out = await handler.rank({ candidates: rows })
    assert.match(handler.metrics.render(), /^resflow_row_split_requests_total 1$/m)
    const ref = await reference.predictRows(rows as RawRow[])
    for (const r of out.results)
      assert.ok(Math.abs(r.score - ref.score[r.index]) <= 1e-5, `item side multi: ${r.index}`)

    // tags and cats on the context side (the same lists in every row, "a|zzz" with an unknown id; then one differs)
    const { run, split } = await rowSplitOf(runDir, ['item_id', 'price'])
    assert.ok(split)
    for (const lists of [
      { tags: 'a|zzz', cats: 'x|y|x' },
      { tags: null, cats: 'y' },
    ]) {
      const same = ITEMS.map((r) => ({ ...r, ...lists, ...user }))
      const batch = run.codec.encode(same as RawRow[])
      const got = await split.rank(batch)
      assert.ok(got, 'the same lists in every row')
      const want = await reference.predict(batch)
      for (let i = 0; i < batch.size; i++)
        assert.ok(Math.abs(got.score[i] - want.score[i]) <= 1e-5, `context multi ${lists.tags}: row ${i}`)
    }
    const differing = ITEMS.map((r, i) => ({ ...r, tags: i === 3 ? 'a|b' : 'a', cats: 'x', ...user }))
    assert.equal(await split.rank(run.codec.encode(differing as RawRow[])), null, 'one row with other tags')
    await split.release()
  } finally {
    await reference.release()
    await slot.close()
  }
})
