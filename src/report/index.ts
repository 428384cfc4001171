/** Reports: results.md, report.html and the summaries behind them. */
export type { EpochRecord, FusionReport, FusionSweepEntry, ReportData, RocPoints, RunReport } from './types.js'
export {
  summarise,
  metricDirection,
  bestMean,
  metricFormat,
  formatSummary,
  formatNumber,
  comparisonTables,
  BAYES_MODEL,
} from './summary.js'
export type { ComparisonTable, MetricSummary, NumberFormat } from './summary.js'
export { renderResultsMarkdown } from './markdown.js'
export { renderReport, escapeHtml } from './html.js'
export { buildCharts, joinCurves, interpolate } from './charts.js'
export type { ChartSpec, Highlight, SeriesSpec, TickSpec } from './charts.js'
