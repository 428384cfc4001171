import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import {
  BAYES_MODEL,
  comparisonTables,
  formatNumber,
  formatSummary,
  metricDirection,
  metricFormat,
  summarise,
} from '../../src/report/summary.js'
import { renderResultsMarkdown } from '../../src/report/markdown.js'
import { recordMaker } from '../helpers/metric-record.js'

const rec = recordMaker('click')

describe('summarise', () => {
  it('gives the mean and sample std over seeds per split, model, task and metric', () => {
    // auc 0.70, 0.72, 0.74 → mean 0.72, sample std sqrt((0.0004 + 0 + 0.0004) / 2) = 0.02
    const [s] = summarise([
      rec('resflow', 1, 'auc', 0.7),
      rec('resflow', 2, 'auc', 0.72),
      rec('resflow', 3, 'auc', 0.74),
    ])
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
    rec('resflow', 1, 'auc', 0.8),
    rec('resflow', 2, 'auc', 0.82),
    rec('mmoe', 1, 'auc', 0.78),
    rec('mmoe', 2, 'auc', 0.8),
    rec('resflow', 1, 'logloss', 0.3),
    rec('resflow', 2, 'logloss', 0.3),
    rec('mmoe', 1, 'logloss', 0.25),
    rec('mmoe', 2, 'logloss', 0.27),
    rec('resflow', 1, 'calibration', 1.2),
    rec('mmoe', 1, 'calibration', 0.9),
    rec('resflow', 1, 'auc', 0.9, 'val'),
  ]

  it('puts the test split first and marks the best model per row by the metric direction', () => {
    const tables = comparisonTables(records)
    assert.deepEqual(
      tables.map((t) => t.split),
      ['test', 'val'],
    )
    const best = Object.fromEntries(tables[0].rows.map((r) => [r.metric, r.best]))
    assert.ok(Math.abs(best.auc! - 0.81) < 1e-12) // higher is better: resflow (0.81 vs 0.79)
    assert.ok(Math.abs(best.logloss! - 0.26) < 1e-12) // lower is better: mmoe
    assert.equal(best.calibration, 0.9) // closest to 1: |0.9 − 1| < |1.2 − 1|
    assert.deepEqual(
      [metricDirection('ndcg@10'), metricDirection('funnel_violation'), metricDirection('speed')],
      ['higher', 'lower', undefined],
    )
  })

  it('renders one markdown table per split with the best cell in bold', () => {
    const md = renderResultsMarkdown(records)
    assert.match(md, /over 2 seeds/)
    assert.match(md, /## test\n\n\| task \| metric \| resflow \| mmoe \|\n\|---\|---\|---\|---\|/)
    assert.match(md, /\| click \| auc \| \*\*0\.8100 ± 0\.0141\*\* \| 0\.7900 ± 0\.0141 \|/) // std of {0.80, 0.82} = 0.01·√2
    assert.match(md, /\| click \| logloss \| 0\.3000 \| \*\*0\.2600 ± 0\.0141\*\* \|/) // resflow: 0.3 in both seeds
    assert.match(md, /## val\n\n\| task \| metric \| resflow \|/)
  })
})

describe('number formats', () => {
  const summary = (mean: number, std: number, n = 3) => ({ mean, std, n, missing: 0 })

  it('writes rates and counts as integers with thousands separators, without ± when every seed agrees', () => {
    assert.equal(
      formatSummary(summary(46228.2248, 3922.4934), metricFormat('rows_per_s', [46228.2248, 150013.0388])),
      '46,228 ± 3,922',
    )
    assert.equal(formatSummary(summary(192226, 0), metricFormat('parameters', [192226, 2482])), '192,226')
    assert.equal(formatSummary(summary(2, 0), metricFormat('epochs', [2, 3])), '2')
    assert.equal(formatSummary(summary(1.5, Math.SQRT1_2), metricFormat('best_epoch', [1.5, 2])), '1.5 ± 0.7')
    assert.equal(formatSummary(summary(0.0923, 0.0015), metricFormat('seconds', [0.0923, 0.0782])), '0.092 ± 0.002')
    assert.equal(formatSummary(summary(312.44, 5.1), metricFormat('seconds', [312.44, 1290.2])), '312 ± 5')
  })

  it('keeps 4 decimals for AUC and logloss, more when a row holds small values, never exponent form', () => {
    assert.equal(formatSummary(summary(0.78123, 0.0011), metricFormat('auc', [0.78123, 0.5])), '0.7812 ± 0.0011')
    assert.equal(formatSummary(summary(0.6869, 0.067), metricFormat('logloss', [0.6869, 0.0111])), '0.6869 ± 0.0670')
    // a purchase logloss of 0.0024 and its std 9.79e-4 once read "0.0024 ± 9.79e-4"
    const small = metricFormat('logloss', [0.0024, 0.0031])
    assert.deepEqual(small, { decimals: 5, grouping: false })
    assert.equal(formatSummary(summary(0.0024, 9.79e-4), small), '0.00240 ± 0.00098')
    assert.equal(formatSummary(summary(0.0031, 0.0012), small), '0.00310 ± 0.00120')
    assert.equal(formatSummary(summary(0.6739, 7.05e-4), metricFormat('ndcg@10', [0.6739, 0.6618])), '0.6739 ± 0.0007')
    assert.equal(formatSummary(summary(1, 0), metricFormat('recall@10', [1, 0.75])), '1.0000')
    assert.equal(metricFormat('funnel_violation', [1e-9, 0.2]).decimals, 6) // at most 6
    assert.deepEqual(
      [formatNumber(9.79e-4), formatNumber(0.0024), formatNumber(0.7812)],
      ['0.000979', '0.00240', '0.7812'],
    )
    assert.equal(formatNumber(-1e-5, { decimals: 4, grouping: false }), '0.0000') // not "-0.0000"
  })

  it('gives a std of exactly 0 when every seed gave the same value, so no "± 0.0000" is written', () => {
    const [s] = summarise([1, 2, 3].map((seed) => rec('m', seed, 'calibration', 0.1)))
    assert.equal(s.std, 0) // the naive sum gives a mean of 0.10000000000000002 and a std of ~1e-17
    assert.equal(formatSummary(s), '0.1000')
  })

  it('formats each table row alike, the Bayes column included, and never marks the Bayes ceiling best', () => {
    const records = [
      rec('resflow', 1, 'logloss', 0.0031),
      rec('resflow', 2, 'logloss', 0.0041),
      rec(BAYES_MODEL, 1, 'logloss', 0.0024),
      rec('resflow', 1, 'parameters', 192226, 'train', 'all'),
      rec('resflow', 2, 'parameters', 192226, 'train', 'all'),
      rec('resflow', 1, 'rows_per_s', 44000, 'train', 'all'),
      rec('resflow', 2, 'rows_per_s', 48000, 'train', 'all'),
    ]
    const md = renderResultsMarkdown(records)
    assert.match(md, /\| click \| logloss \| \*\*0\.00360 ± 0\.00071\*\* \| 0\.00240 \(n=1\) \|/)
    assert.match(md, /\| all \| parameters \| 192,226 \|/)
    assert.match(md, /\| all \| rows_per_s \| 46,000 ± 2,828 \|/) // std of {44000, 48000} = 2000·√2
    assert.doesNotMatch(md, /\de-\d/)
  })
})
