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

/** Fixed ticks for an axis, where uPlot's automatic choice would be uneven or skip a value that matters. */
export interface TickSpec {
  /** the scale's [min, max] */
  range: [number, number]
  /** tick positions, ascending */
  splits: number[]
  /** the text at each split; '' leaves that tick unlabelled */
  labels: string[]
}

/** A point to point out: a ring in the series' colour, and a dashed line with `label` at its x. */
export interface Highlight {
  x: number
  y: number
  color: string
  label: string
}

/**
 * One chart. The page draws every chart with a static legend (series names only, no values under the
 * cursor: uPlot's live legend shows "--" until a point is hovered).
 */
export interface ChartSpec {
  id: string
  section: 'loss' | 'auc' | 'roc' | 'calibration' | 'fusion'
  title: string
  xLabel: string
  yLabel: string
  x: number[]
  /** category names for x = 0, 1, 2, ... (the fusion sweep's weight combinations) */
  xTicks?: string[]
  /** x takes whole numbers only (epochs, categories): ticks at integers */
  integerX?: boolean
  /** fixed ticks; absent = uPlot's, at round steps with the step's decimals */
  xAxis?: TickSpec
  yAxis?: TickSpec
  highlights?: Highlight[]
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
      {
        label: `train ${name(run)}`,
        color: PALETTE[i % PALETTE.length],
        dash: [6, 4],
        points: run.history.map((e) => [e.epoch, e.trainLoss] as const),
      },
      {
        label: `val ${name(run)}`,
        color: PALETTE[i % PALETTE.length],
        dash: undefined,
        points: run.history.map((e) => [e.epoch, e.valLoss] as const),
      },
    ])
    charts.push({
      id: `loss-${model}`,
      section: 'loss',
      title: `Loss per epoch: ${model}`,
      xLabel: 'epoch',
      yLabel: 'loss',
      integerX: true,
      ...joinCurves(curves),
    })
  }

  for (const task of data.tasks) {
    const runs = data.runs.filter((r) => r.history.some((e) => e.valAuc[task] !== undefined))
    if (runs.length === 0) continue
    const curves = runs.map((run) => ({
      label: name(run),
      ...style(run),
      points: run.history.map((e) => [e.epoch, e.valAuc[task] ?? NaN] as const),
    }))
    charts.push({
      id: `auc-${task}`,
      section: 'auc',
      title: `Validation AUC per epoch: ${task}`,
      xLabel: 'epoch',
      yLabel: 'AUC',
      integerX: true,
      ...joinCurves(curves),
    })
  }

  for (const task of rocTasks(data)) {
    const runs = data.runs.filter((r) => r.roc?.[task])
    const grid = Array.from({ length: 101 }, (_, i) => i / 100)
    const series: SeriesSpec[] = runs.map((run) => {
      const roc = run.roc![task]
      return {
        label: `${name(run)} (AUC ${roc.auc.toFixed(4)})`,
        ...style(run),
        values: grid.map((f) => interpolate(roc.fpr, roc.tpr, f)),
      }
    })
    series.push({ label: 'chance', color: REFERENCE, dash: [3, 3], values: grid })
    const unit = roundTicks(1)
    charts.push({
      id: `roc-${task}`,
      section: 'roc',
      title: `ROC: ${task}`,
      xLabel: 'false positive rate',
      yLabel: 'true positive rate',
      x: grid,
      xAxis: unit,
      yAxis: unit,
      series,
    })
  }

  for (const task of data.tasks) {
    const runs = data.runs.filter((r) => r.calibration?.[task]?.length)
    if (runs.length === 0) continue
    const curves = runs.map((run) => ({
      label: name(run),
      ...style(run),
      points: (run.calibration![task] as CalibrationBin[]).map((b) => [b.meanPredicted, b.observedRate] as const),
    }))
    // one scale for both axes, from 0 at a round step, so the diagonal is the identity and ticks read alike
    const ticks = roundTicks(Math.max(...curves.flatMap((c) => c.points.flat()).filter(Number.isFinite)))
    const top = ticks.range[1]
    const joined = joinCurves([
      ...curves,
      {
        label: 'perfect',
        color: REFERENCE,
        dash: [3, 3],
        points: [
          [0, 0],
          [top, top],
        ],
      },
    ])
    for (const s of joined.series.slice(0, -1)) s.points = true
    charts.push({
      id: `calibration-${task}`,
      section: 'calibration',
      title: `Calibration: ${task}`,
      xLabel: 'mean predicted probability',
      yLabel: 'observed rate',
      xAxis: ticks,
      yAxis: ticks,
      ...joined,
    })
  }

  const fused = data.runs.filter((r) => r.fusion && r.fusion.sweep.length > 0)
  if (fused.length > 0) {
    // the first task's weight is fixed to 1; the others vary, and a tick names their values only
    const [fixed, ...free] = Object.keys(fused[0].fusion!.sweep[0].weights)
    const label = (weights: Record<string, number>) => free.map((t) => `${t}=${weights[t]}`).join(' ')
    const tick = (weights: Record<string, number>) => free.map((t) => String(weights[t])).join(', ')
    const names = [...new Set(fused.flatMap((r) => r.fusion!.sweep.map((p) => tick(p.weights))))]
    const highlights: Highlight[] = []
    const series = fused.map((run) => {
      const byTick = new Map(run.fusion!.sweep.map((p) => [tick(p.weights), p.value]))
      const values = names.map((t) => finiteOrNull(byTick.get(t)))
      const chosen = names.indexOf(tick(run.fusion!.chosen))
      const y = values[chosen]
      if (chosen >= 0 && y != null) highlights.push({ x: chosen, y, color: style(run).color, label: 'chosen' })
      return {
        label: `${name(run)} ${run.fusion!.kind}, chosen ${label(run.fusion!.chosen)}`,
        ...style(run),
        points: true,
        values,
      }
    })
    const objectives = [...new Set(fused.map((r) => r.fusion!.objective))].join(', ')
    charts.push({
      id: 'fusion-sweep',
      section: 'fusion',
      title: `Fusion-weight sweep (${fixed} weight fixed to 1)`,
      xLabel: free.length === 1 ? `${free[0]} weight` : `weights of ${free.join(', ')}`,
      yLabel: objectives,
      x: names.map((_, i) => i),
      xTicks: names,
      integerX: true,
      xAxis: categoryTicks(
        names,
        highlights.map((h) => h.x),
      ),
      highlights,
      series,
    })
  }
  return charts
}

/**
 * Ticks from 0 at a round step (1, 2 or 5 × 10^k) up to the first one at or above `max`, at most
 * `maxIntervals` of them, every label with the step's decimals: 0.00 0.05 0.10, never 0.3 0.32.
 */
export function roundTicks(max: number, maxIntervals = 5): TickSpec {
  const span = Number.isFinite(max) && max > 0 ? max : 1
  const intervalsAt = (step: number) => Math.ceil(span / step - 1e-9) // 1e-9: 0.3 / 0.1 is 2.9999999999999996
  // span / maxIntervals lies in [10^e, 10^(e+1)), so one of 1, 2, 5 × 10^e or 10^(e+1) fits
  const e = Math.floor(Math.log10(span / maxIntervals))
  const [mantissa, exponent] = (
    [
      [1, e],
      [2, e],
      [5, e],
      [1, e + 1],
    ] as const
  ).find(([m, x]) => intervalsAt(m * 10 ** x) <= maxIntervals)!
  const step = mantissa * 10 ** exponent
  const decimals = Math.max(0, -exponent)
  const splits = Array.from({ length: intervalsAt(step) + 1 }, (_, i) => Number((i * step).toFixed(decimals)))
  return { range: [0, splits[splits.length - 1]], splits, labels: splits.map((v) => v.toFixed(decimals)) }
}

/**
 * Ticks at categories 0..n-1: every name when all fit in `plotWidthPx` (at ~7 px a character), else every
 * k-th, and always those in `keep` (the chosen fusion weights), with no other label close enough to crowd them.
 */
export function categoryTicks(names: string[], keep: number[], plotWidthPx = 480): TickSpec {
  const slot = 7 * Math.max(1, ...names.map((n) => n.length)) + 16
  const stride = Math.ceil(names.length / Math.max(1, Math.floor(plotWidthPx / slot)))
  const shown = (i: number) => keep.includes(i) || (i % stride === 0 && keep.every((k) => Math.abs(k - i) >= stride))
  return {
    range: [-0.5, names.length - 0.5],
    splits: names.map((_, i) => i),
    labels: names.map((n, i) => (shown(i) ? n : '')),
  }
}

function rocTasks(data: ReportData): string[] {
  const extra = data.runs.flatMap((r) => Object.keys(r.roc ?? {})).filter((t) => !data.tasks.includes(t))
  return [...data.tasks, ...new Set(extra)].filter((t) => data.runs.some((r) => r.roc?.[t]))
}

/** Puts curves with their own x values on one sorted shared x, with null where a curve has no point. */
export function joinCurves(
  curves: { label: string; color: string; dash?: number[]; points: readonly (readonly [number, number])[] }[],
): { x: number[]; series: SeriesSpec[] } {
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
  const hi = xs.findIndex((v) => v > x)
  if (hi === -1) return ys[ys.length - 1]
  if (hi === 0) return ys[0]
  const lo = hi - 1
  return ys[lo] + ((ys[hi] - ys[lo]) * (x - xs[lo])) / (xs[hi] - xs[lo])
}

function finiteOrNull(v: number | undefined): number | null {
  return v !== undefined && Number.isFinite(v) ? v : null
}
