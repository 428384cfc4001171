import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { computeAuc } from '../../src/metrics/auc.js'
import { computeGauc } from '../../src/metrics/gauc.js'
import { computeTaskMetrics } from '../../src/metrics/evaluate.js'

describe('computeTaskMetrics', () => {
  const probs = { click: Float32Array.from([0.9, 0.4, 0.6, 0.2]), purchase: Float32Array.from([0.5, 0.1, 0.7, 0.1]) }
  const labels = { click: Float32Array.from([1, 0, 1, 0]), purchase: Float32Array.from([0, 0, 1, 0]) }
  const groups = Int32Array.from([1, 1, 2, 2])

  it('reports every metric per task, plus the funnel violation rate on later tasks', () => {
    const rows = computeTaskMetrics({ tasks: ['click', 'purchase'], probs, labels, groups, ks: [1] })
    assert.deepEqual(
      rows.map((r) => `${r.task}/${r.metric}`),
      [
        'click/auc',
        'click/logloss',
        'click/calibration',
        'click/gauc',
        'click/ndcg@1',
        'click/recall@1',
        'purchase/auc',
        'purchase/logloss',
        'purchase/calibration',
        'purchase/gauc',
        'purchase/ndcg@1',
        'purchase/recall@1',
        'purchase/funnel_violation',
      ],
    )
    const value = (task: string, metric: string) => rows.find((r) => r.task === task && r.metric === metric)?.value
    assert.equal(value('purchase', 'auc'), computeAuc(probs.purchase, labels.purchase))
    assert.equal(value('click', 'gauc'), computeGauc(probs.click, labels.click, groups).value)
    assert.equal(value('purchase', 'funnel_violation'), 0.25) // only row 2: 0.7 > 0.6
  })

  it('leaves out group metrics without groups and names a missing task', () => {
    const rows = computeTaskMetrics({ tasks: ['click'], probs, labels })
    assert.deepEqual(
      rows.map((r) => r.metric),
      ['auc', 'logloss', 'calibration'],
    )
    assert.throws(
      () => computeTaskMetrics({ tasks: ['buy'], probs, labels }),
      /probs: missing task "buy" \(have: click, purchase\)/,
    )
  })
})
