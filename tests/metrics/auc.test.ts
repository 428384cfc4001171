import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { computeAuc, computeRocCurve } from '../../src/metrics/auc.js'
import { tiedScores } from '../helpers/tied-scores.js'

const f32 = (xs: number[]) => Float32Array.from(xs)
const f64 = (xs: number[]) => Float64Array.from(xs)

/** Reference: every positive/negative pair, ties count ½. O(P·N). */
function pairwiseAuc(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  let wins = 0
  let pairs = 0
  for (let i = 0; i < scores.length; i++) {
    if (labels[i] !== 1) continue
    for (let j = 0; j < scores.length; j++) {
      if (labels[j] !== 0) continue
      pairs++
      wins += scores[i] > scores[j] ? 1 : scores[i] === scores[j] ? 0.5 : 0
    }
  }
  return wins / pairs
}

/** Trapezoid area under ROC points. */
function area(fpr: number[], tpr: number[]): number {
  let a = 0
  for (let i = 1; i < fpr.length; i++) a += ((fpr[i] - fpr[i - 1]) * (tpr[i] + tpr[i - 1])) / 2
  return a
}

describe('computeAuc', () => {
  it('counts the share of positive/negative pairs ranked correctly', () => {
    // pos {0.35, 0.8}, neg {0.1, 0.4}: 0.35>0.1, 0.35<0.4, 0.8>0.1, 0.8>0.4 → 3/4
    assert.equal(computeAuc(f64([0.1, 0.4, 0.35, 0.8]), f32([0, 0, 1, 1])), 0.75)
  })

  it('gives tied pairs half a win (averaged ranks)', () => {
    // pos {0.5, 0.5}, neg {0.5, 0.2}: each positive: tie (½) + win (1) → 2·1.5 / 4 = 0.75
    // ranks: 0.2 → 1, the three 0.5s → (2+3+4)/3 = 3; U = 3 + 3 − 2·3/2 = 3; 3 / (2·2) = 0.75
    assert.equal(computeAuc(f64([0.5, 0.5, 0.5, 0.2]), f32([1, 0, 1, 0])), 0.75)
    assert.equal(computeAuc(f64([0.3, 0.3, 0.3]), f32([1, 0, 0])), 0.5)
  })

  it('is 1 for a perfect ranking and 0 for a reversed one', () => {
    assert.equal(computeAuc(f64([0.1, 0.2, 0.8, 0.9]), f32([0, 0, 1, 1])), 1)
    assert.equal(computeAuc(f64([0.9, 0.8, 0.2, 0.1]), f32([0, 0, 1, 1])), 0)
  })

  it('returns NaN when every label is the same', () => {
    assert.ok(Number.isNaN(computeAuc(f64([0.1, 0.9]), f32([1, 1]))))
    assert.ok(Number.isNaN(computeAuc(f64([0.1, 0.9]), f32([0, 0]))))
    assert.ok(Number.isNaN(computeAuc(f64([]), f32([]))))
  })

  it('matches the pairwise definition on seeded data with many ties, float32 and float64 alike', () => {
    // 21 distinct values → heavy ties
    const { scores, labels } = tiedScores(new Float64Array(500), 7, 20, (s) => 0.2 + 0.6 * s)
    const expected = pairwiseAuc(scores, labels)
    assert.ok(Math.abs(computeAuc(scores, labels) - expected) < 1e-12)
    const scores32 = Float32Array.from(scores)
    assert.ok(Math.abs(computeAuc(scores32, labels) - pairwiseAuc(scores32, labels)) < 1e-12)
  })

  it('rejects labels other than 0/1, non-finite scores and mismatched lengths, naming the row', () => {
    assert.throws(() => computeAuc(f64([0.1, 0.2]), f32([0, 2])), /computeAuc: labels\[1\]: expected 0 or 1, got 2/)
    assert.throws(
      () => computeAuc(f64([0.1, NaN]), f32([0, 1])),
      /computeAuc: scores\[1\]: expected a finite number, got NaN/,
    )
    assert.throws(() => computeAuc(f64([0.1]), f32([0, 1])), /differ in length \(1 ≠ 2\)/)
  })
})

describe('computeRocCurve', () => {
  it('steps through each distinct threshold from (0, 0) to (1, 1)', () => {
    // thresholds 0.8 → tpr ½; 0.4 → fpr ½; 0.35 → tpr 1; 0.1 → fpr 1
    const roc = computeRocCurve(f64([0.1, 0.4, 0.35, 0.8]), f32([0, 0, 1, 1]), { maxPoints: Infinity })
    assert.deepEqual(roc.fpr, [0, 0, 0.5, 0.5, 1])
    assert.deepEqual(roc.tpr, [0, 0.5, 0.5, 1, 1])
    assert.deepEqual(roc.thresholds, [Infinity, 0.8, 0.4, 0.35, 0.1])
    assert.equal(roc.auc, 0.75)
  })

  it('has the area of computeAuc, ties making diagonal steps, and thins points to maxPoints', () => {
    const { scores, labels } = tiedScores(new Float32Array(5000), 11, 1000)
    const full = computeRocCurve(scores, labels, { maxPoints: Infinity })
    assert.ok(Math.abs(area(full.fpr, full.tpr) - computeAuc(scores, labels)) < 1e-12)
    const thin = computeRocCurve(scores, labels, { maxPoints: 20 })
    assert.ok(thin.fpr.length < full.fpr.length && thin.fpr.length <= 41, `got ${thin.fpr.length} points`)
    assert.deepEqual([thin.fpr.at(-1), thin.tpr.at(-1)], [1, 1])
    assert.ok(Math.abs(area(thin.fpr, thin.tpr) - full.auc) < 0.01)
  })

  it('is empty with a NaN auc when there is one class only', () => {
    const roc = computeRocCurve(f64([0.2, 0.3]), f32([1, 1]))
    assert.deepEqual(roc.fpr, [])
    assert.ok(Number.isNaN(roc.auc))
  })
})
