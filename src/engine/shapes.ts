/**
 * The shape rules the op constructors (ops.ts) check: same graph, broadcasting, float dtypes, axes of
 * reductions and the target of a reshape. A mismatch is a ShapeError naming the op and the shapes.
 */
import { ShapeError } from '../errors.js'
import { type DType, type Dim, type Shape, type Tensor, formatShape } from './node.js'

export function check(cond: boolean, message: string): asserts cond {
  if (!cond) throw new ShapeError(message)
}

export function sameGraph(op: string, ts: readonly Tensor[]): void {
  const g = ts[0].graph
  check(
    ts.every((t) => t.graph === g),
    `${op}: inputs come from different graphs`,
  )
}

/** Numpy broadcasting: align right, each pair equal or one of them 1. */
export function broadcastShapes(op: string, a: Shape, b: Shape): Dim[] {
  const rank = Math.max(a.length, b.length)
  const out: Dim[] = []
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1
    const db = b[b.length - rank + i] ?? 1
    if (da === db || db === 1) out.push(da)
    else if (da === 1) out.push(db)
    else
      throw new ShapeError(
        `${op} ${formatShape(a)} and ${formatShape(b)}: dimension ${i} differs (${da} vs ${db}) and neither is 1`,
      )
  }
  return out
}

export function floatOut(op: string, ts: readonly Tensor[]): DType {
  const d = ts[0].dtype
  check(
    ts.every((t) => t.dtype === d),
    `${op}: dtypes differ (${ts.map((t) => t.dtype).join(', ')})`,
  )
  return d
}

export function normAxes(x: Tensor, axes: readonly number[]): number[] {
  return axes.map((a) => {
    const n = a < 0 ? a + x.rank : a
    check(n >= 0 && n < x.rank, `axis ${a} is out of range for ${formatShape(x.shape)}`)
    return n
  })
}

export function reduced(x: Tensor, axes: number[], keepdims: boolean): Dim[] {
  return keepdims ? x.shape.map((d, i) => (axes.includes(i) ? 1 : d)) : x.shape.filter((_, i) => !axes.includes(i))
}

/** ONNX Reshape target: numbers as they are, a symbolic dim kept in place as 0, otherwise −1 (once). */
export function reshapeTarget(from: Shape, to: Shape): number[] {
  let inferred = 0
  const out = to.map((d, i) => {
    if (typeof d === 'number') return d
    if (from[i] === d) return 0
    inferred++
    return -1
  })
  check(inferred <= 1, `reshape ${formatShape(from)} → ${formatShape(to)}: more than one symbolic dim to infer`)
  return out
}
