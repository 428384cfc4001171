/**
 * The load-time half of the item split (item-split.ts) and the row split (row-split.ts): each split layer's
 * weights with input BatchNorm folded in, the column blocks of x it reads (item side or context), P = the
 * item blocks projected through W for every stored item (in chunks, yielding to the event loop between
 * them, so a reload keeps serving), and a context's row K.
 */
import { ExportError } from '../errors.js'
import type { SplitLayerPlan } from '../export/onnx.js'
import type { ModelWeights } from '../run/open-run.js'
import type { Model } from '../models/types.js'
import type { BatchWriter, ColumnPlan, CompiledCodec } from './columnar.js'
import type { ItemStore } from './item-store.js'

/** Where one column block of x is read from. */
export type Block =
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

export interface Layer {
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
 * The split layers of `plans` (from exportSplitGraph): each one's weights with BN folded in, its column
 * blocks by side (`isItem`), and its small context tables projected. What the item split and the row split
 * both start from, so a server with both prepares them once. Null when a block of x has no raw column or a
 * layer has no item columns.
 */
export async function prepareLayers(
  plans: readonly SplitLayerPlan[],
  model: Model,
  weights: ModelWeights,
  codec: CompiledCodec,
  isItem: (c: ColumnPlan) => boolean,
): Promise<Layer[] | null> {
  const { byTarget, byDense } = columnSources(codec)
  const layers: Layer[] = []
  for (const plan of plans) {
    const layer = prepareLayer(plan, model, weights, byTarget, byDense, isItem)
    if (!layer) return null
    layers.push(layer)
  }
  const src = codec.writer(1)
  for (const l of layers) await projectContext(l, src)
  return layers
}

/** A split layer's weights, BN folded into them, and its column blocks by side (`isItem`). Null when a block has no raw column. */
function prepareLayer(
  plan: SplitLayerPlan,
  model: Model,
  weights: ModelWeights,
  byTarget: Map<string, ColumnPlan>,
  byDense: Map<number, ColumnPlan>,
  isItem: (c: ColumnPlan) => boolean,
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
    ;(isItem(c) ? item : context).push({
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
    ;(isItem(c) ? item : context).push({ kind: 'dense', col, plan: c, j0 })
    j0 += 1
  }
  if (j0 !== I || item.length === 0) return null
  return { name, units: H, wa, constant, item, context, pre: new Float32Array(0), contextProjected: [] }
}

/** The raw column feeding each model feature: by table name, and by dense column. */
function columnSources(codec: CompiledCodec): {
  byTarget: Map<string, ColumnPlan>
  byDense: Map<number, ColumnPlan>
} {
  const byTarget = new Map<string, ColumnPlan>()
  const byDense = new Map<number, ColumnPlan>()
  for (const c of codec.columns) {
    for (const t of c.targets) {
      if (t.kind === 'dense') byDense.set(t.index, c)
      else byTarget.set(t.name, c)
    }
  }
  return { byTarget, byDense }
}

/** Projects each small single-valued context table through the layer's weights (K then costs H additions per feature). */
async function projectContext(l: Layer, src: BatchWriter): Promise<void> {
  for (const b of l.context)
    l.contextProjected.push(projectable(b, src, CONTEXT_PROJECT_ROWS) ? await project(b, l.wa, l.units) : null)
}

/** Adds x_b · Wa[j0 .. j0 + len) for block b of row `row` of `src` (a Batch-like writer) into acc [H]. */
export function addBlock(
  acc: Float64Array,
  b: Block,
  src: BatchWriter,
  row: number,
  wa: Float32Array,
  H: number,
): void {
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
export async function project(
  b: Extract<Block, { kind: 'table' }>,
  wa: Float32Array,
  H: number,
): Promise<Float32Array> {
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
export const projectable = (b: Block, src: BatchWriter, maxRows: number): b is Extract<Block, { kind: 'table' }> =>
  b.kind === 'table' && src.sparse[b.name] !== undefined && b.table.length / b.dim <= maxRows

/**
 * P = x_item · Wa for every item of the store: [items, H]. A single-valued table no larger than the store is
 * projected once and each item adds its id's row: for the usual item vocabularies that is far less work
 * than projecting each item's vector. Items are summed row by row (one row of P in cache while its blocks
 * are added), in chunks between which the event loop runs, so a reload with a large store does not stall
 * the requests still served by the old model.
 */
export async function itemParts(l: Layer, store: ItemStore): Promise<Float32Array> {
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
export const CONTEXT_PROJECT_ROWS = 65_536

/** K = Σ_context x_j Wa_j + constant, from row 0 of the context writer: [H]. */
export function contextRow(l: Layer, w: BatchWriter): Float64Array {
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
