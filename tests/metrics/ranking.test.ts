import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { computeNdcgAtK, computeRecallAtK } from '../../src/metrics/ranking.js'

const close = (actual: number, expected: number) =>
  assert.ok(Math.abs(actual - expected) < 1e-5, `expected ${expected}, got ${actual}`)

// group 1: scores [0.9, 0.8, 0.7, 0.6], labels [0, 1, 0, 1] → relevant at positions 1 and 3
// group 2: scores [0.5, 0.5, 0.1],      labels [1, 0, 0]    → the positive tied with a negative at the top
// group 3: scores [0.3, 0.2],           labels [0, 0]       → no positive: skipped
const groups = Int32Array.from([1, 1, 1, 1, 2, 2, 2, 3, 3])
const scores = Float32Array.from([0.9, 0.8, 0.7, 0.6, 0.5, 0.5, 0.1, 0.3, 0.2])
const labels = Float32Array.from([0, 1, 0, 1, 1, 0, 0, 0, 0])
const d = (i: number) => 1 / Math.log2(i + 2) // discount of 0-based position i: 1, 0.63093, 0.5, 0.43068

describe('computeNdcgAtK', () => {
  it('divides DCG by the ideal DCG per group and averages over groups with a positive', () => {
    // K=2: group 1 DCG = d(1) = 0.63093, IDCG = d(0) + d(1) = 1.63093 → 0.38685
    //      group 2: tied block at positions 0-1 with mean relevance ½ → DCG = ½(d(0) + d(1)) = 0.81546, IDCG = 1
    //      mean = (0.38685 + 0.81546) / 2 = 0.60116
    const r = computeNdcgAtK(scores, labels, groups, 2)
    close(r.value, (d(1) / (d(0) + d(1)) + (d(0) + d(1)) / 2) / 2)
    close(r.value, 0.60116)
    assert.deepEqual([r.k, r.groupsUsed, r.groupsSkipped], [2, 2, 1])
  })

  it('scores a tie by its expectation over orders', () => {
    // K=1, group 2 only: the positive is first in half of the orders → NDCG@1 = ½
    const g2 = computeNdcgAtK(
      Float32Array.from([0.5, 0.5, 0.1]),
      Float32Array.from([1, 0, 0]),
      Int32Array.from([2, 2, 2]),
      1,
    )
    assert.equal(g2.value, 0.5)
    // K=4, group 1 only: (d(1) + d(3)) / (d(0) + d(1)) = 1.06161 / 1.63093 = 0.65092
    close(computeNdcgAtK(scores.subarray(0, 4), labels.subarray(0, 4), groups.subarray(0, 4), 4).value, 0.65092)
  })

  it('rejects K that is not a positive integer', () => {
    assert.throws(
      () => computeNdcgAtK(scores, labels, groups, 0),
      /computeNdcgAtK: k: expected a positive integer, got 0/,
    )
  })
})

describe('computeRecallAtK', () => {
  it('counts the share of a group positives in its top K, ties shared pro rata', () => {
    // K=2: group 1 has 1 of 2 positives in the top 2 → ½; group 2 has its positive in the tied top 2 → 1
    const r2 = computeRecallAtK(scores, labels, groups, 2)
    assert.equal(r2.value, 0.75)
    assert.equal(r2.groupsSkipped, 1)
    // K=1: group 1 → 0; group 2: the tie at positions 0-1 puts ½ of the positive in the top 1 → ½
    assert.equal(computeRecallAtK(scores, labels, groups, 1).value, 0.25)
    // K=4: group 1 → 1, group 2 → 1
    assert.equal(computeRecallAtK(scores, labels, groups, 4).value, 1)
  })
})
