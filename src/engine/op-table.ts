/**
 * The primitive op table. One row per primitive: its ONNX emission and its gradient rule. The op
 * constructors (ops.ts) check shapes and build nodes; everything else (PReLU, BatchNorm, softplus, the
 * BCE loss, attention) is composed from these rows in `nn/`, so autodiff stays small.
 *
 * Gradient rules receive the node `y`, the incoming gradient `g` (same shape as y) and return one
 * gradient per input (null where an input has none, e.g. integer or boolean inputs).
 */
import type { OpName, Tensor } from './node.js'
import {
  add,
  countRecip,
  div,
  expandAs,
  greater,
  keepDims,
  matmul,
  mul,
  neg,
  padAxis,
  part,
  reduceSum,
  reshape,
  scalarLike,
  scatterAddRows,
  sign,
  slice,
  sub,
  swapLast,
  transpose,
  unbroadcast,
  where,
} from './ops.js'
import { reshapeTarget } from './shapes.js'

/** What an op row can ask of the ONNX writer. */
export interface Emitter {
  name(t: Tensor): string
  /** adds an ONNX node; returns its output names */
  node(opType: string, inputs: string[], outputs: string[], attrs?: Record<string, number | number[] | string>): void
  /** an int64 initializer, returns its name */
  int64(values: readonly number[]): string
  /** a fresh intermediate name */
  temp(hint: string): string
}

export type GradRule = (y: Tensor, g: Tensor) => (Tensor | null)[]

export interface OpRow {
  emit(y: Tensor, e: Emitter): void
  /**
   * The gradient rule, or 'none' for an op whose output passes no gradient back by design (a boolean
   * comparison, a piecewise-constant sign, a value that depends only on shapes). Leaving it out means
   * the rule has not been written: autodiff then refuses a loss that depends on the op, rather than
   * silently treating it as a constant.
   */
  grad?: GradRule | 'none'
}

const io = (y: Tensor, e: Emitter) => ({ ins: y.inputs.map((t) => e.name(t)), out: e.name(y) })
const simple =
  (opType: string): OpRow['emit'] =>
  (y, e) => {
    const { ins, out } = io(y, e)
    e.node(opType, ins, [out])
  }

export const OPS: Record<OpName, OpRow> = {
  add: { emit: simple('Add'), grad: (y, g) => [unbroadcast(g, y.inputs[0]), unbroadcast(g, y.inputs[1])] },
  sub: { emit: simple('Sub'), grad: (y, g) => [unbroadcast(g, y.inputs[0]), unbroadcast(neg(g), y.inputs[1])] },
  mul: {
    emit: simple('Mul'),
    grad: (y, g) => [unbroadcast(mul(g, y.inputs[1]), y.inputs[0]), unbroadcast(mul(g, y.inputs[0]), y.inputs[1])],
  },
  div: {
    emit: simple('Div'),
    // d(a/b)/db = -a/b² = -y/b
    grad: (y, g) => [
      unbroadcast(div(g, y.inputs[1]), y.inputs[0]),
      unbroadcast(neg(div(mul(g, y), y.inputs[1])), y.inputs[1]),
    ],
  },
  neg: { emit: simple('Neg'), grad: (_y, g) => [neg(g)] },
  exp: { emit: simple('Exp'), grad: (y, g) => [mul(g, y)] },
  log: { emit: simple('Log'), grad: (y, g) => [div(g, y.inputs[0])] },
  sqrt: { emit: simple('Sqrt'), grad: (y, g) => [div(mul(g, scalarLike(y, 0.5)), y)] },
  abs: { emit: simple('Abs'), grad: (y, g) => [mul(g, sign(y.inputs[0]))] },
  // zero almost everywhere, undefined at 0
  sign: { emit: simple('Sign'), grad: 'none' },
  relu: { emit: simple('Relu'), grad: (y, g) => [where(greater(y.inputs[0], scalarLike(y, 0)), g, scalarLike(y, 0))] },
  sigmoid: { emit: simple('Sigmoid'), grad: (y, g) => [mul(g, mul(y, sub(scalarLike(y, 1), y)))] },
  tanh: { emit: simple('Tanh'), grad: (y, g) => [mul(g, sub(scalarLike(y, 1), mul(y, y)))] },
  greater: { emit: simple('Greater'), grad: 'none' },
  maximum: {
    emit: simple('Max'),
    grad: (y, g) => {
      const [a, b] = y.inputs as [Tensor, Tensor]
      const zero = scalarLike(y, 0)
      const bWins = greater(b, a)
      return [unbroadcast(where(bWins, zero, g), a), unbroadcast(where(bWins, g, zero), b)]
    },
  },
  where: {
    emit: simple('Where'),
    grad: (y, g) => {
      const [c, a, b] = y.inputs as [Tensor, Tensor, Tensor]
      const zero = scalarLike(y, 0)
      return [null, unbroadcast(where(c, g, zero), a), unbroadcast(where(c, zero, g), b)]
    },
  },
  matmul: {
    emit: simple('MatMul'),
    grad: (y, g) => {
      const [a, b] = y.inputs as [Tensor, Tensor]
      if (a.rank > 2 && b.rank === 2) {
        // [.., M, K] × [K, N]: dB = Σ over the leading dims, as one 2-D product of the flattened rows
        // (not a batched product followed by a reduction over a [.., K, N] intermediate)
        const rows = a.shape.slice(0, -1).join('*')
        const a2 = reshape(a, [rows, a.shape[a.rank - 1]])
        const g2 = reshape(g, [rows, g.shape[g.rank - 1]])
        return [matmul(g, swapLast(b)), matmul(swapLast(a2), g2)]
      }
      return [matmul(g, swapLast(b)), unbroadcast(matmul(swapLast(a), g), b)]
    },
  },
  reduceSum: {
    emit: (y, e) => {
      const { ins, out } = io(y, e)
      e.node('ReduceSum', [ins[0], e.int64(y.attrs.axes as number[])], [out], { keepdims: y.attrs.keepdims as number })
    },
    grad: (y, g) => [expandAs(keepDims(g, y), y.inputs[0])],
  },
  reduceMean: {
    emit: (y, e) => {
      const { ins, out } = io(y, e)
      e.node('ReduceMean', ins, [out], { axes: y.attrs.axes as number[], keepdims: y.attrs.keepdims as number })
    },
    grad: (y, g) => {
      const x = y.inputs[0]
      return [mul(expandAs(keepDims(g, y), x), countRecip(x, y.attrs.axes as number[]))]
    },
  },
  /** 1 / (number of elements over `axes`), computed at run time so symbolic dims work. Scalar. */
  countRecip: {
    emit: (y, e) => {
      const x = e.name(y.inputs[0])
      const shape = e.temp('shape')
      const dims = e.temp('dims')
      const count = e.temp('count')
      const countF = e.temp('countf')
      e.node('Shape', [x], [shape])
      e.node('Gather', [shape, e.int64(y.attrs.axes as number[])], [dims], { axis: 0 })
      e.node('ReduceProd', [dims], [count], { keepdims: 0 })
      e.node('Cast', [count], [countF], { to: y.dtype === 'float64' ? 11 : 1 })
      e.node('Reciprocal', [countF], [e.name(y)])
    },
    grad: 'none', // depends on the input's shape only
  },
  expandAs: {
    emit: (y, e) => {
      const shape = e.temp('shape')
      e.node('Shape', [e.name(y.inputs[1])], [shape])
      e.node('Expand', [e.name(y.inputs[0]), shape], [e.name(y)])
    },
    grad: (y, g) => [unbroadcast(g, y.inputs[0]), null],
  },
  concat: {
    emit: (y, e) => {
      const { ins, out } = io(y, e)
      e.node('Concat', ins, [out], { axis: y.attrs.axis as number })
    },
    grad: (y, g) => {
      const axis = y.attrs.axis as number
      let start = 0
      return y.inputs.map((x) => {
        const size = x.shape[axis] as number
        const part = slice(g, axis, start, start + size)
        start += size
        return part
      })
    },
  },
  slice: {
    emit: (y, e) => {
      const { ins, out } = io(y, e)
      const { axis, start, end } = y.attrs as { axis: number; start: number; end: number }
      e.node('Slice', [ins[0], e.int64([start]), e.int64([end]), e.int64([axis])], [out])
    },
    grad: (y, g) => {
      const x = y.inputs[0]
      const { axis, start, end } = y.attrs as { axis: number; start: number; end: number }
      return [padAxis(g, axis, start, (x.shape[axis] as number) - end)]
    },
  },
  padAxis: {
    emit: (y, e) => {
      const { ins, out } = io(y, e)
      const { axis, before, after } = y.attrs as { axis: number; before: number; after: number }
      const pads = new Array<number>(2 * y.rank).fill(0)
      pads[axis] = before
      pads[y.rank + axis] = after
      e.node('Pad', [ins[0], e.int64(pads)], [out])
    },
    grad: (y, g) => {
      const { axis, before } = y.attrs as { axis: number; before: number }
      return [slice(g, axis, before, before + (y.inputs[0].shape[axis] as number))]
    },
  },
  reshape: {
    emit: (y, e) => {
      const { ins, out } = io(y, e)
      e.node('Reshape', [ins[0], e.int64(reshapeTarget(y.inputs[0].shape, y.shape))], [out])
    },
    grad: (y, g) => [reshape(g, y.inputs[0].shape)],
  },
  transpose: {
    emit: (y, e) => {
      const { ins, out } = io(y, e)
      e.node('Transpose', ins, [out], { perm: y.attrs.perm as number[] })
    },
    grad: (y, g) => {
      const perm = y.attrs.perm as number[]
      const inverse = perm.map((_, i) => perm.indexOf(i))
      return [transpose(g, inverse)]
    },
  },
  softmax: {
    emit: (y, e) => {
      const { ins, out } = io(y, e)
      e.node('Softmax', ins, [out], { axis: y.attrs.axis as number })
    },
    // dx = y ⊙ (g − Σ_axis g ⊙ y)
    grad: (y, g) => [mul(y, sub(g, reduceSum(mul(g, y), [y.attrs.axis as number], true)))],
  },
  identity: { emit: simple('Identity'), grad: (_y, g) => [g] },
  /**
   * BatchNorm over axis 0 with batch statistics, fused: one row whose backward is the compact formula
   *   x̂ = (x − μ)·σ⁻¹,  dβ = Σ_b g,  dγ = Σ_b g·x̂,  dx = γσ⁻¹ · (g − (x̂·dγ + dβ)/B)
   * instead of autodiff through the mean and variance (about half the kernels). Auxiliary outputs
   * (parts): mean [H], var [H] (biased), xc = x − μ [B, H], invstd = σ⁻¹ [H].
   */
  batchNormTrain: {
    emit: (y, e) => {
      const [x, gamma, beta] = y.inputs.map((t) => e.name(t)) as [string, string, string]
      const out = e.name(y)
      const sq = e.temp('bn_sq')
      const veps = e.temp('bn_veps')
      const std = e.temp('bn_std')
      const k = e.temp('bn_k')
      const scaled = e.temp('bn_scaled')
      const epsName = e.temp('bn_eps')
      e.node('Constant', [], [epsName], {
        value_float: y.attrs.eps as number,
        to_dtype: y.dtype === 'float64' ? 11 : 1,
      })
      e.node('ReduceMean', [x], [`${out}__mean`], { axes: [0], keepdims: 0 })
      e.node('Sub', [x, `${out}__mean`], [`${out}__xc`])
      e.node('Mul', [`${out}__xc`, `${out}__xc`], [sq])
      e.node('ReduceMean', [sq], [`${out}__var`], { axes: [0], keepdims: 0 })
      e.node('Add', [`${out}__var`, epsName], [veps])
      e.node('Sqrt', [veps], [std])
      e.node('Reciprocal', [std], [`${out}__invstd`])
      e.node('Mul', [gamma, `${out}__invstd`], [k])
      e.node('Mul', [`${out}__xc`, k], [scaled])
      e.node('Add', [scaled, beta], [out])
    },
    grad: (y, g) => {
      // dγ = σ⁻¹ Σ g·xc;  dx = g·k − (xc·c₁ + c₀)  with k = γσ⁻¹, c₁ = k·σ⁻¹·dγ/B, c₀ = k·dβ/B
      const [x, gamma] = y.inputs as [Tensor, Tensor]
      const xc = part(y, 'xc', x.shape)
      const invstd = part(y, 'invstd', [x.shape[1]])
      const rb = countRecip(x, [0]) // 1/B
      const dbeta = reduceSum(g, [0])
      const dgamma = mul(reduceSum(mul(g, xc), [0]), invstd)
      const k = mul(gamma, invstd)
      const c1 = mul(mul(k, invstd), mul(dgamma, rb))
      const c0 = mul(k, mul(dbeta, rb))
      const dx = sub(mul(g, k), add(mul(xc, c1), c0))
      return [dx, dgamma, dbeta]
    },
  },
  /**
   * PReLU with a learned slope per unit (or one shared slope), y = x if x > 0 else a·x, emitted as y = relu(x) + a·min(x, 0):
   * Relu, Min, Mul and Add are vectorised kernels in onnxruntime, its Where and PRelu much slower on
   * [B, H] (measured: ~90 vs ~140 µs per [1024, 128] forward); the result is exactly x or a·x.
   * Backward as PyTorch's: dx = (x > 0 ? g : a·g), da = Σ_b g·min(x, 0), with min(x, 0) kept from the
   * forward pass.
   */
  prelu: {
    emit: (y, e) => {
      const [x, a] = y.inputs.map((t) => e.name(t)) as [string, string]
      const out = e.name(y)
      const zero = e.temp('zero')
      const pos = e.temp('pos')
      const scaled = e.temp('neg_scaled')
      e.node('Constant', [], [zero], { value_float: 0, to_dtype: y.dtype === 'float64' ? 11 : 1 })
      e.node('Min', [x, zero], [`${out}__neg`])
      e.node('Relu', [x], [pos])
      e.node('Mul', [`${out}__neg`, a], [scaled])
      e.node('Add', [pos, scaled], [out])
    },
    grad: (y, g) => {
      const [x, a] = y.inputs as [Tensor, Tensor]
      const negPart = part(y, 'neg', x.shape)
      const dx = where(greater(x, scalarLike(y, 0)), g, mul(g, a))
      const gn = mul(g, negPart)
      // one slope per unit [H], or one slope shared by the layer [1] (broadcast over the units)
      const da = a.shape[0] === x.shape[1] ? reduceSum(gn, [0]) : reshape(reduceSum(gn, [0, 1]), [1])
      return [dx, da]
    },
  },
  /** an auxiliary output of a multi-output row (named "<row>__<part>"); no gradient flows through it */
  part: { emit: () => {}, grad: 'none' },
  /**
   * Rows of a table by integer ids: table [R, D], ids [...] → [..., D]. Training feeds the batch's unique
   * rows as the table (nn/lookup.ts); export bakes the whole table in. The table's gradient is the
   * incoming gradient summed per row: scatterAddRows.
   */
  gather: {
    emit: (y, e) => {
      const { ins, out } = io(y, e)
      e.node('Gather', ins, [out], { axis: 0 })
    },
    grad: (y, g) => [scatterAddRows(y.inputs[0], y.inputs[1], g), null],
  },
  /** zeros shaped like `table` [R, D], plus each slice g[i] added into row ids[i] (ScatterND, reduction add) */
  scatterAddRows: {
    emit: (y, e) => {
      const [table, ids, g] = y.inputs.map((t) => e.name(t)) as [string, string, string]
      const out = e.name(y)
      const shape = e.temp('scatter_shape')
      const zeros = e.temp('scatter_zeros')
      const index = e.temp('scatter_index')
      e.node('Shape', [table], [shape])
      e.node('ConstantOfShape', [shape], [zeros], { value_float1: 0, to_dtype: y.dtype === 'float64' ? 11 : 1 })
      e.node('Unsqueeze', [ids, e.int64([-1])], [index])
      e.node('ScatterND', [zeros, index, g], [out], { reduction: 'add' })
    },
  },
}
