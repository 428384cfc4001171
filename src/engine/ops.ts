/**
 * The op constructors: each checks its inputs' shapes and dtypes (a ShapeError naming the op and the
 * shapes) and adds a node to the graph. How each primitive is emitted to ONNX and differentiated is its
 * row in op-table.ts.
 */
import { type Attrs, type Graph, type OpName, type Shape, type Tensor, formatShape, makeTensor, numel } from './node.js'

import { broadcastShapes, check, floatOut, normAxes, reduced, reshapeTarget, sameGraph } from './shapes.js'

function binary(op: OpName, a: Tensor, b: Tensor): Tensor {
  sameGraph(op, [a, b])
  return makeTensor(a.graph, op, [a, b], {}, broadcastShapes(op, a.shape, b.shape), floatOut(op, [a, b]))
}

function unary(op: OpName, x: Tensor): Tensor {
  return makeTensor(x.graph, op, [x], {}, x.shape, x.dtype)
}

export const add = (a: Tensor, b: Tensor) => binary('add', a, b)
export const sub = (a: Tensor, b: Tensor) => binary('sub', a, b)
export const mul = (a: Tensor, b: Tensor) => binary('mul', a, b)
export const div = (a: Tensor, b: Tensor) => binary('div', a, b)
/** Element-wise max(a, b), broadcasting; the gradient goes to a where a ≥ b, else to b. */
export const maximum = (a: Tensor, b: Tensor) => binary('maximum', a, b)
export const neg = (x: Tensor) => unary('neg', x)
export const exp = (x: Tensor) => unary('exp', x)
export const log = (x: Tensor) => unary('log', x)
export const sqrt = (x: Tensor) => unary('sqrt', x)
export const abs = (x: Tensor) => unary('abs', x)
export const sign = (x: Tensor) => unary('sign', x)
export const relu = (x: Tensor) => unary('relu', x)
export const sigmoid = (x: Tensor) => unary('sigmoid', x)
export const tanh = (x: Tensor) => unary('tanh', x)
export const identity = (x: Tensor) => unary('identity', x)

export function greater(a: Tensor, b: Tensor): Tensor {
  sameGraph('greater', [a, b])
  return makeTensor(a.graph, 'greater', [a, b], {}, broadcastShapes('greater', a.shape, b.shape), 'bool')
}

export function where(cond: Tensor, a: Tensor, b: Tensor): Tensor {
  sameGraph('where', [cond, a, b])
  check(cond.dtype === 'bool', `where: condition must be bool, got ${cond.dtype}`)
  const shape = broadcastShapes('where', broadcastShapes('where', cond.shape, a.shape), b.shape)
  return makeTensor(a.graph, 'where', [cond, a, b], {}, shape, floatOut('where', [a, b]))
}

/** A scalar constant of y's dtype (in y's graph). */
export function scalarLike(y: Tensor, value: number): Tensor {
  return makeTensor(y.graph, 'const', [], { value: Float64Array.of(value) }, [], y.dtype)
}

/**
 * Matrix product. [M, K] × [K, N] → [M, N]; batched: [..., M, K] × [..., K, N] with equal batch dims,
 * or [..., M, K] × [K, N].
 */
export function matmul(a: Tensor, b: Tensor): Tensor {
  sameGraph('matmul', [a, b])
  check(
    a.rank >= 2 && b.rank >= 2,
    `matmul ${formatShape(a.shape)} × ${formatShape(b.shape)}: both inputs need rank ≥ 2`,
  )
  const k1 = a.shape[a.rank - 1]
  const k2 = b.shape[b.rank - 2]
  check(k1 === k2, `matmul ${formatShape(a.shape)} × ${formatShape(b.shape)}: inner dims differ (${k1} ≠ ${k2})`)
  const batchA = a.shape.slice(0, -2)
  const batchB = b.shape.slice(0, -2)
  check(
    batchB.length === 0 || (batchA.length === batchB.length && batchA.every((d, i) => d === batchB[i])),
    `matmul ${formatShape(a.shape)} × ${formatShape(b.shape)}: batch dims must be equal, or b must be 2-D`,
  )
  const shape = [...batchA, a.shape[a.rank - 2], b.shape[b.rank - 1]]
  return makeTensor(a.graph, 'matmul', [a, b], {}, shape, floatOut('matmul', [a, b]))
}

/** A reduction over `axes` (negative axes count from the end); `keepdims` leaves them as size-1 dims. */
function reduction(op: 'reduceSum' | 'reduceMean', x: Tensor, axes: readonly number[], keepdims: boolean): Tensor {
  const ax = normAxes(x, axes)
  return makeTensor(x.graph, op, [x], { axes: ax, keepdims: keepdims ? 1 : 0 }, reduced(x, ax, keepdims), x.dtype)
}

export const reduceSum = (x: Tensor, axes: readonly number[], keepdims = false) =>
  reduction('reduceSum', x, axes, keepdims)
export const reduceMean = (x: Tensor, axes: readonly number[], keepdims = false) =>
  reduction('reduceMean', x, axes, keepdims)

export function countRecip(x: Tensor, axes: number[]): Tensor {
  const dims = axes.map((a) => x.shape[a])
  // static dims: a constant; symbolic ones (B): one node per graph and dims, whichever tensor first asked
  if (dims.every((d) => typeof d === 'number'))
    return x.graph.constant(1 / (dims as number[]).reduce((a, b) => a * b, 1))
  let perGraph = recipCache.get(x.graph)
  if (!perGraph) recipCache.set(x.graph, (perGraph = new Map()))
  const key = `${x.dtype}:${dims.join('*')}`
  let t = perGraph.get(key)
  if (!t) perGraph.set(key, (t = makeTensor(x.graph, 'countRecip', [x], { axes }, [], x.dtype)))
  return t
}

const recipCache = new WeakMap<Graph, Map<string, Tensor>>()

/** Broadcasts x to the (run-time) shape of `like`. */
export function expandAs(x: Tensor, like: Tensor): Tensor {
  broadcastShapes('expandAs', like.shape, x.shape)
  return makeTensor(x.graph, 'expandAs', [x, like], {}, like.shape, x.dtype)
}

/** Reinserts the reduced axes of a reduction `y` into g as size-1 dims. */
export function keepDims(g: Tensor, y: Tensor): Tensor {
  if (y.attrs.keepdims === 1) return g
  const axes = y.attrs.axes as number[]
  const x = y.inputs[0]
  return reshape(
    g,
    x.shape.map((d, i) => (axes.includes(i) ? 1 : d)),
  )
}

/** Sums g over the axes along which `target` was broadcast, so the result has target's shape. */
export function unbroadcast(g: Tensor, target: Tensor): Tensor {
  if (g.rank === target.rank && g.shape.every((d, i) => d === target.shape[i])) return g
  const lead = g.rank - target.rank
  const axes: number[] = []
  for (let i = 0; i < g.rank; i++) {
    const td = i < lead ? undefined : target.shape[i - lead]
    if (td === undefined || (td === 1 && g.shape[i] !== 1)) axes.push(i)
  }
  const summed = axes.length ? reduceSum(g, axes, true) : g
  return summed.rank === target.rank && summed.shape.every((d, i) => d === target.shape[i])
    ? summed
    : reshape(summed, target.shape)
}

export function concat(inputs: readonly Tensor[], axis: number): Tensor {
  check(inputs.length > 0, 'concat: no inputs')
  sameGraph('concat', inputs)
  const ax = normAxes(inputs[0], [axis])[0]
  const xs = mergeSlices(inputs, ax)
  if (xs.length === 1) return xs[0]
  const first = xs[0]
  for (const x of xs) {
    check(
      x.rank === first.rank && x.shape.every((d, i) => i === ax || d === first.shape[i]),
      `concat along axis ${ax}: ${formatShape(x.shape)} does not fit ${formatShape(first.shape)}`,
    )
    check(typeof x.shape[ax] === 'number', `concat along a symbolic axis is not supported (${formatShape(x.shape)})`)
  }
  const size = xs.reduce((n, x) => n + (x.shape[ax] as number), 0)
  const shape = first.shape.map((d, i) => (i === ax ? size : d))
  return makeTensor(first.graph, 'concat', xs, { axis: ax }, shape, floatOut('concat', xs))
}

/**
 * Folds runs of adjacent slices of one tensor along `axis` back into one slice (or the tensor itself),
 * so that splitting an input and concatenating the parts in order costs nothing.
 */
function mergeSlices(xs: readonly Tensor[], axis: number): Tensor[] {
  const out: Tensor[] = []
  for (const x of xs) {
    const prev = out[out.length - 1]
    if (
      prev &&
      prev.op === 'slice' &&
      x.op === 'slice' &&
      prev.inputs[0] === x.inputs[0] &&
      prev.attrs.axis === axis &&
      x.attrs.axis === axis &&
      prev.attrs.end === x.attrs.start
    ) {
      out[out.length - 1] = slice(x.inputs[0], axis, prev.attrs.start as number, x.attrs.end as number)
    } else out.push(x)
  }
  return out
}

/** x[..., start:end, ...] along one axis of known size; the whole axis gives x itself. */
export function slice(x: Tensor, axis: number, start: number, end: number): Tensor {
  const ax = normAxes(x, [axis])[0]
  const size = x.shape[ax]
  check(typeof size === 'number', `slice along a symbolic axis is not supported (${formatShape(x.shape)})`)
  check(
    0 <= start && start < end && end <= size,
    `slice ${start}:${end} is out of range for axis ${ax} of ${formatShape(x.shape)}`,
  )
  if (start === 0 && end === size) return x
  if (x.op === 'slice' && x.attrs.axis === ax) {
    // a slice of a slice is one slice of the original
    const base = x.attrs.start as number
    return slice(x.inputs[0], ax, base + start, base + end)
  }
  const shape = x.shape.map((d, i) => (i === ax ? end - start : d))
  return makeTensor(x.graph, 'slice', [x], { axis: ax, start, end }, shape, x.dtype)
}

/** Splits x along `axis` into pieces of the given sizes. */
export function split(x: Tensor, axis: number, sizes: readonly number[]): Tensor[] {
  let start = 0
  return sizes.map((s) => {
    const part = slice(x, axis, start, start + s)
    start += s
    return part
  })
}

/** Zero-pads x along one axis (the gradient of a slice). */
export function padAxis(x: Tensor, axis: number, before: number, after: number): Tensor {
  if (before === 0 && after === 0) return x
  const shape = x.shape.map((d, i) => (i === axis ? (d as number) + before + after : d))
  return makeTensor(x.graph, 'padAxis', [x], { axis, before, after }, shape, x.dtype)
}

/** Reshape. At most one symbolic dim of the target may differ from the input's dim at the same place. */
export function reshape(x: Tensor, shape: Shape): Tensor {
  const known = numel(x.shape)
  const target = numel(shape)
  check(
    Number.isNaN(known) || Number.isNaN(target) || known === target,
    `reshape ${formatShape(x.shape)} → ${formatShape(shape)}: sizes differ`,
  )
  reshapeTarget(x.shape, shape)
  return makeTensor(x.graph, 'reshape', [x], {}, [...shape], x.dtype)
}

export function transpose(x: Tensor, perm: readonly number[]): Tensor {
  check(
    perm.length === x.rank && [...perm].sort().every((p, i) => p === i),
    `transpose: perm [${perm}] does not fit ${formatShape(x.shape)}`,
  )
  return makeTensor(
    x.graph,
    'transpose',
    [x],
    { perm: [...perm] },
    perm.map((p) => x.shape[p]),
    x.dtype,
  )
}

export function swapLast(x: Tensor): Tensor {
  const perm = x.shape.map((_, i) => i)
  perm[x.rank - 1] = x.rank - 2
  perm[x.rank - 2] = x.rank - 1
  return transpose(x, perm)
}

export function softmax(x: Tensor, axis = -1): Tensor {
  const ax = normAxes(x, [axis])[0]
  return makeTensor(x.graph, 'softmax', [x], { axis: ax }, x.shape, x.dtype)
}

/** PReLU over the last axis of [B, H] with one slope per unit, a: [H], or one shared slope, a: [1]. */
export function prelu(x: Tensor, a: Tensor): Tensor {
  sameGraph('prelu', [x, a])
  check(
    x.rank === 2 && a.rank === 1 && (a.shape[0] === x.shape[1] || a.shape[0] === 1),
    `prelu: expected x [B, H] and slopes [H] or [1], got ${formatShape(x.shape)} and ${formatShape(a.shape)}`,
  )
  return makeTensor(x.graph, 'prelu', [x, a], {}, x.shape, floatOut('prelu', [x, a]))
}

/** Auxiliary output `name` of a multi-output row y. */
export function part(y: Tensor, name: string, shape: Shape): Tensor {
  return makeTensor(y.graph, 'part', [y], { part: name }, shape, y.dtype)
}

/** BatchNorm with batch statistics over axis 0 of [B, H]; see the op row for the fused backward. */
export function batchNormTrain(
  x: Tensor,
  gamma: Tensor,
  beta: Tensor,
  eps: number,
): { y: Tensor; mean: Tensor; variance: Tensor } {
  sameGraph('batchNormTrain', [x, gamma, beta])
  check(x.rank === 2, `batchNormTrain: input must be [B, H], got ${formatShape(x.shape)}`)
  const h = x.shape[1]
  check(
    gamma.rank === 1 && gamma.shape[0] === h && beta.rank === 1 && beta.shape[0] === h,
    `batchNormTrain: gamma/beta must be [${h}]`,
  )
  const y = makeTensor(
    x.graph,
    'batchNormTrain',
    [x, gamma, beta],
    { eps },
    x.shape,
    floatOut('batchNormTrain', [x, gamma, beta]),
  )
  return { y, mean: part(y, 'mean', [h]), variance: part(y, 'var', [h]) }
}

/** table[ids]: [N, D] gathered by int64 ids of any shape S → [...S, D]; the table's gradient is scatterAddRows. */
export function gather(table: Tensor, ids: Tensor): Tensor {
  sameGraph('gather', [table, ids])
  check(ids.dtype === 'int64', `gather: ids must be int64, got ${ids.dtype}`)
  check(table.rank === 2, `gather: the table must be 2-D, got ${formatShape(table.shape)}`)
  return makeTensor(table.graph, 'gather', [table, ids], {}, [...ids.shape, table.shape[1]], table.dtype)
}

/** d loss / d table of `gather(table, ids)`, given g = d loss / d gathered rows [...ids, D]. */
export function scatterAddRows(table: Tensor, ids: Tensor, g: Tensor): Tensor {
  sameGraph('scatterAddRows', [table, ids, g])
  check(
    table.rank === 2 && ids.dtype === 'int64',
    `scatterAddRows: expected a 2-D table and int64 ids, got ${formatShape(table.shape)} and ${ids.dtype}`,
  )
  check(
    g.rank === ids.rank + 1,
    `scatterAddRows: gradient ${formatShape(g.shape)} does not match ids ${formatShape(ids.shape)} + [D]`,
  )
  return makeTensor(table.graph, 'scatterAddRows', [table, ids, g], {}, table.shape, table.dtype)
}

export type { Attrs }
