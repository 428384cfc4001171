import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { computeLogloss, LOGLOSS_EPS } from '../../src/metrics/logloss.js'

const close = (actual: number, expected: number, tol = 1e-7) =>
  assert.ok(Math.abs(actual - expected) < tol, `expected ${expected}, got ${actual}`)

describe('computeLogloss', () => {
  it('averages −log of the probability given to the true label', () => {
    // −(ln 0.8 + ln 0.7) / 2 = (0.2231436 + 0.3566749) / 2 = 0.2899092
    close(computeLogloss(Float64Array.from([0.8, 0.3]), Float32Array.from([1, 0])), 0.28990925)
  })

  it('clips probabilities to [eps, 1 − eps] so a confident mistake costs −log(eps), not Infinity', () => {
    assert.equal(LOGLOSS_EPS, 1e-7)
    close(computeLogloss(Float64Array.from([0]), Float32Array.from([1])), -Math.log(1e-7)) // ≈ 16.118
    close(computeLogloss(Float64Array.from([1]), Float32Array.from([0])), -Math.log(1e-7))
    close(computeLogloss(Float64Array.from([1]), Float32Array.from([1])), 1e-7, 1e-12) // −ln(1 − 1e-7) ≈ 1e-7
    close(computeLogloss(Float64Array.from([0]), Float32Array.from([1]), 1e-3), 6.9077553) // −ln(1e-3)
  })

  it('rejects values outside [0, 1] with a hint about logits', () => {
    assert.throws(
      () => computeLogloss(Float32Array.from([0.5, 1.5]), Float32Array.from([0, 1])),
      /probs\[1\]: expected a probability in \[0, 1\], got 1\.5 \(hint: apply sigmoid/,
    )
    assert.throws(
      () => computeLogloss(Float32Array.from([0.5]), Float32Array.from([0]), 0),
      /eps: expected a number in \(0, 0\.5\), got 0/,
    )
  })
})
