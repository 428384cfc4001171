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
    const std = n > 1 ? Math.sqrt(finite.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1)) : NaN
    return { split: key.split, model: key.model, task: key.task, metric: key.metric, mean, std, n, missing: values.length - n }
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

/** "0.7812 ± 0.0011", "0.7812 (n=1)", or "—" when nothing was finite; tiny values in exponent form. */
export function formatSummary(s: Pick<MetricSummary, 'mean' | 'std' | 'n' | 'missing'>): string {
  if (s.n === 0) return '—'
  const body = s.n > 1 ? `${formatNumber(s.mean)} ± ${formatNumber(s.std)}` : `${formatNumber(s.mean)} (n=1)`
  return s.missing > 0 ? `${body} [${s.missing} undefined]` : body
}

export function formatNumber(v: number): string {
  if (!Number.isFinite(v)) return String(v)
  if (v !== 0 && Math.abs(v) < 1e-3) return v.toExponential(2)
  return v.toFixed(4)
}

/** Rows (task × metric) by columns (models) for one split, as a table to render. */
export interface ComparisonTable {
  split: string
  models: string[]
  rows: { task: string; metric: string; cells: (MetricSummary | undefined)[]; best: number | undefined }[]
}

/** One table per split; 'test' first if present, then splits in order of appearance. */
/** The model label of the generator's true probabilities (a ceiling, never marked best). */
export const BAYES_MODEL = 'bayes (true p)'

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
      return { task, metric, cells, best: bestMean(metric, cells.map((c, i) => (models[i]!.startsWith(BAYES_MODEL) ? NaN : (c?.mean ?? NaN)))) }
    })
    return { split, models, rows }
  })
}

function unique<T>(xs: T[]): T[] {
  return [...new Set(xs)]
}
