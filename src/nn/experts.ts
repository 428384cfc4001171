/**
 * Mixture-of-experts blocks (MMoE, OMoE, PLE): expert networks, softmax gates and the gated mix
 *
 *   e_i = MLP_i(x)                         [B, H] each, i = 1..E
 *   g   = softmax(x W_g)                   [B, E]
 *   y   = Σ_i g[:, i] · e_i                [B, H]
 */
import type { Tensor } from '../engine/node.js'
import { add, mul, slice, softmax } from '../engine/ops.js'
import { type DenseBlockOptions, linear, mlp } from './layers.js'
import type { BuildContext } from './params.js'

/** `count` expert MLPs over x; returns each expert's last hidden output. */
export function experts(
  ctx: BuildContext,
  name: string,
  x: Tensor,
  count: number,
  units: readonly number[],
  opts: DenseBlockOptions = {},
): Tensor[] {
  return Array.from({ length: count }, (_, i) => {
    const hidden = mlp(ctx, `${name}.${i}`, x, units, opts)
    return hidden[hidden.length - 1] // [B, H]
  })
}

/** Softmax gate over `count` experts. [B, I] → [B, E] */
export function gate(ctx: BuildContext, name: string, x: Tensor, count: number): Tensor {
  return softmax(linear(ctx, name, x, count), 1)
}

/** Σ_i g[:, i] · e_i. experts: E × [B, H], weights [B, E] → [B, H] */
export function mixExperts(outputs: readonly Tensor[], weights: Tensor): Tensor {
  return outputs.map((e, i) => mul(e, slice(weights, 1, i, i + 1))).reduce((a, b) => add(a, b))
}
