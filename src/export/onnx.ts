/**
 * The inference graph as a standalone ONNX model: embedding tables and weights baked in as
 * initializers, integer ids and dense values in, every task's probability and the fused score out.
 *
 * Inputs (B rows; a feature's name is the one of the preprocessing artifact):
 *   ids.<f>       int64 [B]        single-valued categorical feature f (0 = out-of-vocabulary)
 *   ids.<f>       int64 [B, L_f]   multi-valued feature f, each row's ids padded to L_f (pad with 0)
 *   weights.<f>   float [B, L_f]   the pooling weight of each id: 1 for sum pooling, 1/len for mean
 *                                  pooling, 0 on padding (an empty list is all zeros → a zero vector)
 *   dense         float [B, nDense] transformed numeric features in feature order (absent if none)
 * Outputs:
 *   p.<task>      float [B, 1]     probability of each task, funnel order
 *   score         float [B, 1]     fused ranking score: additive Σ w_k p_k or multiplicative
 *                                  exp(Σ a_k log p_k); with no stored fusion, the last task's probability
 * Metadata (metadata_props): resflow.schema_version, resflow.model, resflow.tasks, resflow.fusion,
 * resflow.features (feature order and kinds), resflow.inputs / resflow.outputs (names, dtypes, shapes).
 *
 * Models that return `extras` named `<side>.<name>` for an input side (the twin tower's `user.*` /
 * `item.*` vectors) are also exported one file per side: each holds only what its outputs depend on,
 * so item vectors can be precomputed from item features alone. (Dense features stay one `dense` input
 * in every file: a tower reads only its side's columns of it, so the other side's may hold zeros.)
 */
import type { IOInfo } from '../engine/runtime.js'
import { Graph, type Tensor } from '../engine/node.js'
import { add, concat, exp, gather, log, matmul, mul, reduceSum, reshape, scalarLike } from '../engine/ops.js'
import { topoSort } from '../engine/autodiff.js'
import { toOnnx } from '../engine/onnx-graph.js'
import { ExportError } from '../errors.js'
import type { Model } from '../models/types.js'
import {
  DENSE_INPUT,
  SCORE_OUTPUT,
  featureIdsName,
  isSplitInputName,
  listDim,
  poolWeightsName,
  probName,
  splitContextName,
  splitInputName,
  splitItemsName,
  tableName,
} from '../nn/graph-names.js'
import type { Side } from '../nn/inputs.js'
import { BuildContext, InputSplit, ParamStore } from '../nn/params.js'
import type { Fusion } from '../metrics/fusion.js'
import type { ModelWeights } from '../run/open-run.js'

/** Input sides (InputSpec `side`) whose extras, named `<side>.<name>`, are exported as separate towers. */
export const TOWER_SIDES = ['user', 'item'] as const satisfies readonly Side[]

/** Bumped when inputs, outputs or metadata change meaning. */
export const EXPORT_SCHEMA_VERSION = 1

/** Feature order and kinds, as stored in the metadata and used to build feeds. */
export interface FeatureLayout {
  sparse: string[]
  multi: { name: string; pooling: 'sum' | 'mean' }[]
  dense: string[]
}

export interface ExportedGraph {
  bytes: Uint8Array
  inputs: IOInfo[]
  outputs: IOInfo[]
  metadata: Record<string, string>
}

export interface ExportedModel {
  /** the full model: probabilities and score */
  main: ExportedGraph
  /** one graph per extras side (e.g. user, item), empty for models without extras */
  towers: Record<string, ExportedGraph>
  layout: FeatureLayout
  fusion: Fusion
}

export function featureLayout(model: Model): FeatureLayout {
  return {
    sparse: model.embeddings.filter((e) => !e.pooling).map((e) => e.name),
    multi: model.embeddings.filter((e) => e.pooling).map((e) => ({ name: e.name, pooling: e.pooling! })),
    dense: model.spec.dense.map((f) => f.name),
  }
}

/** The fusion a run stores, or the last task's probability when it stores none. */
export function effectiveFusion(tasks: readonly string[], fusion: Fusion | null | undefined): Fusion {
  if (fusion) {
    for (const task of Object.keys(fusion.weights)) {
      if (!tasks.includes(task))
        throw new ExportError(`fusion.weights.${task}: unknown task (tasks: ${tasks.join(', ')})`, {
          field: `fusion.weights.${task}`,
        })
    }
    return fusion
  }
  return { kind: 'additive', weights: { [tasks[tasks.length - 1]]: 1 } }
}

/** score [B, 1] from the task probabilities, in the graph. */
function fusedScore(fusion: Fusion, probs: Record<string, Tensor>): Tensor {
  let total: Tensor | null = null
  for (const [task, w] of Object.entries(fusion.weights)) {
    if (w === 0) continue
    const p = probs[task]
    const term = fusion.kind === 'additive' ? (w === 1 ? p : mul(p, scalarLike(p, w))) : mul(log(p), scalarLike(p, w))
    total = total ? add(total, term) : term
  }
  if (!total) {
    const p = Object.values(probs)[0]
    return fusion.kind === 'additive' ? mul(p, scalarLike(p, 0)) : add(mul(p, scalarLike(p, 0)), scalarLike(p, 1))
  }
  return fusion.kind === 'additive' ? total : exp(total)
}

/** Declares the id inputs and looks the vectors up in the table initializers. */
function lookupInputs(
  graph: Graph,
  model: Model,
  initializers: Map<string, Float32Array>,
  weights: ModelWeights,
): Record<string, Tensor> {
  const embeddings: Record<string, Tensor> = {}
  for (const e of model.embeddings) {
    const values = weights.tables.get(e.name)
    if (!values)
      throw new ExportError(
        `weights: no embedding table "${e.name}" (have: ${[...weights.tables.keys()].join(', ') || 'none'})`,
        { field: e.name },
      )
    if (values.length !== e.rows * e.dim) {
      throw new ExportError(
        `weights: table "${e.name}" has ${values.length} values, the model expects [${e.rows}, ${e.dim}] = ${e.rows * e.dim}`,
        { field: e.name },
      )
    }
    const table = graph.input(tableName(e.name), [e.rows, e.dim]) // [N, D]
    initializers.set(tableName(e.name), values)
    if (!e.pooling) {
      embeddings[e.name] = gather(table, graph.input(featureIdsName(e.name), ['B'], 'int64')) // [B, D]
    } else {
      const L = listDim(e.name)
      const ids = graph.input(featureIdsName(e.name), ['B', L], 'int64')
      const w = graph.input(poolWeightsName(e.name), ['B', L]) // [B, L]
      const rows = gather(table, ids) // [B, L, D]
      embeddings[e.name] = reduceSum(mul(rows, reshape(w, ['B', L, 1])), [1]) // [B, D]
    }
  }
  return embeddings
}

/** Inputs of a graph that are not initializers, in topological order. */
function graphInputs(outputs: Record<string, Tensor>, initializers: ReadonlyMap<string, unknown>): IOInfo[] {
  return topoSort(Object.values(outputs))
    .filter((t) => t.op === 'input' && !initializers.has(t.name!))
    .map((t) => ({ name: t.name!, shape: t.shape, dtype: t.dtype }))
}

function ioJson(ios: IOInfo[]): string {
  return JSON.stringify(ios.map((io) => ({ name: io.name, dtype: io.dtype, shape: io.shape })))
}

/** The inference graph of `model` built once (ordinary, or with the item split's switch on), ready to emit. */
function buildInference(
  model: Model,
  weights: ModelWeights,
  opts: { fusion?: Fusion | null },
  split: InputSplit | null,
) {
  const graph = new Graph('float32')
  const store = new ParamStore(0)
  const ctx = new BuildContext(store, false, graph, model.layers)
  ctx.split = split
  ctx.values = weights.params
  const initializers = new Map<string, Float32Array>()
  const embeddings = lookupInputs(graph, model, initializers, weights)
  const dense = model.spec.dense.length > 0 ? graph.input(DENSE_INPUT, ['B', model.spec.dense.length]) : null
  if (split) for (const [name, t] of Object.entries(embeddings)) split.tables.set(t, name)
  const out = model.forward(ctx, { embeddings, dense })
  if (split) for (const [name, values] of split.constants) initializers.set(name, values)
  for (const name of ctx.paramNames()) {
    const entry = store.entries.get(name)!
    const values = weights.params.get(name)
    if (!values)
      throw new ExportError(
        `weights: no parameter "${name}" for model "${model.name}" (hint: was the run trained with another model config?)`,
        { field: name },
      )
    if (values.length !== entry.values.length) {
      throw new ExportError(
        `weights: parameter "${name}" has ${values.length} values, the model expects [${entry.shape.join(', ')}]`,
        { field: name },
      )
    }
    initializers.set(name, values)
  }

  const fusion = effectiveFusion(model.tasks, opts.fusion)
  const layout = featureLayout(model)
  const outputs: Record<string, Tensor> = {}
  for (const task of model.tasks) outputs[probName(task)] = out.probs[task]
  outputs[SCORE_OUTPUT] = fusedScore(fusion, out.probs)
  const common: Record<string, string> = {
    'resflow.schema_version': String(EXPORT_SCHEMA_VERSION),
    'resflow.model': model.name,
    'resflow.tasks': JSON.stringify(model.tasks),
    'resflow.fusion': JSON.stringify(fusion),
    'resflow.features': JSON.stringify(layout),
  }
  const emit = (outs: Record<string, Tensor>, part: string): ExportedGraph => {
    const inputs = graphInputs(outs, initializers)
    const outputInfos = Object.entries(outs).map(([name, t]) => ({ name, shape: t.shape, dtype: t.dtype }))
    const metadata = {
      ...common,
      'resflow.part': part,
      'resflow.inputs': ioJson(inputs),
      'resflow.outputs': ioJson(outputInfos),
    }
    const used = new Set(
      topoSort(Object.values(outs))
        .filter((t) => t.op === 'input')
        .map((t) => t.name!),
    )
    const inits = new Map([...initializers].filter(([k]) => used.has(k)))
    return {
      bytes: toOnnx(outs, { initializers: inits, metadata, docString: `resflow ${model.name} (${part})` }),
      inputs,
      outputs: outputInfos,
      metadata,
    }
  }
  return { out, outputs, emit, layout, fusion, embeddings, dense }
}

/**
 * Builds the inference graph of `model` with `weights` and serialises it (and its extras sides).
 * Every dense parameter the forward pass uses must be in `weights.params`, with its shape.
 */
export function exportModel(model: Model, weights: ModelWeights, opts: { fusion?: Fusion | null } = {}): ExportedModel {
  const { out, outputs, emit, layout, fusion } = buildInference(model, weights, opts, null)
  const towers: Record<string, ExportedGraph> = {}
  const sides = new Map<string, Record<string, Tensor>>()
  for (const [key, t] of Object.entries(out.extras ?? {})) {
    const side = key.slice(0, key.indexOf('.'))
    if (!(TOWER_SIDES as readonly string[]).includes(side)) continue // other extras (e.g. ESMM's conditional CVR) stay internal
    if (!sides.has(side)) sides.set(side, {})
    sides.get(side)![key] = t
  }
  for (const [side, outs] of sides) towers[side] = emit(outs, side)
  return { main: emit(outputs, 'main'), towers, layout, fusion }
}

/** How the columns of a split layer's input x are made: D columns per table, then dense columns, then an optional BatchNorm. */
export interface SplitColumns {
  /** embedding tables (model.embeddings names), in column order */
  tables: string[]
  /** columns of the `dense` input, after the embeddings */
  denseCols: number[]
  batchNorm: { name: string; eps: number } | null
}

/** A first layer the split graph leaves out: `pre.<name>` = x · <name>.weight (+ <name>.bias) is fed to it. */
export interface SplitLayerPlan {
  name: string
  fanIn: number
  units: number
  bias: boolean
  columns: SplitColumns
}

export interface SplitGraph {
  /** the rest of the model: inputs `pre.*` only (nothing of the features), outputs as the main graph's */
  rest: ExportedGraph
  layers: SplitLayerPlan[]
}

/** The symbolic dim of the item parts' rows (SplitGraph inputs `pre.<layer>.items`). */
export const SPLIT_ITEMS_DIM = 'N_items'

/**
 * The inference graph with every Linear that reads the shared input x left out (the switch InputSplit,
 * nn/params.ts): the part of the model that comes after those layers, for the server's item split
 * (serve/item-split.ts). Each such layer's output x·W + b becomes
 *
 *   pre.<layer>.items[pre.rows] + pre.<layer>.context
 *
 * with inputs pre.rows int64 [B] (each candidate's item row), pre.<layer>.items [N_items, H] (the item
 * columns' part, per item: the caller's precomputed table, fed without a copy) and pre.<layer>.context
 * [1, H] (the context columns' part and the bias): the gather and the add run in onnxruntime, not per value
 * in JS. Null when the split does not apply: no such layer, a model that reads x (or the features) other
 * than through a Linear, or an x not made of the looked-up vectors and dense columns.
 */
export function exportSplitGraph(
  model: Model,
  weights: ModelWeights,
  opts: { fusion?: Fusion | null } = {},
): SplitGraph | null {
  let rows: Tensor | null = null
  const split = new InputSplit((graph, layer, batch) => {
    rows ??= graph.input('pre.rows', batch, 'int64') // [B]
    const items = graph.input(splitItemsName(layer.name), [SPLIT_ITEMS_DIM, layer.units]) // [N, H]
    return add(gather(items, rows), graph.input(splitContextName(layer.name), [1, layer.units])) // [B, H]
  })
  const { outputs, emit, embeddings, dense } = buildInference(model, weights, opts, split)
  if (split.layers.length === 0) return null
  const tableOf = new Map(Object.entries(embeddings).map(([name, t]) => [t, name]))
  const layers: SplitLayerPlan[] = []
  for (const l of split.layers) {
    const tables = l.input.embeddings.map((t) => tableOf.get(t))
    if (tables.some((t) => t === undefined)) return null
    if (l.input.dense !== null && l.input.dense !== dense) return null
    layers.push({
      name: l.name,
      fanIn: l.fanIn,
      units: l.units,
      bias: l.bias,
      columns: { tables: tables as string[], denseCols: l.input.denseCols, batchNorm: l.input.batchNorm },
    })
  }
  const rest = emit(outputs, 'rest')
  if (rest.inputs.some((io) => !isSplitInputName(io.name))) return null // something else still reads the features
  return { rest, layers }
}

/**
 * A first layer's item half, for the row split (serve/row-split.ts): its weights' rows for x's item-side
 * columns, input BatchNorm folded in (W_j scaled by a_j; the shift c_j W_j goes to the context part).
 */
export interface RowSplitLayer {
  /** the item-side tables, in x's column order */
  tables: string[]
  /** W's rows for those tables' columns: [Σ D, H] */
  tableWeights: Float32Array
  /** W's rows for the dense input's columns, zero for the context's: [nDense, H]; null when none is item-side */
  denseWeights: Float32Array | null
}

/**
 * The item-side tables joined into one, for the row split: one Gather of ids [B, T] (each table's ids
 * shifted by its offset) gives x's item columns in place, where T lookups and a Concat cost ~0.25 ms more
 * per 1000 rows at census width.
 */
export interface JoinedLookup {
  /** the tables, in x's column order, and where each one's rows start in the joined table */
  tables: string[]
  offsets: number[]
}

/** The graph input of the joined item ids, int64 [B, T]. */
export const JOINED_IDS_INPUT = splitInputName('item_ids')

/**
 * The inference graph for a request whose context-side columns are the same in every row (full rows that
 * repeat the user's features): each first Linear on x becomes
 *
 *   x_item · W_item + pre.<layer>.context
 *
 * with W_item baked in (`layers`, per layer name) and pre.<layer>.context [1, H] the context columns' part
 * and the bias, computed once per request by the caller. The context-side lookups drop out of the graph, so
 * its inputs are the item-side features' ids (and the dense input), and the first layers' multiply-adds
 * shrink to the item columns. When every layer reads the same single-valued item tables of one dim, they
 * are looked up as one joined table (`joined`; input pre.item_ids [B, T]). Null when the graph would still
 * read a context-side feature (a model that reads the features other than through x's first layers) or a
 * split layer has no item columns.
 */
export function exportRowSplitGraph(
  model: Model,
  weights: ModelWeights,
  layers: ReadonlyMap<string, RowSplitLayer>,
  opts: { fusion?: Fusion | null } = {},
): { graph: ExportedGraph; joined: JoinedLookup | null } | null {
  const joined = joinedLookup(model, layers)
  let joinedX: Tensor | null = null
  let fits = true
  const split = new InputSplit((graph, layer) => {
    const l = layers.get(layer.name)
    const context = graph.input(splitContextName(layer.name), [1, layer.units])
    if (!l) {
      fits = false
      return context
    }
    const terms: Tensor[] = []
    let x: Tensor | null = null
    if (joined) {
      if (!joinedX) {
        const dim = model.embeddings.find((e) => e.name === joined.tables[0])!.dim
        const values = joinedTable(weights, joined, dim)
        split.constants.set(splitInputName('item_table'), values)
        const table = graph.input(splitInputName('item_table'), [values.length / dim, dim])
        const T = joined.tables.length
        const ids = graph.input(JOINED_IDS_INPUT, ['B', T], 'int64')
        joinedX = reshape(gather(table, ids), ['B', T * dim]) // [B, T·D], the tables' columns in x's order
      }
      x = joinedX
    } else {
      const byTable = new Map(layer.input.embeddings.map((t) => [split.tables.get(t), t]))
      const xs = l.tables.map((t) => byTable.get(t))
      if (xs.some((v) => v === undefined)) fits = false
      else if (xs.length > 0) x = xs.length === 1 ? xs[0]! : concat(xs as Tensor[], 1)
    }
    if (x) {
      const name = `${splitInputName(layer.name)}.item_weight`
      split.constants.set(name, l.tableWeights)
      terms.push(matmul(x, graph.input(name, [x.shape[1], layer.units])))
    }
    if (l.denseWeights && layer.input.dense) {
      const name = `${splitInputName(layer.name)}.dense_weight`
      split.constants.set(name, l.denseWeights)
      terms.push(matmul(layer.input.dense, graph.input(name, [layer.input.dense.shape[1], layer.units])))
    }
    if (terms.length === 0) fits = false
    return terms.reduce((a, b) => add(a, b), context)
  })
  const { outputs, emit } = buildInference(model, weights, opts, split)
  if (!fits || split.layers.length === 0) return null
  const itemInputs = new Set<string>([DENSE_INPUT])
  for (const l of layers.values()) for (const t of l.tables) itemInputs.add(featureIdsName(t)).add(poolWeightsName(t))
  const graph = emit(outputs, 'rows')
  if (graph.inputs.some((io) => !isSplitInputName(io.name) && !itemInputs.has(io.name))) return null
  return { graph, joined }
}

/** The joined lookup, when every layer reads the same two or more single-valued item tables of one dim. */
function joinedLookup(model: Model, layers: ReadonlyMap<string, RowSplitLayer>): JoinedLookup | null {
  const all = [...layers.values()]
  const tables = all[0]?.tables ?? []
  if (tables.length < 2 || all.some((l) => l.tables.join('\u0000') !== tables.join('\u0000'))) return null
  const specs = tables.map((t) => model.embeddings.find((e) => e.name === t))
  if (specs.some((e) => !e || e.pooling || e.dim !== specs[0]!.dim)) return null
  const offsets: number[] = []
  let rows = 0
  for (const e of specs) {
    offsets.push(rows)
    rows += e!.rows
  }
  return { tables, offsets }
}

function joinedTable(weights: ModelWeights, joined: JoinedLookup, dim: number): Float32Array {
  const parts = joined.tables.map((t) => weights.tables.get(t)!)
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0))
  parts.forEach((p, k) => out.set(p, joined.offsets[k] * dim))
  return out
}

/** Reads the resflow metadata of an exported file back (tests, tools). */
export async function readExportMetadata(bytes: Uint8Array): Promise<Record<string, string>> {
  const { default: onnxProto } = await import('onnx-proto')
  const model = onnxProto.onnx.ModelProto.decode(bytes)
  return Object.fromEntries(model.metadataProps.map((p) => [p.key, p.value]))
}
