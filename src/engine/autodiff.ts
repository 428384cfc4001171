/**
 * Reverse-mode differentiation over the symbolic graph: walk the nodes that lead to `loss` in reverse
 * topological order and apply each op's gradient rule. The backward pass is made of ordinary graph
 * nodes, so forward, loss and gradients compile into one ONNX model.
 */
import { GradientError, ShapeError } from '../errors.js'
import type { Tensor } from './node.js'
import { OPS } from './op-table.js'
import { add, concat, expandAs, padAxis, scalarLike } from './ops.js'

/** Nodes reachable from `roots`, inputs before the nodes that use them. */
export function topoSort(roots: readonly Tensor[]): Tensor[] {
  const order: Tensor[] = []
  const seen = new Set<number>()
  // iterative DFS: deep towers and long chains must not overflow the JS stack
  const stack: { t: Tensor; i: number }[] = []
  for (const root of roots) {
    if (seen.has(root.id)) continue
    seen.add(root.id)
    stack.push({ t: root, i: 0 })
    while (stack.length) {
      const top = stack[stack.length - 1]
      if (top.i < top.t.inputs.length) {
        const next = top.t.inputs[top.i++]
        if (!seen.has(next.id)) {
          seen.add(next.id)
          stack.push({ t: next, i: 0 })
        }
      } else {
        order.push(top.t)
        stack.pop()
      }
    }
  }
  return order
}

/**
 * Gradients of the scalar `loss` with respect to each tensor of `wrt`. A tensor that the loss does
 * not depend on gets zeros of its shape.
 */
export function gradients(loss: Tensor, wrt: readonly Tensor[]): Tensor[] {
  if (loss.rank !== 0)
    throw new ShapeError(`gradients: the loss must be a scalar, got shape [${loss.shape.join(', ')}]`)
  const order = topoSort([loss])
  const parts = new Map<number, Tensor[]>([[loss.id, [scalarLike(loss, 1)]]])
  const grads = new Map<number, Tensor>()
  const total = (t: Tensor): Tensor | undefined => {
    let g = grads.get(t.id)
    if (!g) {
      const list = parts.get(t.id)
      if (!list) return undefined
      g = sumGradients(list)
      grads.set(t.id, g)
    }
    return g
  }
  for (let i = order.length - 1; i >= 0; i--) {
    const y = order[i]
    const g = total(y)
    if (!g || y.inputs.length === 0) continue
    const rule = y.op === 'input' || y.op === 'const' ? 'none' : OPS[y.op].grad
    if (rule === 'none') continue // declared: comparisons, sign, shape-only values
    if (!rule) throw new GradientError(`gradients: the loss depends on ${y} (op ${y.op}), which has no gradient rule`)
    const contributions = rule(y, g)
    y.inputs.forEach((x, k) => {
      const part = contributions[k]
      if (!part || x.dtype === 'bool' || x.dtype === 'int64') return
      const list = parts.get(x.id)
      if (list) list.push(part)
      else parts.set(x.id, [part])
    })
  }
  return wrt.map((x) => total(x) ?? expandAs(scalarLike(x, 0), x))
}

/**
 * The sum of a tensor's gradient contributions. Gradients of slices arrive zero-padded to the full
 * width (see the slice row); when a tensor is cut into many slices (per-feature embeddings, per-task
 * parts), adding those padded copies costs one full-width kernel each. Instead, slice gradients along
 * one axis that do not overlap are concatenated into one tensor, with a single pad around each
 * contiguous run.
 */
function sumGradients(list: readonly Tensor[]): Tensor {
  if (list.length === 1) return list[0]
  const axis = list.find((t) => t.op === 'padAxis')?.attrs.axis as number | undefined
  const padded = list.filter((t) => t.op === 'padAxis' && t.attrs.axis === axis)
  const others = list.filter((t) => !padded.includes(t))
  if (padded.length < 2) return list.reduce((a, b) => add(a, b))
  // lanes of non-overlapping parts, each part in the first lane it fits (sorted by start)
  type Part = { g: Tensor; start: number; end: number; after: number }
  const sorted: Part[] = padded
    .map((t) => {
      const g = t.inputs[0]
      const start = t.attrs.before as number
      return { g, start, end: start + (g.shape[axis!] as number), after: t.attrs.after as number }
    })
    .sort((p, q) => p.start - q.start)
  const lanes: Part[][] = []
  for (const part of sorted) {
    const lane = lanes.find((l) => l[l.length - 1].end <= part.start)
    if (lane) lane.push(part)
    else lanes.push([part])
  }
  const merged: Tensor[] = []
  for (const lane of lanes) {
    // contiguous runs become one concat, padded once
    let run: Part[] = []
    const flush = () => {
      if (run.length === 0) return
      const body =
        run.length === 1
          ? run[0].g
          : concat(
              run.map((r) => r.g),
              axis!,
            )
      merged.push(padAxis(body, axis!, run[0].start, run[run.length - 1].after))
      run = []
    }
    for (const part of lane) {
      if (run.length > 0 && run[run.length - 1].end !== part.start) flush()
      run.push(part)
    }
    flush()
  }
  return [...merged, ...others].reduce((a, b) => add(a, b))
}
