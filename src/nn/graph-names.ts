/**
 * The names of graph inputs and outputs, written once. The training step graph, its feeds, the dense
 * workers, the data-parallel merge and the exported model all find a tensor by its name; a name is
 * built here and nowhere else, so a renamed convention cannot leave one side looking for the old one.
 *
 * Training step graph (train/step-graph.ts):
 *   inputs   <param>          dense parameters, by their ParamStore name
 *            features         [B, W] packed pooled vectors and dense values (nn/embedding.ts, packedLayout)
 *            rows.d<D>        [U<D>, D] the batch's unique rows of the lookup group of dim D (nn/lookup.ts)
 *            ids.d<D>         [B, F] int64 positions into rows.d<D>
 *            label.<task>     [B, 1]
 *   outputs  loss, p.<task>, stat.<layer>.mean / .var (BatchNorm batch statistics),
 *            grad.<x>         the loss's gradient with respect to input x (a parameter, rows.d<D>, features)
 *                             or to gathered.d<D>, the [B, F, D] vectors a lookup group gathers
 *            after.<key>      numbers the after-run work on the worker thread reports (engine/ort-worker.ts
 *                             writes them; the engine imports nothing of ours, so it spells the prefix itself)
 * Exported model (export/onnx.ts, export/feeds.ts): inputs ids.<feature>, weights.<feature> (pooling
 * weights, list axis L_<feature>), dense; initializers table.<feature>; outputs p.<task>, score.
 * Its split graph (the server's item split, InputSplit in nn/params.ts): inputs pre.<layer>, a first
 * Linear's output computed outside the graph.
 */

/** Prefix of every gradient output of the step graph. */
export const GRAD_PREFIX = 'grad.'
/** Prefix of the numbers reported by the after-run work (see engine/ort-worker.ts). */
export const AFTER_PREFIX = 'after.'
/** Prefix of the BatchNorm batch statistics the step graph returns. */
export const STAT_PREFIX = 'stat.'

/** The step graph's loss output. */
export const LOSS_OUTPUT = 'loss'
/** The packed input of the training and inference graphs: pooled vectors, then dense values. */
export const FEATURES_INPUT = 'features'
/** The exported model's dense input [B, nDense]. */
export const DENSE_INPUT = 'dense'
/** The exported model's fused score output [B, 1]. */
export const SCORE_OUTPUT = 'score'

/** The gradient of the loss with respect to `name` (a graph input, or a lookup group's gathered vectors). */
export const gradName = (name: string): string => `${GRAD_PREFIX}${name}`
export const isGradName = (name: string): boolean => name.startsWith(GRAD_PREFIX)
/** A number reported by the after-run work, e.g. afterName('gradNorm'). */
export const afterName = (key: string): string => `${AFTER_PREFIX}${key}`
export const isAfterName = (name: string): boolean => name.startsWith(AFTER_PREFIX)

/** The probability output of a task. */
export const probName = (task: string): string => `p.${task}`
/** The label input of a task. */
export const labelName = (task: string): string => `label.${task}`

/** The BatchNorm batch statistics of layer `layer`, returned by the step graph. */
export const statMeanName = (layer: string): string => `${STAT_PREFIX}${layer}.mean`
export const statVarName = (layer: string): string => `${STAT_PREFIX}${layer}.var`
/** The statistics output pair that `name` is the mean of, or null. */
export function statPair(name: string): { mean: string; variance: string } | null {
  if (!name.startsWith(STAT_PREFIX) || !name.endsWith('.mean')) return null
  return { mean: name, variance: `${name.slice(0, -'.mean'.length)}.var` }
}
export const isStatName = (name: string): boolean => name.startsWith(STAT_PREFIX)

/** The running statistics (non-trainable parameters) of BatchNorm layer `layer` (nn/layers.ts). */
export const runningMeanName = (layer: string): string => `${layer}.running_mean`
export const runningVarName = (layer: string): string => `${layer}.running_var`

/** A lookup group of dim `dim` (nn/lookup.ts): its unique rows, the positions into them, their count's dim. */
export const lookupRowsName = (dim: number): string => `rows.d${dim}`
export const lookupIdsName = (dim: number): string => `ids.d${dim}`
export const uniqueRowsDim = (dim: number): string => `U${dim}`
/** The [B, F, D] vectors a lookup group gathers; its gradient is returned when the graph does not sum per row. */
export const gatheredName = (dim: number): string => `gathered.d${dim}`

/** Exported model: a feature's ids, its pooling weights, its list axis, its table initializer. */
export const featureIdsName = (feature: string): string => `ids.${feature}`
export const poolWeightsName = (feature: string): string => `weights.${feature}`
export const listDim = (feature: string): string => `L_${feature}`
export const tableName = (feature: string): string => `table.${feature}`

/** The split graph's input that replaces first Linear `layer` (x · W + b computed outside the graph). */
export const SPLIT_INPUT_PREFIX = 'pre.'
export const splitInputName = (layer: string): string => `${SPLIT_INPUT_PREFIX}${layer}`
export const isSplitInputName = (name: string): boolean => name.startsWith(SPLIT_INPUT_PREFIX)
/** A split layer's context part and bias, [1, H] (the item split's and the row split's graphs). */
export const splitContextName = (layer: string): string => `${splitInputName(layer)}.context`
/** A split layer's item parts, one row per stored item, [N_items, H] (the item split's graph). */
export const splitItemsName = (layer: string): string => `${splitInputName(layer)}.items`
