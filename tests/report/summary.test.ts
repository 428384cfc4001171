import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { comparisonTables, formatSummary, metricDirection, renderResultsMarkdown, summarise } from '../../src/report/index.js'
import type { MetricRecord } from '../../src/metrics/index.js'

const rec = (model: string, seed: number, metric: string, value: number, split = 'test', task = 'click'): MetricRecord => ({ model, seed, split, task, metric, value })

describe('summarise', () => {
  it('gives the mean and sample std over seeds per split, model, task and metric', () => {
    // auc 0.70, 0.72, 0.74 → mean 0.72, sample std sqrt((0.0004 + 0 + 0.0004) / 2) = 0.02
    const [s] = summarise([rec('resflow', 1, 'auc', 0.7), rec('resflow', 2, 'auc', 0.72), rec('resflow', 3, 'auc', 0.74)])
    assert.equal(s.n, 3)
    assert.ok(Math.abs(s.mean - 0.72) < 1e-12 && Math.abs(s.std - 0.02) < 1e-12, `got ${s.mean} ± ${s.std}`)
    assert.equal(formatSummary(s), '0.7200 ± 0.0200')
  })

  it('leaves NaN values out but counts them, and has no std for one value', () => {
    const [s] = summarise([rec('mmoe', 1, 'auc', NaN), rec('mmoe', 2, 'auc', 0.6)])
    assert.deepEqual([s.mean, s.n, s.missing], [0.6, 1, 1])
    assert.ok(Number.isNaN(s.std))
    assert.equal(formatSummary(s), '0.6000 (n=1) [1 undefined]')
  })
})

describe('comparisonTables and renderResultsMarkdown', () => {
  const records = [
    rec('resflow', 1, 'auc', 0.8), rec('resflow', 2, 'auc', 0.82), rec('mmoe', 1, 'auc', 0.78), rec('mmoe', 2, 'auc', 0.8),
    rec('resflow', 1, 'logloss', 0.3), rec('resflow', 2, 'logloss', 0.3), rec('mmoe', 1, 'logloss', 0.25), rec('mmoe', 2, 'logloss', 0.27),
    rec('resflow', 1, 'calibration', 1.2), rec('mmoe', 1, 'calibration', 0.9),
    rec('resflow', 1, 'auc', 0.9, 'val'),
  ]

  it('puts the test split first and marks the best model per row by the metric direction', () => {
    const tables = comparisonTables(records)
    assert.deepEqual(tables.map((t) => t.split), ['test', 'val'])
    const best = Object.fromEntries(tables[0].rows.map((r) => [r.metric, r.best]))
    assert.ok(Math.abs(best.auc! - 0.81) < 1e-12) // higher is better: resflow (0.81 vs 0.79)
    assert.ok(Math.abs(best.logloss! - 0.26) < 1e-12) // lower is better: mmoe
    assert.equal(best.calibration, 0.9) // closest to 1: |0.9 − 1| < |1.2 − 1|
    assert.deepEqual([metricDirection('ndcg@10'), metricDirection('funnel_violation'), metricDirection('speed')], ['higher', 'lower', undefined])
  })

  it('renders one markdown table per split with the best cell in bold', () => {
    const md = renderResultsMarkdown(records)
    assert.match(md, /over 2 seeds/)
    assert.match(md, /## test\n\n\| task \| metric \| resflow \| mmoe \|\n\|---\|---\|---\|---\|/)
    assert.match(md, /\| click \| auc \| \*\*0\.8100 ± 0\.0141\*\* \| 0\.7900 ± 0\.0141 \|/) // std of {0.80, 0.82} = 0.01·√2
    assert.match(md, /\| click \| logloss \| 0\.3000 ± 0\.0000 \| \*\*0\.2600 ± 0\.0141\*\* \|/)
    assert.match(md, /## val\n\n\| task \| metric \| resflow \|/)
  })
})
