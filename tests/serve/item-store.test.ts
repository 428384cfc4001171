/**
 * Candidates by id from an item store, over HTTP (Fastify's inject: the server's body reading, the handler,
 * the one-pass encoder): on a run of the synthetic funnel, the row, columnar and id forms give the scores the
 * library's predictor gives for the same raw rows through the data layer's encoder; unknown ids are refused
 * (naming them), skipped or scored as a default item as configured; a bad item file is refused naming its
 * row and column; and reloading the store while requests run loses none of them.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import type { FastifyInstance } from 'fastify'
import { fitPreprocessing, inputSpecOf } from '../../src/data/preprocessing.js'
import { generateSynthetic } from '../../src/data/synth.js'
import { loadDatasetSchema } from '../../src/data/schema.js'
import { connect } from '../../src/data/duck.js'
import { DataError } from '../../src/errors.js'
import type { RawRow } from '../../src/export/codec.js'
import { type Predictor, loadPredictor } from '../../src/export/predictor.js'
import { buildModel } from '../../src/models/registry.js'
import { type Handler, createHandler } from '../../src/serve/handler.js'
import { compiledCodec } from '../../src/serve/columnar.js'
import { type UnknownItems, loadItemStore } from '../../src/serve/item-store.js'
import { loadServed } from '../../src/serve/load.js'
import { ModelSlot } from '../../src/serve/model-slot.js'
import { buildApp } from '../../src/serve/server.js'
import { TrainSession } from '../../src/train/session.js'
import {
  CONTEXT_FEATURES,
  ITEM_FEATURES,
  type Row,
  itemStoreOf,
  pick,
  writeItemFile,
} from '../helpers/item-store-rows.js'
import { writeSessionRun } from '../helpers/session-run.js'

const TOLERANCE = 1e-6

const dir = mkdtempSync(join(tmpdir(), 'resflow-items-'))
const runDir = join(dir, 'run')
const itemsFile = join(dir, 'items.csv')

let rows: Row[] // test rows, item features replaced by the store's (first row of each item)
let store: Map<number, Row> // item_id → item features
let reference: Predictor

/** A handler serving the run with the item store, over Fastify. */
async function serve(
  unknown: UnknownItems = 'error',
  file = itemsFile,
): Promise<{ app: FastifyInstance; handler: Handler; slot: ModelSlot }> {
  const load = () => loadServed(runDir, { items: { file, key: 'item_id', unknown } })
  const slot = new ModelSlot(await load(), load)
  const handler = createHandler(slot)
  return { app: buildApp(handler), handler, slot }
}

interface Ranked {
  results: { index: number; score: number; tasks: Record<string, number> }[]
  skipped?: number[]
}
async function rank(
  app: FastifyInstance,
  body: unknown,
): Promise<{ status: number; json: Ranked & { error?: string; field?: string } }> {
  const res = await app.inject({
    method: 'POST',
    url: '/v1/rank',
    headers: { 'content-type': 'application/json' },
    payload: JSON.stringify(body),
  })
  return { status: res.statusCode, json: res.json() }
}

/** Checks an answer against the reference predictor's scores for `want` (request index → raw row). */
async function assertScores(got: Ranked, want: Row[], msg: string): Promise<void> {
  const ref = await reference.predictRows(want as RawRow[])
  assert.equal(got.results.length, want.length, msg)
  const seen = new Set<number>()
  for (const r of got.results) {
    seen.add(r.index)
    assert.ok(
      Math.abs(r.score - ref.score[r.index]) <= TOLERANCE,
      `${msg}: candidate ${r.index}: score ${r.score} vs ${ref.score[r.index]}`,
    )
    assert.ok(Math.abs(r.tasks.click - ref.probs.click[r.index]) <= TOLERANCE, `${msg}: candidate ${r.index}: click`)
  }
  assert.equal(seen.size, want.length, `${msg}: every candidate once`)
}

const columnsOf = (list: Row[], cols: string[]) => Object.fromEntries(cols.map((c) => [c, list.map((r) => r[c])]))

describe('item store', () => {
  before(async () => {
    const data = await generateSynthetic({ outDir: join(dir, 'data'), rows: 4000, seed: 5 })
    const prep = await fitPreprocessing(loadDatasetSchema(data.schemaFile), [data.files.train])
    const spec = inputSpecOf(prep)
    const modelConfig = { model: 'resflow', embeddingDim: 4, towers: [8, 4] }
    const session = await TrainSession.create(buildModel(spec, modelConfig), { seed: 2, embeddingInitStd: 0.3 })
    await writeSessionRun(runDir, session, { modelConfig, prep, seed: 2, fusion: { click: 1, purchase: 4 } })
    ;({ store, rows } = await itemStoreOf(data.files.test, 300))
    writeItemFile(itemsFile, store)
    reference = await loadPredictor(runDir)
  })
  after(async () => {
    await reference.release()
    rmSync(dir, { recursive: true, force: true })
  })

  it('rows, columns and ids (with and without overrides) score as the predictor on the same rows', async () => {
    const { app, slot } = await serve()
    const all = ['item_id', ...ITEM_FEATURES, ...CONTEXT_FEATURES]
    const asRows = await rank(app, { candidates: rows.map((r) => pick(r, all)) })
    assert.equal(asRows.status, 200)
    await assertScores(asRows.json, rows, 'rows')
    const asColumns = await rank(app, { candidates: columnsOf(rows, all) })
    assert.equal(asColumns.status, 200)
    await assertScores(asColumns.json, rows, 'columns')
    // by id: the store supplies the item features
    const byIdRows = await rank(app, { candidates: rows.map((r) => pick(r, ['item_id', ...CONTEXT_FEATURES])) })
    assert.equal(byIdRows.status, 200, JSON.stringify(byIdRows.json))
    await assertScores(byIdRows.json, rows, 'ids as rows')
    const byIdColumns = await rank(app, { candidates: columnsOf(rows, ['item_id', ...CONTEXT_FEATURES]) })
    await assertScores(byIdColumns.json, rows, 'ids as columns')
    // item_ids with the user in context: every candidate shares the first row's user and context
    const user = pick(rows[0], CONTEXT_FEATURES)
    const shared = rows.map((r) => ({ ...r, ...user }))
    const byIds = await rank(app, { context: user, item_ids: rows.map((r) => r.item_id) })
    assert.equal(byIds.status, 200)
    await assertScores(byIds.json, shared, 'item_ids + context')
    // a per-candidate override beats the store; a context value beats the store for every candidate
    const overridden = rows.map((r, i) => ({ ...r, item_price: i % 2 ? 999 : r.item_price }))
    const withOverride = await rank(app, {
      candidates: overridden.map((r, i) => ({
        ...pick(r, ['item_id', ...CONTEXT_FEATURES]),
        ...(i % 2 ? { item_price: 999 } : {}),
      })),
    })
    await assertScores(withOverride.json, overridden, 'per-candidate override')
    const inContext = rows.map((r) => ({ ...r, ...user, item_category: 3 }))
    await assertScores(
      (await rank(app, { context: { ...user, item_category: 3 }, item_ids: rows.map((r) => r.item_id) })).json,
      inContext,
      'context override',
    )
    await slot.close()
  })

  it('unknown ids: 422 naming them, or skipped, or scored as the default item; counted in /metrics', async () => {
    const ids = rows.slice(0, 5).map((r) => r.item_id)
    const user = pick(rows[0], CONTEXT_FEATURES)
    const strict = await serve('error')
    const bad = await rank(strict.app, { context: user, item_ids: [ids[0], 'nope', ids[1], 123456789] })
    assert.equal(bad.status, 422)
    assert.equal(bad.json.field, 'body.item_ids[1]')
    assert.match(
      bad.json.error!,
      /unknown item id nope; 2 of 4 candidates name ids not in the item store .*: nope, 123456789/,
    )
    const badRow = await rank(strict.app, {
      context: user,
      candidates: [{ item_id: ids[0] }, { item_id: ids[1] }, { item_id: -5 }],
    })
    assert.equal(badRow.status, 422)
    assert.equal(badRow.json.field, 'body.candidates[2].item_id')
    // a full row needs no lookup: an id unknown to the store is fine there
    assert.equal(
      (
        await rank(strict.app, {
          candidates: [{ ...pick(rows[0], ['item_id', ...ITEM_FEATURES, ...CONTEXT_FEATURES]), item_id: 77777 }],
        })
      ).status,
      200,
    )
    const metrics = await strict.app.inject({ method: 'GET', url: '/metrics' })
    assert.match(metrics.body, new RegExp(`^resflow_item_store_items ${store.size}$`, 'm'))
    assert.match(metrics.body, /^resflow_item_store_lookups_total 7$/m)
    assert.match(metrics.body, /^resflow_item_store_misses_total 3$/m)
    await strict.slot.close()

    const skip = await serve('skip')
    const skipped = await rank(skip.app, { context: user, item_ids: [ids[0], 'nope', ids[1], ids[2]] })
    assert.equal(skipped.status, 200)
    assert.deepEqual(skipped.json.skipped, [1])
    assert.deepEqual(skipped.json.results.map((r) => r.index).sort(), [0, 2, 3])
    const want = [ids[0], ids[1], ids[2]].map((id) => ({ ...store.get(Number(id))!, item_id: id, ...user }))
    const ref = await reference.predictRows(want as RawRow[])
    for (const r of skipped.json.results)
      assert.ok(
        Math.abs(r.score - ref.score[r.index === 0 ? 0 : r.index - 1]) <= TOLERANCE,
        `skip: candidate ${r.index}`,
      )
    const none = await rank(skip.app, { context: user, item_ids: ['nope'] })
    assert.deepEqual([none.status, none.json.results, none.json.skipped], [200, [], [0]])
    await skip.slot.close()

    const dflt = await serve('default')
    const scored = await rank(dflt.app, { context: user, item_ids: [ids[0], 'nope'] })
    assert.equal(scored.status, 200)
    assert.equal(scored.json.results.length, 2)
    // the default item: categorical id 0 (as an unknown value) and, for numbers without a fill value, the mean of the encoded column over the items
    const items = [...store].map(([id, r]) => ({ ...user, ...r, item_id: id }))
    const encoded = reference.codec.encode(items as RawRow[])
    const nD = reference.codec.spec.dense.length
    const b = reference.codec.encode([
      { ...user, item_id: 'nope', item_category: 'nope', item_price: 0, item_ctr_hist: 0 },
    ] as RawRow[])
    for (const c of ['item_price', 'item_ctr_hist']) {
      const d = reference.codec.spec.dense.findIndex((f) => f.name === c)
      let sum = 0
      for (let r = 0; r < items.length; r++) sum += encoded.dense[r * nD + d]
      b.dense[d] = Math.fround(sum / items.length)
    }
    const dfltRef = await reference.predict(b)
    const got = scored.json.results.find((r) => r.index === 1)!
    assert.ok(Math.abs(got.score - dfltRef.score[0]) <= 1e-5, `default item: ${got.score} vs ${dfltRef.score[0]}`)
    await dflt.slot.close()
  })

  it('reads the same store from Parquet', async () => {
    const parquet = join(dir, 'items.parquet')
    await (await connect()).run(
      `COPY (SELECT * FROM read_csv('${itemsFile}', header=true)) TO '${parquet}' (FORMAT parquet)`,
    )
    const compiled = compiledCodec(reference.codec)!
    const [fromCsv, fromParquet] = [
      await loadItemStore(itemsFile, compiled, { key: 'item_id' }),
      await loadItemStore(parquet, compiled, { key: 'item_id' }),
    ]
    assert.equal(fromParquet.size, store.size)
    assert.deepEqual(fromParquet.ids, fromCsv.ids)
    const [a, b] = [fromCsv.batch(), fromParquet.batch()]
    assert.deepEqual([...b.dense], [...a.dense])
    for (const name of Object.keys(a.sparse)) assert.deepEqual([...b.sparse[name]], [...a.sparse[name]], name)
    assert.equal(fromParquet.row(String([...store.keys()][3])), 3)
    assert.equal(fromParquet.row(-12345), -1)
  })

  it('missing features in the id form are refused, naming the candidate and feature', async () => {
    const { app, slot } = await serve()
    const noUser = await rank(app, { item_ids: [rows[0].item_id] })
    assert.equal(noUser.status, 400)
    assert.equal(noUser.json.field, 'body.context.user_id')
    assert.match(noUser.json.error!, /not held by the item store/)
    assert.match(noUser.json.error!, /missing feature/)
    const { user_id: _u, ...partial } = pick(rows[0], ['item_id', ...CONTEXT_FEATURES])
    const rowMissing = await rank(app, { candidates: [pick(rows[0], ['item_id', ...CONTEXT_FEATURES]), partial] })
    assert.equal(rowMissing.json.field, 'body.candidates[1].user_id')
    assert.match(rowMissing.json.error!, /missing feature \(not in the candidate, the context nor the item store\)/)
    const noKey = await rank(app, { candidates: [pick(rows[0], CONTEXT_FEATURES)] })
    assert.equal(noKey.status, 400)
    assert.match(noKey.json.error!, /no item_id to look it up in the item store/)
    await slot.close()
  })

  it('refuses a bad item file naming its row and column, an unknown column and a duplicate id', async () => {
    const compiled = compiledCodec(reference.codec)!
    const bad = join(dir, 'bad.csv')
    writeFileSync(bad, 'item_id,item_price\n1,3.5\n2,cheap\n')
    await assert.rejects(loadItemStore(bad, compiled, { key: 'item_id' }), (err: unknown) => {
      assert.ok(err instanceof DataError)
      assert.match(err.message, /bad\.csv: row 2 \(line 3\), column item_price: expected a number, got "cheap"/)
      return true
    })
    writeFileSync(bad, 'item_id,colour\n1,red\n')
    await assert.rejects(
      loadItemStore(bad, compiled, { key: 'item_id' }),
      /bad\.csv: column "colour" is not a feature of the model/,
    )
    writeFileSync(bad, 'item_id,item_price\n1,3.5\n01,4\n')
    await assert.rejects(
      loadItemStore(bad, compiled, { key: 'item_id' }),
      /bad\.csv: row 2 \(line 3\), column item_id: item id 1 already given at row 1/,
    )
    await assert.rejects(loadItemStore(bad, compiled, { key: 'sku' }), /no key column "sku"/)
    // a numeric column without a fill value must not be empty
    writeFileSync(bad, 'item_id,item_price\n1,\n')
    await assert.rejects(
      loadItemStore(bad, compiled, { key: 'item_id' }),
      /row 1 \(line 2\), column item_price: expected a number/,
    )
  })

  it('reloading the store while requests run loses none, and then serves the new items', async () => {
    const file = join(dir, 'items-reload.csv')
    writeItemFile(file, store)
    const { app, handler, slot } = await serve('error', file)
    const user = pick(rows[0], CONTEXT_FEATURES)
    const ids = rows.map((r) => r.item_id)
    const requests: Promise<{ status: number }>[] = []
    const reloads: Promise<{ status: number }>[] = []
    for (let k = 0; k < 60; k++) {
      requests.push(rank(app, { context: user, item_ids: ids }))
      if (k % 20 === 10) {
        const changed = new Map([...store].map(([id, r]) => [id, { ...r, item_price: Number(r.item_price) + k }]))
        writeItemFile(file, changed)
        reloads.push(handler.reload())
      }
    }
    const statuses = (await Promise.all(requests)).map((r) => r.status)
    assert.deepEqual(statuses, new Array(60).fill(200))
    assert.deepEqual(
      (await Promise.all(reloads)).map((r) => r.status),
      [200, 200, 200],
    )
    // the last file written has prices + 50: served now
    const now = rows.map((r) => ({ ...r, ...user, item_price: Number(store.get(Number(r.item_id))!.item_price) + 50 }))
    await assertScores((await rank(app, { context: user, item_ids: ids })).json, now, 'after reload')
    // a bad file fails the reload and the old items keep serving
    writeFileSync(file, 'item_id,item_price\n1,cheap\n')
    const failed = await handler.reload()
    assert.equal(failed.status, 500)
    assert.match(failed.body, /items-reload\.csv: row 1 \(line 2\), column item_price/)
    await assertScores((await rank(app, { context: user, item_ids: ids })).json, now, 'after a failed reload')
    await slot.close()
  })
})
