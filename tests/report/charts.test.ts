import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { buildCharts, interpolate, joinCurves } from '../../src/report/index.js'
import { buildFixtureReport } from './fixture.js'

describe('chart data', () => {
  it('joins curves on a shared sorted x with null gaps', () => {
    const { x, series } = joinCurves([
      { label: 'a', color: '#000', points: [[1, 10], [3, 30]] },
      { label: 'b', color: '#111', points: [[2, 20], [3, NaN]] },
    ])
    assert.deepEqual(x, [1, 2, 3])
    assert.deepEqual(series.map((s) => s.values), [[10, null, 30], [null, 20, null]])
  })

  it('interpolates a ROC curve linearly and takes the top of a vertical step', () => {
    const fpr = [0, 0, 0.5, 0.5, 1]
    const tpr = [0, 0.5, 0.5, 1, 1]
    assert.deepEqual([0, 0.25, 0.5, 0.75, 1].map((f) => interpolate(fpr, tpr, f)), [0.5, 0.5, 1, 1, 1])
  })

  it('builds a loss chart per model and AUC, ROC, calibration charts per task, and one sweep', () => {
    const charts = buildCharts(buildFixtureReport())
    assert.deepEqual(charts.map((c) => c.id), [
      'loss-resflow', 'loss-mmoe', 'auc-click', 'auc-purchase', 'roc-click', 'roc-purchase', 'calibration-click', 'calibration-purchase', 'fusion-sweep',
    ])
    for (const c of charts) for (const s of c.series) assert.equal(s.values.length, c.x.length, `${c.id}/${s.label}`)
    const sweep = charts.at(-1)!
    assert.deepEqual(sweep.xTicks, ['purchase=0', 'purchase=0.5', 'purchase=1', 'purchase=2', 'purchase=4', 'purchase=8'])
    assert.equal(sweep.series.length, 4)
  })
})
