import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { computeCalibration, computeCalibrationBins } from '../../src/metrics/calibration.js'

const close = (actual: number, expected: number) =>
  assert.ok(Math.abs(actual - expected) < 1e-12, `expected ${expected}, got ${actual}`)

describe('computeCalibration', () => {
  it('divides the mean prediction by the observed rate', () => {
    // mean p = (0.2 + 0.4 + 0.6 + 0.2) / 4 = 0.35; observed 2/4 = 0.5; ratio 0.7 (under-predicts)
    const c = computeCalibration(Float64Array.from([0.2, 0.4, 0.6, 0.2]), Float32Array.from([0, 1, 1, 0]))
    close(c.meanPredicted, 0.35)
    assert.equal(c.observedRate, 0.5)
    close(c.ratio, 0.7)
    assert.equal(c.rows, 4)
  })

  it('has a NaN ratio when no row is positive', () => {
    assert.ok(Number.isNaN(computeCalibration(Float64Array.from([0.2]), Float32Array.from([0])).ratio))
  })
})

describe('computeCalibrationBins', () => {
  it('uniform bins compare mean predicted with observed rate per equal-width bin', () => {
    // edges [0, 0.5, 1]: bin 0 holds 0.1, 0.2 (labels 0, 1); bin 1 holds 0.6, 0.9 (labels 1, 1)
    const bins = computeCalibrationBins(Float64Array.from([0.1, 0.6, 0.2, 0.9]), Float32Array.from([0, 1, 1, 1]), {
      bins: 2,
      strategy: 'uniform',
    })
    assert.equal(bins.length, 2)
    assert.deepEqual([bins[0].lower, bins[0].upper, bins[0].rows, bins[0].observedRate], [0, 0.5, 2, 0.5])
    close(bins[0].meanPredicted, 0.15)
    assert.deepEqual([bins[1].lower, bins[1].upper, bins[1].rows, bins[1].observedRate], [0.5, 1, 2, 1])
    close(bins[1].meanPredicted, 0.75)
  })

  it('quantile bins put about n/bins rows in each, leaving out empty ones', () => {
    // sorted [0.1, 0.2, 0.3, 0.4], 2 bins: edges at ranks ceil(4·1/2) = 2 → 0.2 and 4 → 0.4: [0.1, 0.2, 0.4]
    const bins = computeCalibrationBins(Float64Array.from([0.4, 0.1, 0.3, 0.2]), Float32Array.from([1, 0, 1, 0]), {
      bins: 2,
    })
    assert.deepEqual(
      bins.map((b) => [b.lower, b.upper, b.rows, b.observedRate]),
      [
        [0.1, 0.2, 2, 0],
        [0.2, 0.4, 2, 1],
      ],
    )
    // all scores tied: a single bin
    const tied = computeCalibrationBins(Float64Array.from([0.3, 0.3, 0.3]), Float32Array.from([1, 0, 0]), { bins: 5 })
    assert.equal(tied.length, 1)
    assert.equal(tied[0].rows, 3)
    const empty = computeCalibrationBins(Float64Array.from([0.05, 0.07]), Float32Array.from([1, 0]), {
      bins: 10,
      strategy: 'uniform',
    })
    assert.deepEqual(
      empty.map((b) => b.rows),
      [2],
    )
  })

  it('rejects a non-integer bin count', () => {
    assert.throws(
      () => computeCalibrationBins(Float64Array.from([0.1]), Float32Array.from([0]), { bins: 2.5 }),
      /bins: expected a positive integer, got 2\.5/,
    )
  })
})
