import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { Rng } from '../../src/engine/rng.js'

describe('Rng', () => {
  it('mulberry32 with seed 2024 gives the reference first draws', () => {
    // the same generator as bench/pytorch/census.py's split rule; these values come from that
    // independent Python implementation (next() · 2³²), so both sides split the census rows alike
    const r = new Rng(2024)
    assert.deepEqual([r.nextUint32(), r.nextUint32(), r.nextUint32()], [3486492848, 3052955074, 2793987405])
  })

  it('fillMask makes the same decisions as next() < rate, and leaves the same state', () => {
    for (const rate of [0.1, 0.3, 0.5, 0.9]) {
      const a = new Rng(11)
      const b = new Rng(11)
      const expected = Float32Array.from({ length: 5000 }, () => (a.next() < rate ? 0 : 1 / (1 - rate)))
      const got = new Float32Array(5000)
      b.fillMask(got, rate, 1 / (1 - rate))
      assert.deepEqual(Array.from(got), Array.from(expected))
      assert.equal(b.nextUint32(), a.nextUint32())
      const dropped = got.filter((v) => v === 0).length / got.length
      assert.ok(Math.abs(dropped - rate) < 0.03, `rate ${rate}: dropped ${dropped}`)
    }
  })
})
