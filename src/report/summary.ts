/**
 * Mean ± std of the metric records over seeds, per split, model, task and metric: the numbers behind
 * results.md and the report's comparison table.
 */
import type { MetricRecord } from '../metrics/types.js'

export interface MetricSummary {
  split: string
  model: string
  task: string
  metric: string
  mean: number
  /** sample standard deviation (n − 1 denominator); NaN when n < 2 */
  std: number
  /** finite values averaged */
  n: number
  /** NaN or infinite values left out (e.g. an AUC undefined on a one-class split) */
  missing: number
}

/** Groups records by (split, model, task, metric), keeping the order in which each key first appears. */
export function summarise(records: MetricRecord[]): MetricSummary[] {
  const groups = new Map<string, { key: MetricRecord; values: number[] }>()
  for (const r of records) {
    const id = JSON.stringify([r.split, r.model, r.task, r.metric])
    let group = groups.get(id)
    if (!group) groups.set(id, (group = { key: r, values: [] }))
    group.values.push(r.value)
  }
  return [...groups.values()].map(({ key, values }) => {
    const finite = values.filter(Number.isFinite)
    const n = finite.length
    const mean = n > 0 ? finite.reduce((a, b) => a + b, 0) / n : NaN
    // exactly 0 when every seed gave the same value, so formatSummary can drop the "± 0.0000"
    const constant = finite.every((v) => v === finite[0])
    const std = n > 1 ? (constant ? 0 : Math.sqrt(finite.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1))) : NaN
    return {
      split: key.split,
      model: key.model,
      task: key.task,
      metric: key.metric,
      mean,
      std,
      n,
      missing: values.length - n,
    }
  })
}

/** Which way is better: AUC-like metrics up, losses and violation rates down, calibration towards 1. */
export function metricDirection(metric: string): 'higher' | 'lower' | 'one' | undefined {
  const base = metric.split('@')[0]
  if (['auc', 'gauc', 'ndcg', 'recall'].includes(base)) return 'higher'
  if (['logloss', 'funnel_violation'].includes(base)) return 'lower'
  if (base === 'calibration') return 'one'
  return undefined
}

/** The best mean among `summaries` (same split, task and metric), by metricDirection; undefined if unknown. */
export function bestMean(metric: string, means: number[]): number | undefined {
  const direction = metricDirection(metric)
  const finite = means.filter(Number.isFinite)
  if (!direction || finite.length === 0) return undefined
  if (direction === 'higher') return Math.max(...finite)
  if (direction === 'lower') return Math.min(...finite)
  return finite.reduce((best, v) => (Math.abs(v - 1) < Math.abs(best - 1) ? v : best))
}

/** How a metric's numbers are written. comparisonTables picks one per row, so a row reads alike across models. */
export interface NumberFormat {
  decimals: number
  /** thousands separators: 192,226 */
  grouping: boolean
}

/**
 * Scores, losses and ratios keep 4 decimals, more (up to 6) when the row's smallest value needs them for
 * 3 significant digits (a purchase logloss of 0.00240 beside its std 0.00098); counts are integers
 * (1 decimal when a mean over seeds is not whole); measured costs get 3 significant digits (0 to 3 decimals).
 * Metrics not listed are measured.
 */
const METRIC_KINDS: Record<string, 'score' | 'count' | 'measured'> = {
  auc: 'score',
  gauc: 'score',
  ndcg: 'score',
  recall: 'score',
  logloss: 'score',
  calibration: 'score',
  funnel_violation: 'score',
  parameters: 'count',
  epochs: 'count',
  best_epoch: 'count',
  rows_per_s: 'measured',
  seconds: 'measured',
}

/** The format for `metric` (e.g. "logloss", "ndcg@10", "rows_per_s") that suits all of `values` (one row's means). */
export function metricFormat(metric: string, values: number[]): NumberFormat {
  const kind = METRIC_KINDS[metric.split('@')[0]] ?? 'measured'
  const finite = values.filter(Number.isFinite)
  if (kind === 'count') return { decimals: finite.every(Number.isInteger) ? 0 : 1, grouping: true }
  const smallest = Math.min(...finite.filter((v) => v !== 0).map(Math.abs))
  const forThreeDigits = Number.isFinite(smallest) ? 2 - Math.floor(Math.log10(smallest)) : 0
  const [lo, hi] = kind === 'score' ? [4, 6] : [0, 3]
  return { decimals: Math.min(hi, Math.max(lo, forThreeDigits)), grouping: kind === 'measured' }
}

/**
 * "0.7812 ± 0.0011"; "192,226" when every seed gave the same value; "0.7812 (n=1)"; "—" when nothing
 * was finite. Without a format, the score format for this one mean.
 */
export function formatSummary(
  s: Pick<MetricSummary, 'mean' | 'std' | 'n' | 'missing'>,
  format = metricFormat('auc', [s.mean]),
): string {
  if (s.n === 0) return '—'
  const mean = formatNumber(s.mean, format)
  const body = s.n === 1 ? `${mean} (n=1)` : s.std === 0 ? mean : `${mean} ± ${formatNumber(s.std, format)}`
  return s.missing > 0 ? `${body} [${s.missing} undefined]` : body
}

/** Fixed decimals, never exponent form; without a format, the score format for this value (0.7812, 0.000979). */
export function formatNumber(v: number, format = metricFormat('auc', [v])): string {
  if (!Number.isFinite(v)) return String(v)
  const { decimals, grouping } = format
  const rounded = Math.abs(v) < 0.5 * 10 ** -decimals ? 0 : v // no "-0.0000"
  return new Intl.NumberFormat('en-US', {
    minimumFractionDigits: decimals,
    maximumFractionDigits: decimals,
    useGrouping: grouping,
  }).format(rounded)
}

/** Rows (task × metric) by columns (models) for one split, as a table to render. */
export interface ComparisonTable {
  split: string
  models: string[]
  /** `format` suits every cell of the row (metricFormat of the row's means) */
  rows: {
    task: string
    metric: string
    cells: (MetricSummary | undefined)[]
    best: number | undefined
    format: NumberFormat
  }[]
}

/** The model label of the generator's true probabilities (a ceiling, never marked best). */
export const BAYES_MODEL = 'bayes (true p)'

/** One table per split; 'test' first if present, then splits in order of appearance. */
export function comparisonTables(records: MetricRecord[]): ComparisonTable[] {
  const summaries = summarise(records)
  const splits = unique(summaries.map((s) => s.split)).sort((a, b) => Number(b === 'test') - Number(a === 'test'))
  return splits.map((split) => {
    const here = summaries.filter((s) => s.split === split)
    const models = unique(here.map((s) => s.model))
    const keys = unique(here.map((s) => JSON.stringify([s.task, s.metric])))
    const rows = keys.map((key) => {
      const [task, metric] = JSON.parse(key) as [string, string]
      const cells = models.map((m) => here.find((s) => s.model === m && s.task === task && s.metric === metric))
      const means = cells.map((c) => c?.mean ?? NaN)
      const best = bestMean(
        metric,
        means.map((m, i) => (models[i].startsWith(BAYES_MODEL) ? NaN : m)),
      )
      return { task, metric, cells, best, format: metricFormat(metric, means) }
    })
    return { split, models, rows }
  })
}

function unique<T>(xs: T[]): T[] {
  return [...new Set(xs)]
}
