/**
 * Full rows that repeat the context (POST /v1/rank, rows or columns): the first layers' context part once
 * per request.
 *
 * Clients often send every feature in every candidate, the user's and the request's included, so 25 of a
 * census-width row's 40 values are the same in all 1000 rows. The first layers read x = [item ‖ context]
 * columns through a Linear, x W + b = x_item W_item + (x_context W_context + b) (item-projection.ts, with
 * input BatchNorm folded in), so when every context-side column holds one value across the request, the
 * context part K is one row, computed here in JS from row 0, and the model runs on the item columns only
 * (export/onnx.ts `exportRowSplitGraph`: W_item baked in, the context-side lookups gone). For a census-width
 * ResFlow (the serving bench's data, embedding dim 16) that is 195 of x's 535 columns.
 *
 * Which columns are item-side: those the item store holds (serve --items), else those the dataset schema
 * marks `side: item`. A batch whose context-side columns differ between rows (two users in one request)
 * returns null, and the caller runs the full model. The scores equal the full model's up to float rounding
 * (the sums are grouped differently).
 */
import { type Feed, Program } from '../engine/runtime.js'
import { batchFeeds, toInt64 } from '../export/feeds.js'
import { featureIdsName, probName, splitContextName } from '../nn/graph-names.js'
import {
  type FeatureLayout,
  JOINED_IDS_INPUT,
  type JoinedLookup,
  type RowSplitLayer,
  exportRowSplitGraph,
} from '../export/onnx.js'
import type { Prediction } from '../export/predictor.js'
import type { Fusion } from '../metrics/fusion.js'
import type { Model } from '../models/types.js'
import type { Batch } from '../data/types.js'
import type { ModelWeights } from '../run/open-run.js'
import type { BatchWriter, ColumnPlan, CompiledCodec } from './columnar.js'
import { type Layer, contextRow } from './item-projection.js'

export interface RowSplit {
  /** the layers split, with their widths and how many of x's columns stay per row */
  readonly layers: readonly { name: string; units: number; itemColumns: number; columns: number }[]
  /** ms spent preparing the weights and compiling the graph */
  readonly loadMs: number
  /** scores `batch` on the row split, or null when its context-side columns are not the same in every row */
  rank(batch: Batch): Promise<Prediction | null>
  release(): Promise<void>
}

/**
 * Compiles the row-split graph from the first layers prepared with their item side (item-projection.ts
 * `prepareLayers`). Null when it does not apply: a layer with no context-side column, or a model that reads
 * the features other than through those layers.
 */
export async function createRowSplit(
  layers: readonly Layer[],
  model: Model,
  weights: ModelWeights,
  codec: CompiledCodec,
  layout: FeatureLayout,
  opts: { threads?: number; fusion?: Fusion | null } = {},
): Promise<RowSplit | null> {
  const start = performance.now()
  if (layers.some((l) => l.context.length === 0)) return null
  const row0 = codec.writer(1)
  const halves = new Map(layers.map((l) => [l.name, itemHalf(l, codec.nDense)]))
  const built = exportRowSplitGraph(model, weights, halves, { fusion: opts.fusion })
  if (!built) return null
  const { graph, joined } = built
  const program = await Program.create(graph.bytes, graph.inputs, graph.outputs, { threads: opts.threads })
  const needed = new Set(graph.inputs.map((io) => io.name))
  const itemLayout: FeatureLayout = {
    ...layout,
    sparse: layout.sparse.filter((f) => needed.has(featureIdsName(f))),
    multi: layout.multi.filter((f) => needed.has(featureIdsName(f.name))),
  }
  const contextColumns = [...new Set(layers.flatMap((l) => l.context.map((b) => b.plan)))]
  const tasks = model.tasks

  async function rank(batch: Batch): Promise<Prediction | null> {
    if (!sameInEveryRow(batch, contextColumns, codec.nDense)) return null
    firstRow(batch, contextColumns, row0)
    const { feeds: all, dims } = batchFeeds(itemLayout, batch)
    const feeds: Record<string, Feed> = {}
    for (const name of needed) if (name in all) feeds[name] = all[name]
    if (joined) feeds[JOINED_IDS_INPUT] = joinedIds(batch, joined)
    for (const l of layers) feeds[splitContextName(l.name)] = Float32Array.from(contextRow(l, row0))
    const out = await program.run(feeds, dims)
    const probs: Record<string, Float32Array> = {}
    for (const task of tasks) probs[task] = out[probName(task)] as Float32Array
    return { probs, score: out.score as Float32Array }
  }

  return {
    layers: layers.map((l) => ({
      name: l.name,
      units: l.units,
      itemColumns: halves.get(l.name)!.tableWeights.length / l.units + l.item.filter((b) => b.kind === 'dense').length,
      columns: l.wa.length / l.units,
    })),
    loadMs: performance.now() - start,
    rank,
    release: () => program.release(),
  }
}

/** A layer's item-side rows of Wa (input BatchNorm folded in), as the row-split graph bakes them in. */
function itemHalf(l: Layer, nDense: number): RowSplitLayer {
  const H = l.units
  const tables: string[] = []
  const rows: number[] = []
  let denseWeights: Float32Array | null = null
  for (const b of l.item) {
    if (b.kind === 'table') {
      tables.push(b.name)
      for (let d = 0; d < b.dim; d++) rows.push(b.j0 + d)
    } else {
      denseWeights ??= new Float32Array(nDense * H)
      denseWeights.set(l.wa.subarray(b.j0 * H, (b.j0 + 1) * H), b.col * H)
    }
  }
  const tableWeights = new Float32Array(rows.length * H)
  rows.forEach((j, k) => tableWeights.set(l.wa.subarray(j * H, (j + 1) * H), k * H))
  return { tables, tableWeights, denseWeights }
}

/** Whether every column in `columns` holds row 0's value in every row of the batch. */
function sameInEveryRow(batch: Batch, columns: readonly ColumnPlan[], nDense: number): boolean {
  const n = batch.size
  for (const c of columns) {
    for (const t of c.targets) {
      if (t.kind === 'sparse' || t.kind === 'bucket') {
        const ids = batch.sparse[t.name]
        const v = ids[0]
        for (let r = 1; r < n; r++) if (ids[r] !== v) return false
      } else if (t.kind === 'dense') {
        const v = batch.dense[t.index]
        for (let r = 1; r < n; r++) if (batch.dense[r * nDense + t.index] !== v) return false
      } else {
        const { offsets, ids } = batch.multi[t.name]
        const len = offsets[1] - offsets[0]
        for (let r = 1; r < n; r++) {
          if (offsets[r + 1] - offsets[r] !== len) return false
          for (let k = 0; k < len; k++) if (ids[offsets[r] + k] !== ids[offsets[0] + k]) return false
        }
      }
    }
  }
  return true
}

/** Row 0 of the batch's context-side columns, into the one-row writer the context part is computed from. */
function firstRow(batch: Batch, columns: readonly ColumnPlan[], w: BatchWriter): void {
  for (const c of columns) {
    for (const t of c.targets) {
      if (t.kind === 'sparse' || t.kind === 'bucket') w.ids[t.slot][0] = batch.sparse[t.name][0]
      else if (t.kind === 'dense') w.dense[t.index] = batch.dense[t.index]
      else {
        const { offsets, ids } = batch.multi[t.name]
        w.lists[t.name][0] = ids.slice(offsets[0], offsets[1])
      }
    }
  }
}

/** The item tables' ids of each row, shifted into the joined table: [B, T], int64. */
function joinedIds(batch: Batch, joined: JoinedLookup): BigInt64Array {
  const n = batch.size
  const T = joined.tables.length
  const ids = new Int32Array(n * T)
  joined.tables.forEach((t, k) => {
    const col = batch.sparse[t]
    const offset = joined.offsets[k]
    for (let r = 0; r < n; r++) ids[r * T + k] = col[r] + offset
  })
  return toInt64(ids)
}
