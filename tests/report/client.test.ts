import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { buildCharts, type ChartSpec } from '../../src/report/charts.js'
import { CLIENT_SCRIPT } from '../../src/report/client.js'
import { buildFixtureReport } from './fixture.js'

type AxisValues =
  | string[]
  | ((u: unknown, splits: (number | null)[], axisIdx: number, space: number, step: number) => string[])

/** The part of uPlot's options the page script sets. */
interface PlotOptions {
  title: string
  legend: unknown
  scales: { x: { range?: [number, number] }; y?: { range?: [number, number] } }
  axes: { splits?: number[]; values: AxisValues }[]
  hooks?: { draw: ((u: unknown) => void)[] }
}

/** The options the page script hands to uPlot per chart, from a run against a stub page and a stub uPlot. */
function clientOptions(charts: ChartSpec[]): PlotOptions[] {
  const options: PlotOptions[] = []
  const page = {
    getElementById: (id: string) => (id === 'report-data' ? { textContent: JSON.stringify({ charts }) } : { id }),
    body: { setAttribute: () => {} },
  }
  // a function declaration: the page calls `new uPlot(...)`, which an arrow function refuses
  function plot(opts: PlotOptions) {
    options.push(opts)
  }
  const uPlot = Object.assign(plot, { pxRatio: 1 })
  new Function('document', 'uPlot', CLIENT_SCRIPT)(page, uPlot)
  return options
}

/** A canvas context that records the text drawn and the rings stroked. */
function recordingContext() {
  const drawn = { text: [] as string[], rings: [] as string[] }
  let stroke = ''
  const ctx = {
    save() {},
    restore() {},
    beginPath() {},
    moveTo() {},
    lineTo() {},
    stroke() {},
    setLineDash() {},
    fillRect() {},
    set strokeStyle(colour: string) {
      stroke = colour
    },
    arc() {
      drawn.rings.push(stroke)
    },
    fillText(text: string) {
      drawn.text.push(text)
    },
    measureText: (text: string) => ({ width: 7 * text.length }),
  }
  return { ctx, drawn }
}

describe('report page script', () => {
  const charts = buildCharts(buildFixtureReport())
  const options = clientOptions(charts)
  const byId = (id: string) => options[charts.findIndex((c) => c.id === id)]

  it('draws every chart with a legend of series names only, no "--" placeholders', () => {
    assert.equal(options.length, charts.length)
    for (const opts of options) assert.deepEqual(opts.legend, { live: false }, opts.title)
  })

  it('gives automatic ticks the decimals of their step', () => {
    const values = byId('loss-resflow').axes[1].values
    assert.equal(typeof values, 'function')
    const format = values as Exclude<AxisValues, string[]>
    assert.deepEqual(format(null, [0.3, 0.32, 0.34, null], 1, 50, 0.02), ['0.30', '0.32', '0.34', ''])
    assert.deepEqual(format(null, [0, 0.5, 1], 1, 50, 0.5), ['0.0', '0.5', '1.0'])
    assert.deepEqual(format(null, [0, 5, 10], 1, 50, 5), ['0', '5', '10'])
  })

  it('passes fixed ticks and ranges through: calibration on both axes, fusion categories', () => {
    const calibration = charts.find((c) => c.section === 'calibration')!
    const opts = byId(calibration.id)
    assert.deepEqual(
      [opts.axes[0].splits, opts.axes[0].values, opts.scales.x.range],
      [calibration.xAxis!.splits, calibration.xAxis!.labels, calibration.xAxis!.range],
    )
    assert.deepEqual(
      [opts.axes[1].splits, opts.axes[1].values, opts.scales.y?.range],
      [calibration.yAxis!.splits, calibration.yAxis!.labels, calibration.yAxis!.range],
    )
    const sweep = charts.find((c) => c.id === 'fusion-sweep')!
    assert.deepEqual(byId('fusion-sweep').axes[0].values, sweep.xAxis!.labels)
  })

  it('marks the chosen fusion weights: a "chosen" label per weight and a ring per run', () => {
    const sweep = charts.find((c) => c.id === 'fusion-sweep')!
    const { ctx, drawn } = recordingContext()
    const plot = { ctx, bbox: { left: 50, top: 10, width: 500, height: 250 }, valToPos: (v: number) => v * 10 }
    for (const hook of byId('fusion-sweep').hooks!.draw) hook(plot)
    assert.deepEqual(
      drawn.text,
      [...new Set(sweep.highlights!.map((h) => h.x))].map(() => 'chosen'),
    )
    assert.deepEqual(
      drawn.rings,
      sweep.highlights!.map((h) => h.color),
    )
    assert.equal(byId('loss-resflow').hooks, undefined)
  })
})
