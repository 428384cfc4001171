/**
 * The /v1/rank body → the model's input batch in one pass: each value is checked (the rules and messages of
 * request.ts `checkValue`) and written straight into the batch's typed arrays (columnar.ts), with no row
 * objects in between. Three forms, each with an optional "context" (values shared by every candidate):
 *
 *   rows     "candidates": [{feature: value, ...}, ...]          one object per candidate
 *   columns  "candidates": {feature: [v0, v1, ...], ...}         one list per feature, a value per candidate
 *   ids      "item_ids": [7, 9, ...]                             with an item store (item-store.ts): the
 *            or candidates carrying only the store's key,         store supplies the item features; the
 *            e.g. [{"item_id": 7}, ...] or {"item_id": [7, 9]}    request may override any of them
 *
 * Where a feature's value comes from, per candidate: the candidate itself, else the context, else the item
 * store (looked up only for candidates missing something, so full rows never need the store). A feature in
 * both the candidate and the context is refused, as in request.ts. Error fields name the value:
 * body.candidates[3].price (rows), body.candidates.price[3] (columns), body.item_ids[3] (ids).
 */
import { DataError, RequestError } from '../errors.js'
import type { Batch } from '../data/types.js'
import type { RawFeature } from '../export/codec.js'
import type { BatchWriter, ColumnPlan, CompiledCodec } from './columnar.js'
import type { ItemStore } from './item-store.js'
import { type RankLimits, checkValue, clip, describe, fail, isObject } from './request.js'

export interface EncodedRank {
  batch: Batch
  /** the request index of each batch row (rows skipped for unknown item ids leave gaps) */
  index: Uint32Array
  /** request indexes of candidates skipped because their item id is not in the store (--unknown-items skip) */
  skipped: number[]
  /** item-store lookups made, and how many missed */
  lookups: number
  misses: number
}

/** The common values checked inline; anything else goes through checkValue, which returns it or throws. */
function checked(f: RawFeature, v: unknown, at: () => string): unknown {
  if (typeof v === 'number') {
    if (f.kind === 'numeric' ? Number.isFinite(v) : f.kind === 'categorical' && Number.isSafeInteger(v)) return v
  } else if (typeof v === 'string' && f.kind !== 'numeric') return v
  return checkValue(f, v, at)
}

/** Runs `write`, turning a DataError (a rule only the preprocessing knows) into a 400 naming the same field. */
function asRequestError(err: unknown): never {
  if (err instanceof DataError) throw new RequestError(err.message, { field: err.field ?? 'body', cause: err })
  throw err
}

/** Unknown ids under --unknown-items error: a 422 naming the first and listing a few. */
function unknownIds(where: string[], ids: unknown[], total: number, store: ItemStore): never {
  const shown = ids
    .slice(0, 10)
    .map((v) => clip(String(v)))
    .join(', ')
  const more = ids.length > 10 ? `, … (${ids.length} in all)` : ''
  throw new RequestError(
    `${where[0]}: unknown item id ${clip(String(ids[0]))}; ${ids.length} of ${total} candidates name ids not in the item store (${store.size} items from ${store.file}): ${shown}${more} (hint: send these candidates' features in full, or start the server with --unknown-items skip|default)`,
    { field: where[0], status: 422 },
  )
}

/** Item-store lookups, added to as a request is encoded, refused ones included (the server's /metrics counters). */
export interface LookupCounts {
  lookups: number
  misses: number
}

export function encodeRankRequest(
  value: unknown,
  codec: CompiledCodec,
  limits: RankLimits,
  store?: ItemStore,
  counts?: LookupCounts,
): EncodedRank {
  const allowed = store ? ['context', 'candidates', 'item_ids'] : ['context', 'candidates']
  if (!isObject(value))
    fail('body', `expected a JSON object {"context": {...}, "candidates": [...]}, got ${describe(value)}`)
  for (const key of Object.keys(value))
    if (!allowed.includes(key)) fail(`body.${clip(key)}`, `unknown key (allowed: ${allowed.join(', ')})`)
  const names = () => codec.columns.map((c) => c.feature.name).join(', ')

  // where a value is, for error messages only: built when an error is raised, never per value
  let path = (): string => 'body'
  const at = () => path()

  const context = value.context ?? {}
  if (!isObject(context)) fail('body.context', `expected an object of feature values, got ${describe(context)}`)
  const inContext = new Uint8Array(codec.columns.length)
  const contextValues: [ColumnPlan, unknown][] = []
  for (const name of Object.keys(context)) {
    const c = codec.byName.get(name)
    if (!c) fail(`body.context.${clip(name)}`, `unknown feature (features: ${names()})`)
    path = () => `body.context.${name}`
    contextValues.push([c, checked(c.feature, context[name], at)])
    inContext[c.index] = 1
  }

  const candidates = value.candidates
  const itemIds = value.item_ids
  let form: 'rows' | 'columns'
  let n: number
  let columns: [ColumnPlan | null, unknown[], string][] = [] // (plan or null for a key that is no feature, values, path prefix)
  if (itemIds !== undefined) {
    if (candidates !== undefined)
      fail('body.item_ids', 'given with body.candidates (name candidates one way: item_ids, or candidates)')
    if (!Array.isArray(itemIds)) fail('body.item_ids', `expected a list of item ids, got ${describe(itemIds)}`)
    form = 'columns'
    n = itemIds.length
    columns = [[codec.byName.get(store!.key) ?? null, itemIds, 'body.item_ids']]
  } else {
    if (candidates === undefined) fail('body.candidates', 'missing (expected a list of candidate feature objects)')
    if (Array.isArray(candidates)) {
      form = 'rows'
      n = candidates.length
    } else if (isObject(candidates)) {
      form = 'columns'
      const keys = Object.keys(candidates)
      if (keys.length === 0) fail('body.candidates', 'expected at least 1 feature column, got none')
      n = -1
      for (const name of keys) {
        const c = codec.byName.get(name)
        const isKey = store !== undefined && name === store.key
        if (!c && !isKey) fail(`body.candidates.${clip(name)}`, `unknown feature (features: ${names()})`)
        if (c && inContext[c.index])
          fail(`body.candidates.${name}`, 'also given in context (give a feature in one place)')
        const list = candidates[name]
        if (!Array.isArray(list))
          fail(`body.candidates.${name}`, `expected a list of values, one per candidate, got ${describe(list)}`)
        if (n < 0) n = list.length
        else if (list.length !== n)
          fail(
            `body.candidates.${name}`,
            `${list.length} values, but body.candidates.${clip(keys[0])} has ${n} (one value per candidate in every column)`,
          )
        columns.push([c ?? null, list, `body.candidates.${name}`])
      }
    } else
      return fail(
        'body.candidates',
        `expected a list of candidate feature objects, or an object of feature columns, got ${describe(candidates)}`,
      )
  }
  const where = form === 'rows' ? 'body.candidates' : itemIds !== undefined ? 'body.item_ids' : 'body.candidates'
  if (n === 0) fail(where, 'expected at least 1 candidate, got 0')
  if (n > limits.maxCandidates)
    fail(where, `${n} candidates, over the limit of ${limits.maxCandidates} (hint: split the request)`, 413)

  const w = codec.writer(n)
  try {
    for (const [c, v] of contextValues) {
      path = () => `body.context.${c.feature.name}`
      w.put(c, 0, v, at)
      w.fill(c, 0, n)
    }
    const out =
      form === 'rows'
        ? writeRows(candidates as unknown[], codec, w, inContext, store)
        : writeColumns(columns, n, codec, w, inContext, store)
    if (counts) {
      counts.lookups += out.lookups
      counts.misses += out.unknown.length + out.skipped.length + out.defaulted
    }
    if (out.unknown.length > 0)
      unknownIds(
        out.unknown.map((u) => u.at),
        out.unknown.map((u) => u.id),
        n,
        store!,
      )
    return {
      batch: w.finish(out.size),
      index: out.index,
      skipped: out.skipped,
      lookups: out.lookups,
      misses: out.unknown.length + out.skipped.length + out.defaulted,
    }
  } catch (err) {
    return asRequestError(err)
  }

  interface Written {
    size: number
    index: Uint32Array
    skipped: number[]
    unknown: { at: string; id: unknown }[]
    defaulted: number
    lookups: number
  }

  /** Row form: one object per candidate. */
  function writeRows(
    list: unknown[],
    codec: CompiledCodec,
    w: BatchWriter,
    inContext: Uint8Array,
    store: ItemStore | undefined,
  ): Written {
    const own = codec.columns.length - contextValues.length // features each candidate needs beyond the context
    const seen = new Int32Array(codec.columns.length) // stamp i + 1: column given for candidate i
    const index = new Uint32Array(list.length)
    const written: Written = { size: 0, index, skipped: [], unknown: [], defaulted: 0, lookups: 0 }
    let o = 0
    let row = 0 // the candidate and feature being written, for error paths (the loop's own variables stay out of the closure)
    let name = ''
    const rowPath = () => `body.candidates[${row}].${name}`
    for (let i = 0; i < list.length; i++) {
      const c: unknown = list[i]
      row = i
      if (!isObject(c)) fail(`body.candidates[${i}]`, `expected an object of feature values, got ${describe(c)}`)
      let given = 0
      let key: unknown
      path = rowPath
      // `k` is local to the loop so that V8 reads c[k] by the object's enumeration cache
      for (const k in c) {
        const plan = codec.byName.get(k)
        const v = c[k]
        name = k
        if (store !== undefined && k === store.key) key = v
        if (!plan) {
          if (store !== undefined && k === store.key) continue
          fail(`body.candidates[${i}].${clip(k)}`, `unknown feature (features: ${names()})`)
        }
        if (inContext[plan.index])
          fail(`body.candidates[${i}].${k}`, 'also given in context (give a feature in one place)')
        w.put(plan, o, checked(plan.feature, v, at), at)
        seen[plan.index] = i + 1
        given++
      }
      if (given !== own && store !== undefined && key !== undefined) {
        written.lookups++
        let r = store.row(key)
        if (r < 0) {
          if (store.unknown === 'skip') {
            written.skipped.push(i)
            continue
          }
          if (store.unknown === 'error') {
            written.unknown.push({ at: `body.candidates[${i}].${store.key}`, id: key })
            continue
          }
          r = store.defaultRow
          written.defaulted++
        }
        for (const p of store.columns) {
          if (seen[p.index] === i + 1 || inContext[p.index]) continue
          w.copy(p, store.table, r, o)
          seen[p.index] = i + 1
          given++
        }
      }
      if (given !== own) {
        const missing = codec.columns.find((p) => !inContext[p.index] && seen[p.index] !== i + 1)!
        const why = !store
          ? 'not in the candidate nor in context'
          : key === undefined
            ? `not in the candidate nor in context, and no ${store.key} to look it up in the item store`
            : 'not in the candidate, the context nor the item store'
        fail(`body.candidates[${i}].${missing.feature.name}`, `missing feature (${why})`)
      }
      index[o++] = i
    }
    written.size = o
    return written
  }

  /** Columnar and id forms: one list per feature. */
  function writeColumns(
    cols: [ColumnPlan | null, unknown[], string][],
    n: number,
    codec: CompiledCodec,
    w: BatchWriter,
    inContext: Uint8Array,
    store: ItemStore | undefined,
  ): Written {
    const given = new Uint8Array(codec.columns.length)
    for (const [c] of cols) if (c) given[c.index] = 1
    const lacking = codec.columns.filter((p) => !given[p.index] && !inContext[p.index])
    const written: Written = { size: n, index: new Uint32Array(n), skipped: [], unknown: [], defaulted: 0, lookups: 0 }
    // the store row of each candidate, looked up first so that skipped candidates are never written
    let rows: Int32Array | null = null
    const out = new Int32Array(n) // batch row of each candidate, -1: skipped
    for (let i = 0; i < n; i++) out[i] = i
    if (lacking.length > 0) {
      const fromStore = store ? lacking.filter((p) => !store.holds(p)) : lacking
      if (fromStore.length > 0 || !store) {
        const missing = fromStore[0]
        const at =
          itemIds !== undefined ? `body.context.${missing.feature.name}` : `body.candidates.${missing.feature.name}`
        fail(
          at,
          `missing feature (not in the candidates nor in context${store ? ', and not held by the item store' : ''})`,
        )
      }
      const keyCol = cols.find(
        ([c, , p]) =>
          p === 'body.item_ids' || (c ? c.feature.name === store.key : p === `body.candidates.${store.key}`),
      )
      if (!keyCol)
        fail(
          `body.candidates.${lacking[0].feature.name}`,
          `missing feature (not in the candidates nor in context; give body.candidates.${store.key} or body.item_ids to take it from the item store)`,
        )
      rows = new Int32Array(n)
      let o = 0
      const [, keys, prefix] = keyCol
      for (let i = 0; i < n; i++) {
        written.lookups++
        let r = store.row(keys[i])
        if (r < 0) {
          if (store.unknown === 'skip') {
            written.skipped.push(i)
            out[i] = -1
            continue
          }
          if (store.unknown === 'error') {
            written.unknown.push({ at: `${prefix}[${i}]`, id: keys[i] })
            continue
          }
          r = store.defaultRow
          written.defaulted++
        }
        rows[i] = r
        out[i] = o++
      }
      if (written.unknown.length > 0) return written
      written.size = o
    }
    let i = 0
    let prefix = ''
    const colPath = () => `${prefix}[${i}]`
    for (const [c, values, p] of cols) {
      if (!c) continue // the store's key, not a model feature
      prefix = p
      path = colPath
      const f = c.feature
      for (i = 0; i < n; i++) {
        const o = out[i]
        if (o >= 0) w.put(c, o, checked(f, values[i], at), at)
      }
    }
    if (rows) for (const p of lacking) w.copyColumn(p, store!.table, rows, out)
    for (let k = 0; k < n; k++) if (out[k] >= 0) written.index[out[k]] = k
    return written
  }
}
