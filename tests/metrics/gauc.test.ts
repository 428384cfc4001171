import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { computeAuc } from '../../src/metrics/auc.js'
import { computeGauc } from '../../src/metrics/gauc.js'
import { tiedScores } from '../helpers/tied-scores.js'

describe('computeGauc', () => {
  it('weights each group AUC by group size and skips one-class groups, counting them', () => {
    // rows interleaved on purpose; by group:
    //   g=1   scores [0.9, 0.2, 0.5] labels [1, 0, 0]        AUC 1 (0.9 beats both), size 3
    //   g=2   scores [0.3, 0.6]      labels [1, 0]           AUC 0, size 2
    //   g=3   scores [0.7, 0.1]      labels [0, 0]           one class: skipped, 2 rows
    //   g=7.5 scores [0.4, 0.4, 0.2, 0.8] labels [1, 0, 1, 0]
    //         pos {0.4, 0.2} vs neg {0.4, 0.8}: ½ + 0 + 0 + 0 → AUC 0.125, size 4
    // GAUC = (3·1 + 2·0 + 4·0.125) / (3 + 2 + 4) = 3.5 / 9
    const rows: [number, number, number][] = [
      [1, 0.9, 1],
      [2, 0.3, 1],
      [3, 0.7, 0],
      [7.5, 0.4, 1],
      [1, 0.2, 0],
      [7.5, 0.4, 0],
      [2, 0.6, 0],
      [3, 0.1, 0],
      [7.5, 0.2, 1],
      [1, 0.5, 0],
      [7.5, 0.8, 0],
    ]
    const groups = Float64Array.from(rows.map((r) => r[0]))
    const scores = Float64Array.from(rows.map((r) => r[1]))
    const labels = Float32Array.from(rows.map((r) => r[2]))
    const result = computeGauc(scores, labels, groups)
    assert.ok(Math.abs(result.value - 3.5 / 9) < 1e-15, `got ${result.value}`)
    assert.deepEqual(
      { ...result, value: 0 },
      { value: 0, groupsUsed: 3, groupsSkipped: 1, rowsUsed: 9, rowsSkipped: 2 },
    )
  })

  it('equals the global AUC when there is a single group', () => {
    const { scores, labels } = tiedScores(new Float32Array(1000), 3, 50)
    assert.equal(computeGauc(scores, labels, new Int32Array(1000).fill(42)).value, computeAuc(scores, labels))
  })

  it('is NaN when no group has both classes', () => {
    const result = computeGauc(Float64Array.from([0.1, 0.2]), Float32Array.from([1, 0]), Int32Array.from([1, 2]))
    assert.ok(Number.isNaN(result.value))
    assert.equal(result.groupsSkipped, 2)
  })

  it('rejects groups of the wrong length or with non-finite ids', () => {
    const scores = Float64Array.from([0.1, 0.2])
    const labels = Float32Array.from([1, 0])
    assert.throws(
      () => computeGauc(scores, labels, Int32Array.from([1])),
      /computeGauc: groups and labels differ in length \(1 ≠ 2\)/,
    )
    assert.throws(
      () => computeGauc(scores, labels, Float64Array.from([1, NaN])),
      /groups\[1\]: expected a finite number, got NaN/,
    )
  })
})
