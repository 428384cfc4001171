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
 * made of the tables and dense columns, gets no split (createItemSplit returns null).
 *
 * Memory: items × Σ_layers H × 4 bytes (ResFlow 128/64, two tasks: 1 KiB per item).
 */
import { type Feed, Program } from '../engine/runtime.js'
import { ExportError } from '../errors.js'
import { toInt64 } from '../export/feeds.js'
import type { Prediction } from '../export/predictor.js'
import { type ModelWeights, SPLIT_ITEMS_DIM, type SplitGraph, type SplitLayerPlan } from '../export/onnx.js'
import type { Model } from '../models/types.js'
import type { BatchWriter, ColumnPlan, CompiledCodec } from './columnar.js'
import type { ItemStore } from './item-store.js'
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

/** Where one column block of x is read from. */
type Block =
  | {
      kind: 'table'
      name: string
      dim: number
      pooling: 'sum' | 'mean' | undefined
      table: Float32Array
      plan: ColumnPlan
      j0: number
    }
  | { kind: 'dense'; col: number; plan: ColumnPlan; j0: number }

interface Layer {
  name: string
  units: number
  /** W with row j scaled by BN's a_j: [I, H] */
  wa: Float32Array
  /** b + Σ_j c_j W_j: [H] */
  constant: Float64Array
  item: Block[]
  context: Block[]
  /** P: [items, H] */
  pre: Float32Array
  /** per context block, its projected table (small single-valued tables), else null */
  contextProjected: (Float32Array | null)[]
}

/**
 * Precomputes P for every split layer and compiles the rest graph. Null when the split does not apply: a
 * feature of x that no raw column feeds (a model with its own tables), or a layer with no item columns.
 */
export async function createItemSplit(
  graph: SplitGraph,
  model: Model,
  weights: ModelWeights,
  store: ItemStore,
  codec: CompiledCodec,
  opts: { threads?: number } = {},
): Promise<ItemSplit | null> {
  const start = performance.now()
  // the raw column feeding each model feature (a table, or a dense column)
  const byTarget = new Map<string, ColumnPlan>()
  const byDense = new Map<number, ColumnPlan>()
  for (const c of codec.columns) {
    for (const t of c.targets) {
      if (t.kind === 'dense') byDense.set(t.index, c)
      else byTarget.set(t.name, c)
    }
  }
  const contextWriter = codec.writer(1)
  const layers: Layer[] = []
  for (const plan of graph.layers) {
    const layer = prepareLayer(plan, model, weights, byTarget, byDense, store)
    if (!layer) return null
    layers.push(layer)
  }
  for (const l of layers) {
    l.pre = await itemParts(l, store)
    for (const b of l.context)
      l.contextProjected.push(
        projectable(b, contextWriter, CONTEXT_PROJECT_ROWS) ? await project(b, l.wa, l.units) : null,
      )
  }
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
      feeds[`pre.${l.name}.items`] = l.pre
      feeds[`pre.${l.name}.context`] = Float32Array.from(contextRow(l, w))
    }
    const prepMs = performance.now() - t0
    const out = await program.run(feeds, { B: n, [SPLIT_ITEMS_DIM]: store.size })
    const probs: Record<string, Float32Array> = {}
    for (const task of tasks) probs[task] = out[`p.${task}`] as Float32Array
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

/** A split layer's weights, BN folded into them, and its column blocks by side. Null when a block has no raw column. */
function prepareLayer(
  plan: SplitLayerPlan,
  model: Model,
  weights: ModelWeights,
  byTarget: Map<string, ColumnPlan>,
  byDense: Map<number, ColumnPlan>,
  store: ItemStore,
): Layer | null {
  const { name, fanIn: I, units: H, columns } = plan
  const param = (p: string, size: number): Float32Array => {
    const v = weights.params.get(p)
    if (!v || v.length !== size)
      throw new ExportError(
        `weights: parameter "${p}" has ${v?.length ?? 'no'} values, the item split expects ${size}`,
        { field: p },
      )
    return v
  }
  const W = param(`${name}.weight`, I * H)
  // BN at inference: x̂_j = a_j x_j + c_j, a = γ / √(var + eps), c = β − mean · a
  const a = new Float64Array(I).fill(1)
  const c = new Float64Array(I)
  if (columns.batchNorm) {
    const { name: bn, eps } = columns.batchNorm
    const gamma = param(`${bn}.gamma`, I)
    const beta = param(`${bn}.beta`, I)
    const mean = param(`${bn}.running_mean`, I)
    const variance = param(`${bn}.running_var`, I)
    for (let j = 0; j < I; j++) {
      a[j] = gamma[j] / Math.sqrt(variance[j] + eps)
      c[j] = beta[j] - mean[j] * a[j]
    }
  }
  const wa = new Float32Array(I * H)
  const constant = new Float64Array(H)
  if (plan.bias) {
    const b = param(`${name}.bias`, H)
    for (let o = 0; o < H; o++) constant[o] = b[o]
  }
  for (let j = 0; j < I; j++) {
    for (let o = 0; o < H; o++) {
      const wjo = W[j * H + o]
      wa[j * H + o] = a[j] * wjo
      constant[o] += c[j] * wjo
    }
  }
  const item: Block[] = []
  const context: Block[] = []
  let j0 = 0
  for (const t of columns.tables) {
    const spec = model.embeddings.find((e) => e.name === t)
    const table = weights.tables.get(t)
    const c = byTarget.get(t)
    if (!spec || !table || !c) return null
    ;(store.holds(c) ? item : context).push({
      kind: 'table',
      name: t,
      dim: spec.dim,
      pooling: spec.pooling,
      table,
      plan: c,
      j0,
    })
    j0 += spec.dim
  }
  for (const col of columns.denseCols) {
    const c = byDense.get(col)
    if (!c) return null
    ;(store.holds(c) ? item : context).push({ kind: 'dense', col, plan: c, j0 })
    j0 += 1
  }
  if (j0 !== I || item.length === 0) return null
  return { name, units: H, wa, constant, item, context, pre: new Float32Array(0), contextProjected: [] }
}

/** Adds x_b · Wa[j0 .. j0 + len) for block b of row `row` of `src` (a Batch-like writer) into acc [H]. */
function addBlock(acc: Float64Array, b: Block, src: BatchWriter, row: number, wa: Float32Array, H: number): void {
  if (b.kind === 'dense') {
    const x = src.dense[row * src.codec.nDense + b.col]
    if (x !== 0) for (let o = 0; o < H; o++) acc[o] += x * wa[b.j0 * H + o]
    return
  }
  const D = b.dim
  const add = (id: number, weight: number) => {
    for (let d = 0; d < D; d++) {
      const x = weight * b.table[id * D + d]
      if (x === 0) continue
      const w0 = (b.j0 + d) * H
      for (let o = 0; o < H; o++) acc[o] += x * wa[w0 + o]
    }
  }
  const single = src.sparse[b.name]
  if (single) add(single[row], 1)
  else {
    const list = src.lists[b.name][row]
    if (list && list.length > 0) {
      const weight = b.pooling === 'mean' ? 1 / list.length : 1
      for (const id of list) add(id, weight)
    }
  }
}

/** Lets the event loop run (requests on the model being replaced) between chunks of the precomputation. */
const breathe = () => new Promise<void>((resolve) => setImmediate(resolve))
const CHUNK = 1024

/** A single-valued table's rows times its block of Wa: [rows, H], so that a lookup costs H additions. */
async function project(b: Extract<Block, { kind: 'table' }>, wa: Float32Array, H: number): Promise<Float32Array> {
  const rows = b.table.length / b.dim
  const out = new Float32Array(rows * H)
  const acc = new Float64Array(H)
  for (let id = 0; id < rows; id++) {
    acc.fill(0)
    for (let d = 0; d < b.dim; d++) {
      const x = b.table[id * b.dim + d]
      const w0 = (b.j0 + d) * H
      for (let o = 0; o < H; o++) acc[o] += x * wa[w0 + o]
    }
    out.set(acc, id * H)
    if (id % CHUNK === CHUNK - 1) await breathe()
  }
  return out
}

/** Whether block b is a single-valued table of at most `maxRows` rows (worth projecting once). */
const projectable = (b: Block, src: BatchWriter, maxRows: number): b is Extract<Block, { kind: 'table' }> =>
  b.kind === 'table' && src.sparse[b.name] !== undefined && b.table.length / b.dim <= maxRows

/**
 * P = x_item · Wa for every item of the store: [items, H]. A single-valued table no larger than the store is
 * projected once and each item adds its id's row: for the usual item vocabularies that is far less work
 * than projecting each item's vector. Items are summed row by row (one row of P in cache while its blocks
 * are added), in chunks between which the event loop runs, so a reload with a large store does not stall
 * the requests still served by the old model.
 */
async function itemParts(l: Layer, store: ItemStore): Promise<Float32Array> {
  const H = l.units
  const n = store.size
  const acc = new Float64Array(H)
  const projected: (Float32Array | null)[] = []
  for (const b of l.item) projected.push(projectable(b, store.table, n) ? await project(b, l.wa, H) : null)
  const ids = l.item.map((b) => (b.kind === 'table' ? store.table.sparse[b.name] : undefined))
  const pre = new Float32Array(n * H)
  for (let r = 0; r < n; r++) {
    acc.fill(0)
    l.item.forEach((b, k) => {
      const p = projected[k]
      if (!p) return addBlock(acc, b, store.table, r, l.wa, H)
      const src = ids[k]![r] * H
      for (let o = 0; o < H; o++) acc[o] += p[src + o]
    })
    pre.set(acc, r * H)
    if (r % CHUNK === CHUNK - 1) await breathe()
  }
  return pre
}

/** Context tables up to this many rows are projected at load (K then costs H additions per feature). */
const CONTEXT_PROJECT_ROWS = 65_536

/** K = Σ_context x_j Wa_j + constant, from row 0 of the context writer: [H]. */
function contextRow(l: Layer, w: BatchWriter): Float64Array {
  const H = l.units
  const acc = Float64Array.from(l.constant)
  l.context.forEach((b, k) => {
    const p = l.contextProjected[k]
    if (!p || b.kind !== 'table') return addBlock(acc, b, w, 0, l.wa, H)
    const src = w.sparse[b.name][0] * H
    for (let o = 0; o < H; o++) acc[o] += p[src + o]
  })
  return acc
}
