import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { compile } from '../../src/engine/compile.js'
import { Graph } from '../../src/engine/node.js'
import { mul, reduceSum } from '../../src/engine/ops.js'

const probe = new URL('../helpers/after-run-probe.ts', import.meta.url).href

async function program(fail: boolean, worker = true) {
  const g = new Graph()
  const x = g.input('x', [3])
  const y = mul(x, x)
  const acc = new Float32Array(new SharedArrayBuffer(12))
  const p = await compile({ y, s: reduceSum(y, [0]) }, { worker, afterRun: { module: probe, init: { acc, fail } } })
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

  it('on the calling thread (worker: false): the same report, consumed outputs and apply, done before the run resolves', async () => {
    const { p, acc } = await program(false, false)
    const a = await p.run({ x: Float32Array.of(1, 2, 3) }, {}, { scale: 1 })
    assert.equal(a['after.sum'][0], 14)
    assert.equal(a.y, undefined)
    assert.equal(a.s[0], 14)
    assert.deepEqual(Array.from(acc), [1, 4, 9]) // applied already: nothing runs after the result here
    await p.run({ x: Float32Array.of(1, 1, 1) }, {}, { scale: 10 })
    assert.deepEqual(Array.from(acc), [11, 14, 19])
    await p.release()
  })

  it('on the calling thread, a failing after-run fails its run', async () => {
    const { p } = await program(true, false)
    await assert.rejects(p.run({ x: Float32Array.of(1, 2, 3) }, {}, { scale: 1 }), /probe failure/)
    await p.release()
  })
})
