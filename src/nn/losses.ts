/**
 * Losses composed from primitives, so autodiff differentiates them like everything else.
 */
import type { Tensor } from '../engine/node.js'
import { abs, add, exp, log, mul, neg, reduceMean, relu, scalarLike, sub } from '../engine/ops.js'

/** softplus(x) = log(1 + eˣ), in the stable form max(x, 0) + log(1 + e^−|x|). */
export function softplus(x: Tensor): Tensor {
  return add(relu(x), log(add(scalarLike(x, 1), exp(neg(abs(x))))))
}

/**
 * Mean binary cross-entropy on logits with a positive-class weight w:
 *   ℓ(z, y) = −[w·y·log σ(z) + (1−y)·log(1−σ(z))] = (1−y)·z + (1 + (w−1)·y)·softplus(−z)
 * Stable for any z. z and y are [B, 1] (or [B]); returns a scalar.
 */
export function bceWithLogits(z: Tensor, y: Tensor, positiveWeight = 1): Tensor {
  const one = scalarLike(z, 1)
  const linearPart = mul(sub(one, y), z)
  const sp = softplus(neg(z))
  const perRow =
    positiveWeight === 1
      ? add(linearPart, sp)
      : add(linearPart, mul(add(one, mul(y, scalarLike(z, positiveWeight - 1))), sp))
  return reduceMean(
    perRow,
    perRow.shape.map((_, i) => i),
  )
}
