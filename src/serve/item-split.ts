/**
 * By-id ranking with the first layers split (POST /v1/rank with "item_ids" + "context" and an item store).
 *
 * Every model's first layers read the shared input x = [e_1 ‖ … ‖ e_F ‖ dense] (BN'd when inputBatchNorm is
 * on: at inference a per-column affine map a∘x + c). A Linear is linear in x's columns, so with the columns
 * split into the item store's (I) and the request-shared context's (C):
 *
 *   x W + b = Σ_{j∈I} a_j x_j W_j   +   (Σ_{j∈C} a_j x_j W_j + Σ_j c_j W_j + b)          W_j: row j of W, [H]
 *           = P[item]               +   K(context)
 *
 * P (one [items, H] table per such layer) is computed here once per loaded model and item store, from the
 * store's encoded rows and the trained tables and weights. Per request, K is one row computed in JS, and the
 * rest of the model (export/onnx.ts `exportSplitGraph`: P[row] + K, then the graph after those layers)
 * runs on the candidates. For a census-width ResFlow this skips ~90% of the work per candidate.
 *
 * A request takes this path only when it fits exactly: "item_ids" and "context" and nothing else, the
 * context gives every feature the store does not hold and none that it does, and every id is in the store
 * (and the key's own encoding, when the key is a feature, equals the store's). Anything else (overrides, rows
 * or columns, unknown ids, a bad value) returns null, and the caller takes the full path, which answers it
 * (errors included) as before. A model whose first layers read x other than through a Linear, or an x not
 * made of the tables and dense columns, gets no split (exportSplitGraph or prepareLayers returns null).
 *
 * Memory: items × Σ_layers H × 4 bytes (ResFlow 128/64, two tasks: 1 KiB per item).
 */
import { type Feed, Program } from '../engine/runtime.js'
import { toInt64 } from '../export/feeds.js'
import { probName, splitContextName, splitItemsName } from '../nn/graph-names.js'
import type { Prediction } from '../export/predictor.js'
import { SPLIT_ITEMS_DIM, type SplitGraph } from '../export/onnx.js'
import type { Model } from '../models/types.js'
import type { BatchWriter, ColumnPlan, CompiledCodec } from './columnar.js'
import type { ItemStore } from './item-store.js'
import { type Layer, contextRow, itemParts } from './item-projection.js'
import { type RankLimits, checkValue, isObject } from './request.js'

/** The answer of the split path: what the full path's predict gives, for `size` candidates in request order. */
export interface SplitPrediction extends Prediction {
  size: number
  /** ms spent before the model run (checks, lookups, K), for the server's phase times */
  prepMs: number
}

export interface ItemSplit {
  /** the layers split, with their widths */
  readonly layers: readonly { name: string; units: number }[]
  /** bytes held by the precomputed item parts P */
  readonly bytes: number
  /** ms spent computing P and compiling the rest graph */
  readonly loadMs: number
  /** scores a by-id request on the split path, or null when it does not fit (then the caller takes the full path) */
  rank(value: unknown, limits: RankLimits): Promise<SplitPrediction | null>
  release(): Promise<void>
}

/**
 * Precomputes P for every split layer and compiles the rest graph. `layers`: `graph.layers` prepared with
 * the store's columns as the item side (item-projection.ts `prepareLayers`).
 */
export async function createItemSplit(
  graph: SplitGraph,
  layers: Layer[],
  model: Model,
  store: ItemStore,
  codec: CompiledCodec,
  opts: { threads?: number } = {},
): Promise<ItemSplit> {
  const start = performance.now()
  const contextWriter = codec.writer(1)
  for (const l of layers) l.pre = await itemParts(l, store)
  const program = await Program.create(graph.rest.bytes, graph.rest.inputs, graph.rest.outputs, {
    threads: opts.threads,
  })
  const loadMs = performance.now() - start
  const tasks = model.tasks
  const keyPlan = codec.byName.get(store.key)
  const keyWriter = codec.writer(1)

  async function rank(value: unknown, limits: RankLimits): Promise<SplitPrediction | null> {
    const t0 = performance.now()
    const ids = fits(value, codec, store, limits)
    if (!ids) return null
    const n = ids.length
    // every value is checked as the full path checks it; any doubt goes back to the full path
    const w = contextWriter
    const context = (value as { context?: Record<string, unknown> }).context ?? {}
    try {
      for (const name in context) {
        const c = codec.byName.get(name)!
        w.put(
          c,
          0,
          checkValue(c.feature, context[name], () => `body.context.${name}`),
          () => `body.context.${name}`,
        )
      }
    } catch {
      return null
    }
    const rows = new Int32Array(n)
    for (let i = 0; i < n; i++) {
      const r = store.row(ids[i])
      if (r < 0) return null // unknown ids: the full path applies --unknown-items
      rows[i] = r
    }
    if (keyPlan && !sameKeys(keyPlan, ids, rows, keyWriter, store.table)) return null

    // the rest graph gathers P[row] and adds K (export/onnx.ts exportSplitGraph); P is fed as it is, no copy in JS
    const feeds: Record<string, Feed> = { 'pre.rows': toInt64(rows) }
    for (const l of layers) {
      feeds[splitItemsName(l.name)] = l.pre
      feeds[splitContextName(l.name)] = Float32Array.from(contextRow(l, w))
    }
    const prepMs = performance.now() - t0
    const out = await program.run(feeds, { B: n, [SPLIT_ITEMS_DIM]: store.size })
    const probs: Record<string, Float32Array> = {}
    for (const task of tasks) probs[task] = out[probName(task)] as Float32Array
    return { size: n, probs, score: out.score as Float32Array, prepMs }
  }

  return {
    layers: layers.map((l) => ({ name: l.name, units: l.units })),
    bytes: layers.reduce((s, l) => s + l.pre.byteLength, 0),
    loadMs,
    rank,
    release: () => program.release(),
  }
}

/** The item ids of a request that has exactly the by-id form the split serves, else null. */
function fits(value: unknown, codec: CompiledCodec, store: ItemStore, limits: RankLimits): unknown[] | null {
  if (!isObject(value)) return null
  for (const key in value) if (key !== 'context' && key !== 'item_ids') return null
  const ids = value.item_ids
  if (!Array.isArray(ids) || ids.length === 0 || ids.length > limits.maxCandidates) return null
  const context = value.context ?? {}
  if (!isObject(context)) return null
  let given = 0
  for (const name in context) {
    const c = codec.byName.get(name)
    if (!c || store.holds(c)) return null // unknown, or an override of an item feature
    given++
  }
  // every feature the store lacks must be in the context
  return given + store.columns.length === codec.columns.length ? ids : null
}

/** Whether each request id encodes (as the key feature) to the store row's encoding; "007" may find item 7 but encode otherwise. */
function sameKeys(plan: ColumnPlan, ids: unknown[], rows: Int32Array, w: BatchWriter, table: BatchWriter): boolean {
  const at = () => 'body.item_ids'
  try {
    for (let i = 0; i < ids.length; i++) {
      const v = ids[i]
      w.put(
        plan,
        0,
        typeof v === 'string' || (typeof v === 'number' && Number.isSafeInteger(v))
          ? v
          : checkValue(plan.feature, v, at),
        at,
      )
      for (const t of plan.targets) {
        if (t.kind === 'sparse' || t.kind === 'bucket') {
          if (w.ids[t.slot][0] !== table.ids[t.slot][rows[i]]) return false
        } else if (t.kind === 'dense') {
          const nD = w.codec.nDense
          if (w.dense[t.index] !== table.dense[rows[i] * nD + t.index]) return false
        } else {
          const a = w.lists[t.name][0]
          const b = table.lists[t.name][rows[i]]
          if ((a?.length ?? 0) !== (b?.length ?? 0) || (a && b && a.some((x, k) => x !== b[k]))) return false
        }
      }
    }
  } catch {
    return false
  }
  return true
}
