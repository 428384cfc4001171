import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { gradients } from '../../src/engine/autodiff.js'
import { compile } from '../../src/engine/compile.js'
import { Graph } from '../../src/engine/node.js'
import { OPS } from '../../src/engine/op-table.js'
import * as op from '../../src/engine/ops.js'
import { GradientError } from '../../src/errors.js'

describe('autodiff refuses what it cannot differentiate', () => {
  it('throws, naming the op, when the loss depends on an op without a gradient rule', () => {
    // scatterAddRows is the gradient of gather; a second derivative through it has no rule
    const g = new Graph('float64')
    const table = g.input('t', [4, 2])
    const ids = g.input('ids', [3], 'int64')
    const up = g.input('up', [3, 2])
    const loss = op.reduceSum(op.scatterAddRows(table, ids, up), [0, 1])
    assert.throws(
      () => gradients(loss, [up]),
      (e: unknown) => e instanceof GradientError && /scatterAddRows/.test((e as Error).message),
    )
  })

  it("an op declared 'none' passes no gradient: where's condition is constant, its branches are not", async () => {
    // d/dx sum(where(x > 0, x·x, −x)) = 2x where x > 0, −1 elsewhere; the comparison contributes nothing
    const g = new Graph('float64')
    const x = g.input('x', [4])
    const zero = op.scalarLike(x, 0)
    const loss = op.reduceSum(op.where(op.greater(x, zero), op.mul(x, x), op.neg(x)), [0])
    const [dx] = gradients(loss, [x])
    const out = await (await compile({ dx: dx })).run({ x: Float64Array.from([-2, 3, 0.5, -0.1]) }, {})
    assert.deepEqual([...out.dx], [-1, 6, 1, -1])
  })

  it('every op of the table declares its gradient or declares that it has none, except those that are gradients', () => {
    const undeclared = Object.entries(OPS)
      .filter(([, row]) => row.grad === undefined)
      .map(([name]) => name)
    assert.deepEqual(undeclared, ['scatterAddRows'])
  })
})
