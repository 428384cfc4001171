import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { compile } from '../../src/engine/compile.js'
import { Graph } from '../../src/engine/node.js'
import { mul, reduceSum } from '../../src/engine/ops.js'

const probe = new URL('../helpers/after-run-probe.ts', import.meta.url).href

async function program(fail: boolean) {
  const g = new Graph()
  const x = g.input('x', [3])
  const y = mul(x, x)
  const acc = new Float32Array(new SharedArrayBuffer(12))
  const p = await compile(
    { y, s: reduceSum(y, [0]) },
    { worker: true, afterRun: { module: probe, init: { acc, fail } } },
  )
  return { p, acc }
}

describe('worker programs with after-run work', () => {
  it('report reaches the result, apply runs after it and before the next run, consumed outputs stay in the worker', async () => {
    const { p, acc } = await program(false)
    const a = await p.run({ x: Float32Array.of(1, 2, 3) }, {}, { scale: 1 })
    assert.equal(a['after.sum'][0], 14)
    assert.equal(a.y, undefined) // consumed by the after-run work
    assert.equal(a.s[0], 14)
    const b = await p.run({ x: Float32Array.of(1, 1, 1) }, {}, { scale: 10 })
    assert.equal(b['after.sum'][0], 3)
    await p.sync()
    assert.deepEqual(Array.from(acc), [11, 14, 19]) // 1·[1,4,9] + 10·[1,1,1], both applied in order
    await p.release()
  })

  it('a failing after-run makes later runs fail with its message', async () => {
    const { p } = await program(true)
    await p.run({ x: Float32Array.of(1, 2, 3) }, {}, { scale: 1 }) // answered before the work fails
    await assert.rejects(p.sync(), /after-run work failed: probe failure/)
    await assert.rejects(
      p.run({ x: Float32Array.of(1, 2, 3) }, {}, { scale: 1 }),
      /after-run work failed: probe failure/,
    )
    await p.release()
  })

  it('afterRun needs a worker', async () => {
    const g = new Graph()
    await assert.rejects(
      compile({ y: mul(g.input('x', [1]), g.input('x2', [1])) }, { afterRun: { module: probe, init: {} } }),
      /afterRun needs worker: true/,
    )
  })
})
