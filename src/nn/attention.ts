/**
 * AITM's attention over a small set of vectors (Xi et al., KDD 2021, eq. 4–5): for u in {p_{t−1}, q_t},
 *
 *   w_u = softmax_u( ⟨h1(u), h2(u)⟩ / √d ),   z = Σ_u w_u · h3(u)
 *
 * with h1, h2, h3 linear maps to d units. Inputs are N tensors [B, d_in]; output [B, d].
 */
import type { Tensor } from '../engine/node.js'
import { concat, mul, reduceSum, reshape, scalarLike, softmax } from '../engine/ops.js'
import { linear } from './layers.js'
import type { BuildContext } from './params.js'

export function itemAttention(ctx: BuildContext, name: string, items: readonly Tensor[], d: number): Tensor {
  const stacked = concat(
    items.map((t) => reshape(t, ['B', 1, t.shape[1]])),
    1,
  ) // [B, N, d_in]
  const h1 = linear(ctx, `${name}.h1`, stacked, d, { bias: false }) // [B, N, d]
  const h2 = linear(ctx, `${name}.h2`, stacked, d, { bias: false })
  const h3 = linear(ctx, `${name}.h3`, stacked, d, { bias: false })
  const scores = mul(reduceSum(mul(h1, h2), [2], true), scalarLike(h1, 1 / Math.sqrt(d))) // [B, N, 1]
  const w = softmax(scores, 1) // [B, N, 1]
  return reduceSum(mul(w, h3), [1]) // [B, d]
}
