/**
 * The dense layers every model uses: Linear, PReLU, BatchNorm, Dropout, and the Dense → PReLU →
 * BatchNorm block of the reference towers. Each takes the build context and a unique name prefix.
 */
import type { Tensor } from '../engine/node.js'
import {
  prelu as preluOp,
  add,
  batchNormTrain,
  div,
  greater,
  matmul,
  maximum,
  mul,
  relu,
  scalarLike,
  sqrt,
  sub,
  where,
} from '../engine/ops.js'
import { ShapeError } from '../errors.js'
import { constant, uniform, xavierUniform, zeros } from './init.js'
import type { BuildContext } from './params.js'

function width(x: Tensor, layer: string): number {
  const d = x.shape[x.rank - 1]
  if (typeof d !== 'number')
    throw new ShapeError(`${layer}: the last dim of the input must be known, got [${x.shape.join(', ')}]`)
  return d
}

/**
 * y = x W + b. [.., I] → [.., O]; initialised per ctx.layers.init (PyTorch's U(±1/√I) or Xavier + zero
 * bias); `biasInit` sets every bias to one value instead (e.g. a logit head started at the prior log-odds).
 */
export function linear(
  ctx: BuildContext,
  name: string,
  x: Tensor,
  units: number,
  opts: { bias?: boolean; biasInit?: number } = {},
): Tensor {
  const fanIn = width(x, name)
  const split = ctx.split?.inputs.get(x)
  if (split) {
    // the item split (InputSplit, nn/params.ts): x W + b is computed outside the graph and fed in
    const layer = { name, input: split, fanIn, units, bias: opts.bias !== false }
    ctx.split!.layers.push(layer)
    return ctx.split!.output(ctx.graph, layer, x.shape.slice(0, -1)) // [B, O]
  }
  const torch = ctx.layers.init === 'torch'
  const w = ctx.param(`${name}.weight`, [fanIn, units], torch ? uniform(1 / Math.sqrt(fanIn)) : xavierUniform, {
    decay: true,
  }) // [I, O]
  const y = matmul(x, w)
  if (opts.bias === false) return y
  const biasInit = opts.biasInit !== undefined ? constant(opts.biasInit) : torch ? uniform(1 / Math.sqrt(fanIn)) : zeros
  return add(y, ctx.param(`${name}.bias`, [units], biasInit))
}

/**
 * PReLU: max(0,x) + a·min(0,x) (the fused `prelu` op row, engine/op-table.ts), with one learned slope for
 * the layer (ctx.layers.preluSlopes 'shared', PyTorch's nn.PReLU()) or one per unit ('unit').
 */
export function prelu(ctx: BuildContext, name: string, x: Tensor, init = 0.25): Tensor {
  const h = width(x, name)
  const shared = ctx.layers.preluSlopes === 'shared'
  const a = ctx.param(`${name}.slope`, [shared ? 1 : h], constant(init)) // [1] or [H]
  // inference with slopes known to be ≤ 1: max(x, a·x) is exactly x or a·x as well, in two element-wise
  // nodes instead of four (Relu, Min, Mul, Add): ~0.15 ms less per 1000 rows of a census-width ResFlow
  const slopes = ctx.training ? undefined : ctx.values?.get(`${name}.slope`)
  if (slopes?.every((s) => s <= 1)) return maximum(x, mul(x, a))
  if (x.rank === 2) return preluOp(x, a) // fused row with a compact backward
  return where(greater(x, scalarLike(x, 0)), x, mul(x, a))
}

/**
 * BatchNorm over the batch axis of [B, H]. Training: batch statistics, and the batch mean and (biased)
 * variance are handed to the trainer to update the running averages. Inference: the running ones.
 */
/** BatchNorm's default epsilon (PyTorch's). */
export const BN_EPS = 1e-5

export function batchNorm(
  ctx: BuildContext,
  name: string,
  x: Tensor,
  opts: { eps?: number; momentum?: number } = {},
): Tensor {
  const eps = opts.eps ?? BN_EPS
  const h = width(x, name)
  const gamma = ctx.param(`${name}.gamma`, [h], constant(1))
  const beta = ctx.param(`${name}.beta`, [h], zeros)
  let mean: Tensor
  let variance: Tensor
  if (ctx.training) {
    const bn = batchNormTrain(x, gamma, beta, eps) // fused, with the compact backward
    ctx.batchStats.push({ name, mean: bn.mean, variance: bn.variance, momentum: opts.momentum ?? 0.1 })
    return bn.y
  } else {
    mean = ctx.param(`${name}.running_mean`, [h], zeros, { trainable: false })
    variance = ctx.param(`${name}.running_var`, [h], constant(1), { trainable: false })
  }
  // x · inv + (β − mean · inv): the [H] terms are constants onnxruntime folds, so a row costs one Mul and
  // one Add (not Sub, Mul, Add: 0.1 ms less per 1000 rows and BatchNorm at census width)
  const inv = div(gamma, sqrt(add(variance, scalarLike(x, eps)))) // [H]
  return add(mul(x, inv), sub(beta, mul(mean, inv)))
}

/** Inverted dropout with a seeded mask input (training only; identity at inference). */
export function dropout(ctx: BuildContext, name: string, x: Tensor, rate: number): Tensor {
  if (!ctx.training || rate <= 0) return x
  const mask = ctx.graph.input(`${name}.mask`, x.shape)
  ctx.dropouts.push({ name: `${name}.mask`, shape: x.shape, rate })
  return mul(x, mask)
}

export type Activation = 'prelu' | 'relu' | 'none'

export interface DenseBlockOptions {
  activation?: Activation
  batchNorm?: boolean
  dropout?: number
}

/** One hidden layer of a reference tower: Dense → PReLU → BatchNorm (→ Dropout); BatchNorm per ctx.layers.blockBatchNorm unless given. */
export function denseBlock(
  ctx: BuildContext,
  name: string,
  x: Tensor,
  units: number,
  opts: DenseBlockOptions = {},
): Tensor {
  let h = linear(ctx, `${name}.dense`, x, units)
  const act = opts.activation ?? 'prelu'
  if (act === 'prelu') h = prelu(ctx, `${name}.prelu`, h)
  else if (act === 'relu') h = relu(h)
  if (opts.batchNorm ?? ctx.layers.blockBatchNorm) h = batchNorm(ctx, `${name}.bn`, h)
  if (opts.dropout) h = dropout(ctx, `${name}.dropout`, h, opts.dropout)
  return h
}

/** A stack of dense blocks; returns every hidden output h_1..h_L (the last is the tower's output). */
export function mlp(
  ctx: BuildContext,
  name: string,
  x: Tensor,
  units: readonly number[],
  opts: DenseBlockOptions = {},
): Tensor[] {
  const hidden: Tensor[] = []
  let h = x
  units.forEach((u, l) => {
    h = denseBlock(ctx, `${name}.${l}`, h, u, opts)
    hidden.push(h)
  })
  return hidden
}
