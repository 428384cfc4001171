import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { categoryTicks, roundTicks } from '../../src/report/charts.js'
import { buildCharts, interpolate, joinCurves } from '../../src/report/charts.js'
import { buildFixtureReport } from './fixture.js'

describe('chart data', () => {
  it('joins curves on a shared sorted x with null gaps', () => {
    const { x, series } = joinCurves([
      {
        label: 'a',
        color: '#000',
        points: [
          [1, 10],
          [3, 30],
        ],
      },
      {
        label: 'b',
        color: '#111',
        points: [
          [2, 20],
          [3, NaN],
        ],
      },
    ])
    assert.deepEqual(x, [1, 2, 3])
    assert.deepEqual(
      series.map((s) => s.values),
      [
        [10, null, 30],
        [null, 20, null],
      ],
    )
  })

  it('interpolates a ROC curve linearly and takes the top of a vertical step', () => {
    const fpr = [0, 0, 0.5, 0.5, 1]
    const tpr = [0, 0.5, 0.5, 1, 1]
    assert.deepEqual(
      [0, 0.25, 0.5, 0.75, 1].map((f) => interpolate(fpr, tpr, f)),
      [0.5, 0.5, 1, 1, 1],
    )
  })

  it('builds a loss chart per model and AUC, ROC, calibration charts per task, and one sweep', () => {
    const charts = buildCharts(buildFixtureReport())
    assert.deepEqual(
      charts.map((c) => c.id),
      [
        'loss-resflow',
        'loss-mmoe',
        'auc-click',
        'auc-purchase',
        'roc-click',
        'roc-purchase',
        'calibration-click',
        'calibration-purchase',
        'fusion-sweep',
      ],
    )
    for (const c of charts) for (const s of c.series) assert.equal(s.values.length, c.x.length, `${c.id}/${s.label}`)
    const sweep = charts.at(-1)!
    assert.deepEqual(sweep.xTicks, ['0', '0.5', '1', '2', '4', '8'])
    assert.equal(sweep.xLabel, 'purchase weight')
    assert.equal(sweep.series.length, 4)
  })

  it("puts ticks at round steps from 0, every label with the step's decimals", () => {
    assert.deepEqual(roundTicks(0.4126), {
      range: [0, 0.5],
      splits: [0, 0.1, 0.2, 0.3, 0.4, 0.5],
      labels: ['0.0', '0.1', '0.2', '0.3', '0.4', '0.5'],
    })
    assert.deepEqual(roundTicks(0.043), {
      range: [0, 0.05],
      splits: [0, 0.01, 0.02, 0.03, 0.04, 0.05],
      labels: ['0.00', '0.01', '0.02', '0.03', '0.04', '0.05'],
    })
    assert.deepEqual(roundTicks(0.51), {
      range: [0, 0.6],
      splits: [0, 0.2, 0.4, 0.6],
      labels: ['0.0', '0.2', '0.4', '0.6'],
    })
    assert.deepEqual(roundTicks(0.3).splits, [0, 0.1, 0.2, 0.3]) // 0.3 / 0.1 = 2.9999999999999996
    assert.deepEqual(roundTicks(0.00123).labels, ['0.0000', '0.0005', '0.0010', '0.0015'])
    assert.deepEqual(roundTicks(NaN), roundTicks(1))
  })

  it('draws calibration on one even scale for both axes, from 0, with the diagonal across it', () => {
    const calibration = buildCharts(buildFixtureReport()).filter((c) => c.section === 'calibration')
    assert.equal(calibration.length, 2)
    for (const c of calibration) {
      const ticks = c.xAxis!
      assert.deepEqual(c.yAxis, ticks, c.id)
      assert.equal(ticks.splits[0], 0, c.id)
      const steps = ticks.splits.slice(1).map((v, i) => v - ticks.splits[i])
      for (const step of steps) assert.ok(Math.abs(step - steps[0]) < 1e-12, `${c.id}: uneven ticks ${ticks.splits}`)
      assert.equal(
        new Set(ticks.labels.map((l) => l.split('.')[1]?.length ?? 0)).size,
        1,
        `${c.id}: labels ${ticks.labels}`,
      )
      const values = c.series.flatMap((s) => s.values).filter((v): v is number => v !== null)
      assert.ok(Math.max(...values, ...c.x) <= ticks.range[1], c.id)
      const perfect = c.series.at(-1)!
      assert.equal(perfect.label, 'perfect')
      assert.deepEqual(
        [perfect.values[0], perfect.values.at(-1), c.x[0], c.x.at(-1)],
        [0, ticks.range[1], 0, ticks.range[1]],
      )
    }
    assert.deepEqual(calibration[0].xAxis!.labels, ['0.0', '0.1', '0.2', '0.3', '0.4', '0.5'])
  })

  it('labels the fusion weights each run chose: a tick label and a highlighted point', () => {
    const data = buildFixtureReport()
    const sweep = buildCharts(data).find((c) => c.id === 'fusion-sweep')!
    const chosen = data.runs.map((r) => sweep.xTicks!.indexOf(String(r.fusion!.chosen.purchase)))
    assert.ok(
      chosen.every((i) => i >= 0),
      `chosen ${chosen}`,
    )
    assert.deepEqual(
      sweep.highlights!.map((h) => [h.x, h.label]),
      chosen.map((i) => [i, 'chosen']),
    )
    sweep.highlights!.forEach((h, i) => assert.equal(h.y, sweep.series[i].values[h.x]))
    for (const i of chosen) assert.equal(sweep.xAxis!.labels[i], sweep.xTicks![i])
    assert.deepEqual(sweep.xAxis!.splits, [0, 1, 2, 3, 4, 5])
    assert.deepEqual(sweep.xAxis!.range, [-0.5, 5.5])
  })

  it('thins category labels that do not fit but keeps the chosen one, with room around it', () => {
    const names = Array.from({ length: 12 }, (_, i) => `${i / 4}, ${i / 2}`) // up to "2.75, 5.5": 9 characters, 4 fit in 320 px
    assert.deepEqual(
      categoryTicks(names, [], 320).labels,
      names.map((n, i) => (i % 3 === 0 ? n : '')),
    )
    assert.deepEqual(
      categoryTicks(names, [4], 320).labels,
      names.map((n, i) => ([0, 4, 9].includes(i) ? n : '')),
    )
    assert.deepEqual(categoryTicks(names.slice(0, 4), [2]).labels, names.slice(0, 4)) // all fit
  })
})
