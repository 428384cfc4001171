/**
 * Finite-difference gradient checks: build f(inputs) → scalar in a float64 graph, compile the
 * analytic gradients (our autodiff) and compare them with central differences of the forward pass.
 */
import assert from 'node:assert/strict'
import { gradients } from '../../src/engine/autodiff.js'
import { compile } from '../../src/engine/compile.js'
import { Graph, type Shape, type Tensor } from '../../src/engine/node.js'
import { mul, reduceSum } from '../../src/engine/ops.js'
import { Rng, randomArray } from './rng.js'

export interface CheckOptions {
  low?: number
  high?: number
  seed?: number
  eps?: number
  tol?: number
  /** values of the symbolic dims, e.g. { B: 5 } */
  dims?: Record<string, number>
  /** fixed values for some inputs (by index) */
  values?: Record<number, Float64Array>
  /** values of integer inputs (by name), e.g. the ids of a gather */
  ints?: Record<string, BigInt64Array>
}

/**
 * Checks d/dx of sum(fn(xs) ⊙ W) for a random W. Returns the max abs error for tests that want it.
 */
export async function gradcheck(
  fn: (...xs: Tensor[]) => Tensor,
  shapes: Shape[],
  options: CheckOptions = {},
): Promise<number> {
  return gradcheckGraph((g) => fn(...shapes.map((s, i) => g.input(`x${i}`, s))), options)
}

/**
 * Checks the gradient with respect to every float input the function declares on the graph
 * (inputs x0, x1, … and any parameters a layer creates), fed with random values.
 */
export async function gradcheckGraph(build: (g: Graph) => Tensor, options: CheckOptions = {}): Promise<number> {
  const { low = -2, high = 2, seed = 1, eps = 1e-6, tol = 1e-6, dims = {} } = options
  const rng = new Rng(seed)
  const g = new Graph('float64')
  const y = build(g)
  const xs = [...g.inputs.values()].filter((t) => t.dtype === 'float64')
  const shapes = xs.map((t) => t.shape)
  const size = (s: Shape) => s.reduce<number>((n, d) => n * (typeof d === 'number' ? d : dims[d]), 1)
  const w = g.input('w', y.shape)
  const loss = reduceSum(
    mul(y, w),
    y.shape.map((_, i) => i),
  )
  const grads = gradients(loss, xs)
  const outputs: Record<string, Tensor> = { loss }
  grads.forEach((gr, i) => (outputs[`g${i}`] = gr))
  const program = await compile(outputs)
  const forward = await compile({ loss })
  const feeds: Record<string, Float64Array | BigInt64Array> = {
    w: randomArray(rng, size(y.shape), 0.5, 1.5),
    ...options.ints,
  }
  xs.forEach((t, i) => (feeds[t.name!] = options.values?.[i] ?? randomArray(rng, size(t.shape), low, high)))
  const analytic = await program.run(feeds, dims)
  let worst = 0
  for (let i = 0; i < shapes.length; i++) {
    const x = feeds[xs[i].name!] as Float64Array
    const gA = analytic[`g${i}`]
    assert.equal(gA.length, x.length, `gradient ${i} has ${gA.length} values, input has ${x.length}`)
    for (let j = 0; j < x.length; j++) {
      const keep = x[j]
      x[j] = keep + eps
      const up = (await forward.run(feeds, dims)).loss[0]
      x[j] = keep - eps
      const down = (await forward.run(feeds, dims)).loss[0]
      x[j] = keep
      const numeric = (up - down) / (2 * eps)
      const err = Math.abs(numeric - gA[j]) / Math.max(1, Math.abs(numeric))
      worst = Math.max(worst, err)
      assert.ok(
        err <= tol,
        `input ${xs[i].name}[${j}]: analytic ${gA[j]} vs numeric ${numeric} (rel err ${err.toExponential(2)} > ${tol})`,
      )
    }
  }
  return worst
}
