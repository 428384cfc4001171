import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { gradients } from '../../src/engine/autodiff.js'
import { compile } from '../../src/engine/compile.js'
import { Graph } from '../../src/engine/node.js'
import * as op from '../../src/engine/ops.js'
import { gradcheck, gradcheckGraph } from '../helpers/gradcheck.js'

describe('op gradients match central differences (float64)', () => {
  it('add / sub / mul / div with broadcasting', async () => {
    await gradcheck((a, b) => op.add(a, b), [[3, 4], [4]])
    await gradcheck(
      (a, b) => op.sub(a, b),
      [
        [3, 1],
        [1, 4],
      ],
    )
    await gradcheck(
      (a, b) => op.mul(a, b),
      [
        ['B', 4],
        [1, 4],
      ],
      { dims: { B: 3 } },
    )
    await gradcheck(
      (a, b) => op.div(a, b),
      [
        [3, 4],
        [3, 1],
      ],
      { values: { 1: Float64Array.of(1.5, -2, 0.7) } },
    )
  })
  it('neg / exp / log / sqrt / abs', async () => {
    await gradcheck((a) => op.neg(a), [[2, 3]])
    await gradcheck((a) => op.exp(a), [[2, 3]], { low: -30, high: 5 })
    await gradcheck((a) => op.log(a), [[2, 3]], { low: 1e-3, high: 10, eps: 1e-8 })
    await gradcheck((a) => op.sqrt(a), [[2, 3]], { low: 0.1, high: 4 })
    await gradcheck((a) => op.abs(a), [[2, 3]], { values: { 0: Float64Array.of(-2, -0.5, 0.3, 1, -1e-3, 4) } })
  })
  it('relu / sigmoid / tanh, saturated ends included', async () => {
    await gradcheck((a) => op.relu(a), [[2, 3]], { values: { 0: Float64Array.of(-2, -0.5, 0.3, 1, -1e-3, 4) } })
    await gradcheck((a) => op.sigmoid(a), [[2, 4]], { values: { 0: Float64Array.of(-30, -5, -1, 0, 0.5, 3, 12, 30) } })
    await gradcheck((a) => op.tanh(a), [[2, 3]], { low: -4, high: 4 })
  })
  it('maximum, broadcasting, each element to the larger input', async () => {
    // values apart by more than the difference step, so no pair swaps order within it
    const a = Float64Array.of(-2, 0.5, 3, -0.25, 1, 4)
    await gradcheck((x, y) => op.maximum(x, y), [[2, 3], [3]], { values: { 0: a, 1: Float64Array.of(0.1, 1.5, -1) } })
    await gradcheck((x) => op.maximum(x, op.mul(x, op.scalarLike(x, 0.25))), [[2, 3]], { values: { 0: a } })
  })
  it('where(x > 0, a, b)', async () => {
    await gradcheck((x, a) => op.where(op.greater(x, op.scalarLike(x, 0)), op.mul(x, a), x), [[3, 4], [4]])
  })
  it('matmul 2-D, batched 3-D, and 3-D × 2-D', async () => {
    await gradcheck(
      (a, b) => op.matmul(a, b),
      [
        ['B', 3],
        [3, 2],
      ],
      { dims: { B: 4 } },
    )
    await gradcheck(
      (a, b) => op.matmul(a, b),
      [
        [2, 3, 4],
        [2, 4, 2],
      ],
    )
    await gradcheck(
      (a, b) => op.matmul(a, b),
      [
        [2, 3, 4],
        [4, 5],
      ],
    )
  })
  it('reduceSum / reduceMean over a symbolic batch axis, keepdims or not', async () => {
    await gradcheck((a) => op.reduceSum(a, [0]), [['B', 3]], { dims: { B: 4 } })
    await gradcheck((a) => op.reduceSum(a, [1], true), [[2, 3, 2]])
    await gradcheck((a) => op.reduceMean(a, [0], true), [['B', 3]], { dims: { B: 5 } })
    await gradcheck((a) => op.reduceMean(a, [1, 2]), [[2, 3, 2]])
  })
  it('concat / slice / split / reshape / transpose', async () => {
    await gradcheck(
      (a, b) => op.concat([a, b], 1),
      [
        ['B', 2],
        ['B', 3],
      ],
      { dims: { B: 2 } },
    )
    await gradcheck((a) => op.slice(a, 1, 1, 3), [[2, 4]])
    await gradcheck(
      (a) => {
        const [p, q] = op.split(a, 1, [1, 3])
        return op.mul(op.reduceSum(p, [1], true), q)
      },
      [[2, 4]],
    )
    await gradcheck((a) => op.reshape(a, ['B', 2, 3]), [['B', 6]], { dims: { B: 2 } })
    await gradcheck((a) => op.transpose(a, [0, 2, 1]), [[2, 3, 4]])
  })
  it('gather: the table gradient sums the rows hit several times (ScatterND add), in float64', async () => {
    // ids hit row 1 three times, row 3 twice, row 0 and 4 never: their gradient must be exactly 0
    const ids = BigInt64Array.from([1n, 3n, 1n, 2n, 3n, 1n])
    const worst = await gradcheckGraph(
      (g) => {
        const table = g.input('x0', [5, 3])
        const rows = op.gather(table, g.input('ids', ['B', 2], 'int64')) // [B, 2, 3]
        return op.mul(rows, op.tanh(rows)) // non-linear in the rows, so each hit's gradient differs
      },
      { dims: { B: 3 }, ints: { ids } },
    )
    assert.ok(worst < 1e-6)
    // hand-checked: with d loss / d rows = 1, row r's gradient is its hit count in every column
    const g = new Graph('float64')
    const table = g.input('t', [4, 2])
    const idIn = g.input('ids', [5], 'int64')
    const loss = op.reduceSum(op.gather(table, idIn), [0, 1])
    const [dt] = gradients(loss, [table])
    const out = await (await compile({ dt: dt })).run(
      { t: new Float64Array(8), ids: BigInt64Array.from([0n, 2n, 2n, 0n, 2n]) },
      {},
    )
    assert.deepEqual([...out.dt], [2, 2, 0, 0, 3, 3, 0, 0])
  })
  it('softmax along the last and a middle axis', async () => {
    await gradcheck((a) => op.softmax(a, -1), [[3, 4]])
    await gradcheck((a) => op.softmax(a, 1), [[2, 3, 2]])
  })
})

describe('gradients of many slices of one tensor', () => {
  it('disjoint, contiguous, overlapping and nested slices all match central differences', async () => {
    await gradcheck(
      (x) => {
        const parts = [
          op.slice(x, 1, 0, 2),
          op.slice(x, 1, 2, 3),
          op.slice(x, 1, 5, 7),
          op.slice(op.slice(x, 1, 3, 7), 1, 0, 2),
        ]
        const overlap = op.slice(x, 1, 1, 4)
        return op.add(
          op.reduceSum(op.concat([parts[3], parts[0], parts[2], parts[1]], 1), [1], true),
          op.reduceSum(op.mul(overlap, overlap), [1], true),
        )
      },
      [['B', 8]],
      { dims: { B: 3 } },
    )
  })
})
