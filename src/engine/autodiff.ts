/**
 * Reverse-mode differentiation over the symbolic graph: walk the nodes that lead to `loss` in reverse
 * topological order and apply each op's gradient rule. The backward pass is made of ordinary graph
 * nodes, so forward, loss and gradients compile into one ONNX model.
 */
import { ShapeError } from '../errors.js'
import type { Tensor } from './node.js'
import { OPS, add, expandAs, scalarLike } from './ops.js'

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
      const top = stack[stack.length - 1]!
      if (top.i < top.t.inputs.length) {
        const next = top.t.inputs[top.i++]!
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
  if (loss.rank !== 0) throw new ShapeError(`gradients: the loss must be a scalar, got shape [${loss.shape.join(', ')}]`)
  const order = topoSort([loss])
  const grads = new Map<number, Tensor>([[loss.id, scalarLike(loss, 1)]])
  for (let i = order.length - 1; i >= 0; i--) {
    const y = order[i]!
    const g = grads.get(y.id)
    if (!g || y.inputs.length === 0) continue
    const rule = OPS[y.op]?.grad
    if (!rule) continue // comparisons, sign, shape helpers: no gradient flows through them
    const parts = rule(y, g)
    y.inputs.forEach((x, k) => {
      const part = parts[k]
      if (!part || x.dtype === 'bool' || x.dtype === 'int64') return
      const prev = grads.get(x.id)
      grads.set(x.id, prev ? add(prev, part) : part)
    })
  }
  return wrt.map((x) => grads.get(x.id) ?? expandAs(scalarLike(x, 0), x))
}
