/**
 * The shared input every model starts from: the looked-up feature embeddings (multi-valued features
 * already pooled) concatenated with the dense features, then BatchNorm (ResFlow's reference input).
 *
 *   x = BN([e_1 ‖ … ‖ e_F ‖ dense])                                    // [B, F*D + nDense]
 *
 * Twin-tower models build one such input per side ('user' | 'item', from InputSpec's `side`).
 */
import type { Tensor } from '../engine/node.js'
import { concat, slice } from '../engine/ops.js'
import type { InputSpec } from '../data/types.js'
import { ConfigError } from '../errors.js'
import type { EmbeddingSpec } from './embedding.js'
import { BN_EPS, batchNorm } from './layers.js'
import type { BuildContext } from './params.js'

export type Side = 'user' | 'item'

/** The embedding tables of a spec's categorical features (optionally one side), all of width `dim`. */
export function embeddingSpecs(spec: InputSpec, dim: number): EmbeddingSpec[] {
  return [
    ...spec.sparse.map((f) => ({ name: f.name, rows: f.vocabSize, dim })),
    ...spec.multi.map((f) => ({ name: f.name, rows: f.vocabSize, dim, pooling: f.pooling })),
  ]
}

/** Feature names of one side, in spec order (a feature without `side` is a user feature). */
export function sideFeatures(spec: InputSpec, side: Side): { categorical: string[]; dense: number[] } {
  const on = (f: { side?: Side }) => (f.side ?? 'user') === side
  return {
    categorical: [...spec.sparse, ...spec.multi].filter(on).map((f) => f.name),
    dense: spec.dense.flatMap((f, i) => (on(f) ? [i] : [])),
  }
}

/**
 * concat(embeddings, dense) → BatchNorm. `only` restricts to one side's features (twin towers).
 * `batchNorm: false` skips the normalisation (used by tests that check exact wiring).
 */
export function sharedInput(
  ctx: BuildContext,
  name: string,
  spec: InputSpec,
  inputs: { embeddings: Record<string, Tensor>; dense: Tensor | null },
  opts: { side?: Side; batchNorm?: boolean } = {},
): Tensor {
  const all = [...spec.sparse, ...spec.multi].map((f) => f.name)
  const categorical = opts.side ? sideFeatures(spec, opts.side).categorical : all
  const denseCols = opts.side ? sideFeatures(spec, opts.side).dense : spec.dense.map((_, i) => i)
  const parts: Tensor[] = categorical.map((f) => inputs.embeddings[f]) // each [B, D]
  if (inputs.dense && denseCols.length) parts.push(...denseColumns(inputs.dense, denseCols)) // [B, nDense]
  if (parts.length === 0) {
    const where = opts.side ? `the ${opts.side} side has` : 'the input spec has'
    throw new ConfigError(`${name}: ${where} no features (hint: set side: 'user' | 'item' on the spec's features)`, {
      field: name,
    })
  }
  const x = parts.length === 1 ? parts[0] : concat(parts, 1)
  const out = opts.batchNorm === false ? x : batchNorm(ctx, `${name}.bn`, x)
  if (ctx.split) {
    // the item split's record of how x's columns are made (InputSplit, params.ts)
    const dense = inputs.dense && denseCols.length ? inputs.dense : null
    ctx.split.inputs.set(out, {
      embeddings: categorical.map((f) => inputs.embeddings[f]),
      dense,
      denseCols: dense ? denseCols : [],
      batchNorm: opts.batchNorm === false ? null : { name: `${name}.bn`, eps: BN_EPS },
    })
  }
  return out
}

/** The given columns of a [B, n] dense tensor, as contiguous slices. */
function denseColumns(dense: Tensor, cols: number[]): Tensor[] {
  const n = dense.shape[1] as number
  if (cols.length === n) return [dense]
  const runs: Tensor[] = []
  let start = cols[0]
  for (let i = 1; i <= cols.length; i++) {
    if (i < cols.length && cols[i] === cols[i - 1] + 1) continue
    runs.push(slice(dense, 1, start, cols[i - 1] + 1))
    start = cols[i]
  }
  return runs
}
