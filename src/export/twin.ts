/**
 * The two halves of a trained resflow-twin run, for pre-ranking (see models/resflow-twin.ts):
 *
 *   user tower  user/context features → user.<task>  u_k  float [B, V]     once per request
 *   item tower  item features         → item.<task>  v_k  float [B, V]     once per item, cached
 *
 * and how serving puts them back together, exactly as training does (TwinComposition, in build order):
 *   d_k = ⟨u_k, v_k⟩
 *   z_k = d_k                          no parents, or residual 'none'
 *   z_k = d_k + mean_P z_P             residual 'logit' | 'full' (a chain: z_k = d_k + z_{k−1})
 *   z_k = min_P z_P − softplus(d_k)    nonIncreasing
 *   p_k = σ(z_k),  score = fusion of the p_k (metrics/fusion.ts)
 *
 * Both towers are ordinary ONNX files (`writeTwinTowers`): the graphs the full export emits per side
 * (export/onnx.ts), each taking its own side's features only, with the composition above stored as JSON
 * in the metadata key `resflow.twin`, so a consumer outside resflow can score with nothing else. Inputs
 * (the full model's convention, restricted to one side; `resflow.features` lists the side's features):
 *   ids.<f>      int64 [B] or [B, L_f]   the side's categorical features (0 = out-of-vocabulary)
 *   weights.<f>  float [B, L_f]          pooling weights of its multi-valued ones
 *   dense        float [B, nDense_side]  its numeric features, transformed, in feature order
 * (The full export's per-side graphs take `dense` over all numeric features; here a constant 0/1
 * MatMul in front of the graph places the side's columns, exactly, where the graph reads them.)
 *
 * `encodeSide` encodes raw rows of one side only (item rows need no user features and vice versa),
 * with the run's fitted preprocessing, into the feeds of that side's tower.
 */
import onnxProto from 'onnx-proto'
import type { Preprocessing } from '../data/preprocessing.js'
import { encodeRows } from '../data/encode-rows.js'
import type { Batch } from '../data/types.js'
import type { Feed } from '../engine/runtime.js'
import { DataError, ExportError } from '../errors.js'
import type { Side } from '../nn/inputs.js'
import { type ResFlowConfig, resflowTaskNodes } from '../models/resflow.js'
import { writeAtomic } from '../run/write-atomic.js'
import { batchFeeds } from './feeds.js'
import type { Fusion } from '../metrics/fusion.js'
import type { ExportedGraph, FeatureLayout } from './onnx.js'
import { type RawRow, joinLists } from './codec.js'
import { type ExportedRun, exportRun } from './predictor.js'

/** How per-task dot products d_k become logits z_k; stored in each tower file as `resflow.twin`. */
export interface TwinComposition {
  /** task names in funnel order (the order of outputs and probabilities) */
  tasks: string[]
  /** tasks in build order, each after its parents; a chain has one parent per task but the first */
  nodes: { task: string; parents: string[] }[]
  residual: 'none' | 'logit' | 'full'
  nonIncreasing: boolean
  /** V, the width of every u_k and v_k */
  vectorDim: number
  fusion: Fusion
}

/** What one tower reads: its graph and the features of its side. */
export interface TowerPart {
  side: Side
  graph: ExportedGraph
  /** the side's features, in the full model's layout order */
  layout: FeatureLayout
}

/** A resflow-twin run split into its two towers. */
export interface TwinExport {
  run: ExportedRun
  composition: TwinComposition
  user: TowerPart
  item: TowerPart
  /** the fitted preprocessing, validated */
  preprocessing: Preprocessing
}

export const TWIN_METADATA_KEY = 'resflow.twin'

/** The composition of a twin run, from its stored model config (the same task graph the model was built with). */
export function twinComposition(
  run: Pick<ExportedRun, 'manifest' | 'modelConfig' | 'model' | 'exported'>,
): TwinComposition {
  const { manifest, model } = run
  const { model: name, options } = run.modelConfig
  if (name !== 'resflow-twin') {
    throw new ExportError(
      `run.json: model "${name}" has no user and item towers; pre-ranking needs a resflow-twin run`,
      { field: 'model' },
    )
  }
  const config = options as ResFlowConfig & { vectorDim: number }
  const nodes = resflowTaskNodes(model.spec, config, { positiveRates: manifest.positiveRates })
  return {
    tasks: [...model.tasks],
    nodes: nodes.map((n) => ({ task: n.task, parents: [...n.parents] })),
    residual: config.residual,
    nonIncreasing: config.nonIncreasing,
    vectorDim: config.vectorDim,
    fusion: run.exported.fusion,
  }
}

function sideLayout(layout: FeatureLayout, prep: Preprocessing, side: Side): FeatureLayout {
  const on = (f: { side?: Side }) => (f.side ?? 'user') === side
  const names = new Set([...prep.sparse, ...prep.buckets, ...prep.multi, ...prep.dense].filter(on).map((f) => f.name))
  return {
    sparse: layout.sparse.filter((n) => names.has(n)),
    multi: layout.multi.filter((m) => names.has(m.name)),
    dense: layout.dense.filter((n) => names.has(n)),
  }
}

/**
 * A per-side graph of the full export made standalone: its `dense` input narrowed to the side's columns
 * (when the side reads only some of them), its features listed in `resflow.features`, and the composition
 * in `resflow.twin`.
 */
function towerFile(
  graph: ExportedGraph,
  full: FeatureLayout,
  own: FeatureLayout,
  composition: TwinComposition,
): ExportedGraph {
  const { onnx } = onnxProto
  const proto = onnx.ModelProto.decode(graph.bytes)
  const g = proto.graph!
  const nodes = g.node ?? []
  let inputs = graph.inputs
  const denseInput = (g.input ?? []).find((i) => i.name === 'dense')
  const nAll = full.dense.length
  const nOwn = own.dense.length
  if (denseInput && nOwn < nAll) {
    // dense_all [B, nAll] = dense [B, nOwn] · S [nOwn, nAll], S[r, c] = 1 where own column r is column c: exact
    const select = new Float32Array(nOwn * nAll)
    own.dense.forEach((name, r) => {
      select[r * nAll + full.dense.indexOf(name)] = 1
    })
    const ALL = 'twin.dense_all'
    for (const node of nodes) node.input = (node.input ?? []).map((x) => (x === 'dense' ? ALL : x))
    g.node = [
      onnx.NodeProto.create({
        name: 'twin.place_dense',
        opType: 'MatMul',
        input: ['dense', 'twin.dense_select'],
        output: [ALL],
      }),
      ...nodes,
    ]
    g.initializer = [
      ...(g.initializer ?? []),
      onnx.TensorProto.create({
        name: 'twin.dense_select',
        dims: [nOwn, nAll],
        dataType: onnx.TensorProto.DataType.FLOAT,
        rawData: new Uint8Array(select.buffer),
      }),
    ]
    denseInput.type!.tensorType!.shape!.dim![1] = onnx.TensorShapeProto.Dimension.create({ dimValue: nOwn })
    inputs = graph.inputs.map((io) => (io.name === 'dense' ? { ...io, shape: [io.shape[0], nOwn] } : io))
  }
  const metadata: Record<string, string> = {
    ...graph.metadata,
    'resflow.features': JSON.stringify(own),
    'resflow.inputs': JSON.stringify(inputs.map((io) => ({ name: io.name, dtype: io.dtype, shape: io.shape }))),
    [TWIN_METADATA_KEY]: JSON.stringify(composition),
  }
  proto.metadataProps = Object.entries(metadata).map(([key, value]) =>
    onnx.StringStringEntryProto.create({ key, value }),
  )
  return { bytes: onnx.ModelProto.encode(proto).finish(), inputs, outputs: graph.outputs, metadata }
}

/**
 * Reads a resflow-twin run directory and splits it into its two towers (nothing compiled yet). The full
 * model (`run.exported.main`) comes along unchanged, so the full-model export keeps working beside it.
 */
export function exportTwinRun(runDir: string): TwinExport {
  return twinOfRun(exportRun(runDir))
}

/** As exportTwinRun, from a run already exported with exportRun. */
export function twinOfRun(run: ExportedRun): TwinExport {
  const composition = twinComposition(run)
  const { preprocessing } = run
  const part = (side: Side): TowerPart => {
    const graph = run.exported.towers[side]
    if (!graph)
      throw new ExportError(`export: model "${run.model.name}" gave no ${side} tower (outputs ${side}.<task>)`, {
        field: side,
      })
    const layout = sideLayout(run.exported.layout, preprocessing, side)
    return { side, graph: towerFile(graph, run.exported.layout, layout, composition), layout }
  }
  return { run, composition, user: part('user'), item: part('item'), preprocessing }
}

/** model.onnx → model.user.onnx and model.item.onnx (as `resflow export` names them); returns the paths. */
export function writeTwinTowers(twin: TwinExport, out: string): { user: string; item: string } {
  const stem = out.endsWith('.onnx') ? out.slice(0, -'.onnx'.length) : out
  const files = { user: `${stem}.user.onnx`, item: `${stem}.item.onnx` }
  writeAtomic(files.user, twin.user.graph.bytes)
  writeAtomic(files.item, twin.item.graph.bytes)
  return files
}

/** Feeds of one tower file: ids, pooling weights and the side's dense block. */
export interface SideFeeds {
  feeds: Record<string, Feed>
  dims: Record<string, number>
  size: number
}

/**
 * Encodes raw rows of one side into its tower's feeds with the fitted preprocessing (unknown categories
 * → id 0, as in training). Only that side's columns are read, and each must be present (null = missing);
 * errors name `where[i].column`.
 */
export function sideEncoder(
  twin: Pick<TwinExport, 'preprocessing' | 'run'>,
  side: Side,
): (rows: readonly RawRow[], where: string) => SideFeeds {
  const prep = twin.preprocessing
  const on = (f: { side?: Side }) => (f.side ?? 'user') === side
  const own: Preprocessing = {
    ...prep,
    sparse: prep.sparse.filter(on),
    multi: prep.multi.filter(on),
    dense: prep.dense.filter(on),
    buckets: prep.buckets.filter(on),
  }
  const layout = sideLayout(twin.run.exported.layout, prep, side)
  const separators = own.multi.map((f) => [f.column, f.separator] as const)
  const columns = [...new Set([...own.sparse, ...own.buckets, ...own.multi, ...own.dense].map((f) => f.column))]
  return (rows, where) => {
    // every column of the side must be there (null marks a missing value), as /v1/rank requires of candidates:
    // a misspelt column would otherwise encode as missing, silently
    rows.forEach((r, i) => {
      const absent = columns.find((c) => !Object.hasOwn(r, c))
      if (absent !== undefined) {
        throw new DataError(
          `${where}[${i}].${absent}: missing feature (one of the ${side} side's; send null for a missing value)`,
          {
            field: `${where}[${i}].${absent}`,
          },
        )
      }
    })
    const flat = joinLists(rows, separators)
    const batch = encodeRows(own, flat, where)
    return { ...batchFeeds(layout, batch), size: batch.size }
  }
}

/**
 * The feeds of one side's tower for rows [lo, hi) of a batch encoded in the full model's layout (every
 * feature; an item store's batch, say): the side's ids and pooling weights, and its dense columns picked out.
 */
export function sideFeedsOfBatch(
  twin: Pick<TwinExport, 'run' | 'preprocessing'>,
  side: Side,
  batch: Batch,
  lo: number,
  hi: number,
): SideFeeds {
  const full = twin.run.exported.layout
  const own = sideLayout(full, twin.preprocessing, side)
  const nAll = full.dense.length
  const n = hi - lo
  const multi: Batch['multi'] = {}
  for (const { name } of own.multi) {
    const col = batch.multi[name]
    if (!col) throw new ExportError(`batch: no multi-valued column "${name}"`, { field: name })
    const base = col.offsets[lo]
    const offsets = new Int32Array(n + 1)
    for (let i = 0; i <= n; i++) offsets[i] = col.offsets[lo + i] - base
    multi[name] = { offsets, ids: col.ids.subarray(base, col.offsets[hi]) }
  }
  const sparse: Batch['sparse'] = {}
  for (const name of own.sparse) {
    const ids = batch.sparse[name]
    if (!ids) throw new ExportError(`batch: no sparse column "${name}"`, { field: name })
    sparse[name] = ids.subarray(lo, hi)
  }
  const denseAt = own.dense.map((name) => full.dense.indexOf(name))
  const dense = new Float32Array(n * denseAt.length)
  for (let i = 0; i < n; i++)
    for (let d = 0; d < denseAt.length; d++) dense[i * denseAt.length + d] = batch.dense[(lo + i) * nAll + denseAt[d]]
  const { feeds, dims } = batchFeeds(own, { size: n, sparse, multi, dense, labels: {} })
  return { feeds, dims, size: n }
}
