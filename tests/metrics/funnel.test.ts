import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { computeFunnelViolations } from '../../src/metrics/funnel.js'

describe('computeFunnelViolations', () => {
  it('counts rows where a later task beats the earlier one by more than the tolerance', () => {
    const probs = {
      click: Float32Array.from([0.5, 0.2, 0.3, 0.1]),
      purchase: Float32Array.from([0.1, 0.3, 0.3000005, 0.05]), // row 1 violates; row 2 is within 1e-6
      repeat: Float32Array.from([0.2, 0.1, 0.0, 0.06]), // rows 0 and 3 exceed purchase
    }
    const v = computeFunnelViolations(probs, ['click', 'purchase', 'repeat'])
    assert.deepEqual(v.pairs, [
      { upper: 'click', lower: 'purchase', rate: 0.25, count: 1 },
      { upper: 'purchase', lower: 'repeat', rate: 0.5, count: 2 },
    ])
    assert.deepEqual([v.anyCount, v.anyRate, v.rows], [3, 0.75, 4]) // rows 0, 1, 3
    // with no tolerance, row 2 counts too
    assert.equal(computeFunnelViolations(probs, ['click', 'purchase'], 0).pairs[0].count, 2)
  })

  it('names a missing task and needs at least two', () => {
    const probs = { click: Float32Array.from([0.5]) }
    assert.throws(() => computeFunnelViolations(probs, ['click', 'buy']), /probs: missing task "buy" \(have: click\)/)
    assert.throws(() => computeFunnelViolations(probs, ['click']), /expected at least 2 tasks/)
  })
})
