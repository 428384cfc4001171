/**
 * ReportData → chart specs: plain arrays in uPlot's "aligned" layout (one shared x, one y array per
 * series, null for a gap). Building them here, in typed code, keeps the in-page script a thin loop.
 */
import type { CalibrationBin } from '../metrics/calibration.js'
import type { ReportData, RunReport } from './types.js'

export interface SeriesSpec {
  label: string
  color: string
  /** canvas dash pattern, e.g. [6, 4]; absent = solid */
  dash?: number[]
  /** draw a marker at each value (few, meaningful points: calibration bins, sweep grid) */
  points?: boolean
  values: (number | null)[]
}

export interface ChartSpec {
  id: string
  section: 'loss' | 'auc' | 'roc' | 'calibration' | 'fusion'
  title: string
  xLabel: string
  yLabel: string
  x: number[]
  /** category labels for x = 0, 1, 2, ... (the fusion sweep's weight combinations) */
  xTicks?: string[]
  /** x takes whole numbers only (epochs, categories): ticks at integers */
  integerX?: boolean
  series: SeriesSpec[]
}

const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#17becf', '#8c564b', '#e377c2']
const SEED_DASHES: (number[] | undefined)[] = [undefined, [8, 4], [2, 3], [12, 3, 2, 3]]
const REFERENCE = '#999999'

export function buildCharts(data: ReportData): ChartSpec[] {
  const models = [...new Set(data.runs.map((r) => r.model))]
  const seedsOf = (model: string) => [...new Set(data.runs.filter((r) => r.model === model).map((r) => r.seed))]
  const style = (run: RunReport) => ({
    color: PALETTE[models.indexOf(run.model) % PALETTE.length],
    dash: SEED_DASHES[seedsOf(run.model).indexOf(run.seed) % SEED_DASHES.length],
  })
  const name = (run: RunReport) => `${run.model} s${run.seed}`
  const charts: ChartSpec[] = []

  for (const model of models) {
    const runs = data.runs.filter((r) => r.model === model && r.history.length > 0)
    if (runs.length === 0) continue
    const curves = runs.flatMap((run, i) => [
      { label: `train ${name(run)}`, color: PALETTE[i % PALETTE.length], dash: [6, 4], points: run.history.map((e) => [e.epoch, e.trainLoss] as const) },
      { label: `val ${name(run)}`, color: PALETTE[i % PALETTE.length], dash: undefined, points: run.history.map((e) => [e.epoch, e.valLoss] as const) },
    ])
    charts.push({ id: `loss-${model}`, section: 'loss', title: `Loss per epoch: ${model}`, xLabel: 'epoch', yLabel: 'loss', integerX: true, ...joinCurves(curves) })
  }

  for (const task of data.tasks) {
    const runs = data.runs.filter((r) => r.history.some((e) => e.valAuc[task] !== undefined))
    if (runs.length === 0) continue
    const curves = runs.map((run) => ({ label: name(run), ...style(run), points: run.history.map((e) => [e.epoch, e.valAuc[task] ?? NaN] as const) }))
    charts.push({ id: `auc-${task}`, section: 'auc', title: `Validation AUC per epoch: ${task}`, xLabel: 'epoch', yLabel: 'AUC', integerX: true, ...joinCurves(curves) })
  }

  for (const task of rocTasks(data)) {
    const runs = data.runs.filter((r) => r.roc?.[task])
    const grid = Array.from({ length: 101 }, (_, i) => i / 100)
    const series: SeriesSpec[] = runs.map((run) => {
      const roc = run.roc![task]
      return { label: `${name(run)} (AUC ${roc.auc.toFixed(4)})`, ...style(run), values: grid.map((f) => interpolate(roc.fpr, roc.tpr, f)) }
    })
    series.push({ label: 'chance', color: REFERENCE, dash: [3, 3], values: grid })
    charts.push({ id: `roc-${task}`, section: 'roc', title: `ROC: ${task}`, xLabel: 'false positive rate', yLabel: 'true positive rate', x: grid, series })
  }

  for (const task of data.tasks) {
    const runs = data.runs.filter((r) => r.calibration?.[task]?.length)
    if (runs.length === 0) continue
    const curves = runs.map((run) => ({ label: name(run), ...style(run), points: (run.calibration![task] as CalibrationBin[]).map((b) => [b.meanPredicted, b.observedRate] as const) }))
    const joined = joinCurves(curves)
    for (const s of joined.series) s.points = true
    joined.series.push({ label: 'perfect', color: REFERENCE, dash: [3, 3], values: joined.x })
    charts.push({ id: `calibration-${task}`, section: 'calibration', title: `Calibration: ${task}`, xLabel: 'mean predicted probability', yLabel: 'observed rate', ...joined })
  }

  const fused = data.runs.filter((r) => r.fusion && r.fusion.sweep.length > 0)
  if (fused.length > 0) {
    const label = (weights: Record<string, number>) => Object.entries(weights).slice(1).map(([t, w]) => `${t}=${w}`).join(' ')
    const ticks = [...new Set(fused.flatMap((r) => r.fusion!.sweep.map((p) => label(p.weights))))]
    const series = fused.map((run) => {
      const byLabel = new Map(run.fusion!.sweep.map((p) => [label(p.weights), p.value]))
      return { label: `${name(run)} ${run.fusion!.kind}, chosen ${label(run.fusion!.chosen)}`, ...style(run), points: true, values: ticks.map((t) => finiteOrNull(byLabel.get(t))) }
    })
    const objectives = [...new Set(fused.map((r) => r.fusion!.objective))].join(', ')
    charts.push({
      id: 'fusion-sweep', section: 'fusion', title: `Fusion-weight sweep (first task's weight fixed to 1)`, xLabel: 'weights', yLabel: objectives,
      x: ticks.map((_, i) => i), xTicks: ticks, integerX: true, series,
    })
  }
  return charts
}

function rocTasks(data: ReportData): string[] {
  const extra = data.runs.flatMap((r) => Object.keys(r.roc ?? {})).filter((t) => !data.tasks.includes(t))
  return [...data.tasks, ...new Set(extra)].filter((t) => data.runs.some((r) => r.roc?.[t]))
}

/** Puts curves with their own x values on one sorted shared x, with null where a curve has no point. */
export function joinCurves(curves: { label: string; color: string; dash?: number[]; points: readonly (readonly [number, number])[] }[]): { x: number[]; series: SeriesSpec[] } {
  const x = [...new Set(curves.flatMap((c) => c.points.map((p) => p[0])))].filter(Number.isFinite).sort((a, b) => a - b)
  const at = new Map(x.map((v, i) => [v, i]))
  const series = curves.map((c) => {
    const values: (number | null)[] = new Array(x.length).fill(null)
    for (const [px, py] of c.points) {
      const i = at.get(px)
      if (i !== undefined) values[i] = finiteOrNull(py)
    }
    return { label: c.label, color: c.color, ...(c.dash ? { dash: c.dash } : {}), values }
  })
  return { x, series }
}

/** Linear interpolation of y at x on a curve with ascending xs; at a vertical step, the highest y. */
export function interpolate(xs: number[], ys: number[], x: number): number {
  let hi = xs.findIndex((v) => v > x)
  if (hi === -1) return ys[ys.length - 1]
  if (hi === 0) return ys[0]
  const lo = hi - 1
  return ys[lo] + ((ys[hi] - ys[lo]) * (x - xs[lo])) / (xs[hi] - xs[lo])
}

function finiteOrNull(v: number | undefined): number | null {
  return v !== undefined && Number.isFinite(v) ? v : null
}
