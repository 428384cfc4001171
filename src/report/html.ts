/**
 * report.html: one self-contained file that opens offline. The comparison table is HTML; the charts
 * (loss and AUC per epoch, ROC, calibration, fusion-weight sweep) are drawn by uPlot, whose script and
 * stylesheet are read from node_modules at render time and inlined, with the chart data as embedded
 * JSON. Nothing is fetched from the network.
 */
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { buildCharts, type ChartSpec } from './charts.js'
import { CLIENT_SCRIPT } from './client.js'
import { comparisonTables, formatSummary, type ComparisonTable } from './summary.js'
import type { ReportData } from './types.js'

const require = createRequire(import.meta.url)

const SECTIONS: { id: ChartSpec['section']; title: string; note: string }[] = [
  { id: 'loss', title: 'Loss per epoch', note: 'Dashed: training loss; solid: validation loss; one colour per seed.' },
  { id: 'auc', title: 'Validation AUC per epoch', note: 'One colour per model; dash pattern per seed.' },
  { id: 'roc', title: 'ROC curves', note: 'On the evaluation split; the grey diagonal is a random ranking.' },
  {
    id: 'calibration',
    title: 'Calibration',
    note: 'Observed rate against mean predicted probability per bin; on the grey diagonal a model is calibrated.',
  },
  {
    id: 'fusion',
    title: 'Fusion-weight sweep',
    note: 'The validation objective for each weight combination tried; a ring and the dashed line mark the weights each run chose, which the legend names.',
  },
]

export function renderReport(data: ReportData): string {
  const uplotJs = readFileSync(require.resolve('uplot/dist/uPlot.iife.min.js'), 'utf8')
  const uplotCss = readFileSync(require.resolve('uplot/dist/uPlot.min.css'), 'utf8')
  const charts = buildCharts(data)
  const sections = SECTIONS.map((section) => {
    const here = charts.filter((c) => c.section === section.id)
    if (here.length === 0) return ''
    const divs = here.map((c) => `<div class="chart" id="chart-${escapeHtml(c.id)}"></div>`).join('\n')
    return `<section><h2>${section.title}</h2><p class="note">${section.note}</p><div class="charts">\n${divs}\n</div></section>`
  })
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(data.title)}</title>
<style>${uplotCss}</style>
<style>${PAGE_CSS}</style>
</head>
<body>
<h1>${escapeHtml(data.title)}</h1>
${(data.notes ?? []).map((n) => `<p class="note">${escapeHtml(n)}</p>`).join('\n')}
<section><h2>Comparison</h2>
<p class="note">Mean ± sample standard deviation over seeds (no ± when every seed gave the same value); the best model per row in bold.</p>
${comparisonTables(data.records).map(renderTable).join('\n')}
</section>
${sections.join('\n')}
<script type="application/json" id="report-data">${embedJson({ charts })}</script>
<script>${escapeScript(uplotJs)}</script>
<script>${CLIENT_SCRIPT}</script>
</body>
</html>
`
}

function renderTable(table: ComparisonTable): string {
  const head = `<tr><th>task</th><th>metric</th>${table.models.map((m) => `<th>${escapeHtml(m)}</th>`).join('')}</tr>`
  const rows = table.rows.map((row) => {
    const cells = row.cells.map((c) => {
      if (!c) return '<td>—</td>'
      const text = escapeHtml(formatSummary(c, row.format))
      return row.best !== undefined && c.mean === row.best ? `<td class="best">${text}</td>` : `<td>${text}</td>`
    })
    return `<tr><td>${escapeHtml(row.task)}</td><td>${escapeHtml(row.metric)}</td>${cells.join('')}</tr>`
  })
  return `<h3>split: ${escapeHtml(table.split)}</h3>\n<table class="results">\n<thead>${head}</thead>\n<tbody>\n${rows.join('\n')}\n</tbody>\n</table>`
}

export function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')
}

/** JSON safe inside <script>: "<" escaped so "</script>" in a model name cannot end the block. NaN → null. */
function embedJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c')
}

function escapeScript(js: string): string {
  return js.replace(/<\/script/gi, '<\\/script')
}

const PAGE_CSS = `
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 24px auto; max-width: 1240px; padding: 0 16px; color: #222; }
h1 { font-size: 22px; margin-bottom: 4px; } h2 { font-size: 18px; margin-top: 32px; border-bottom: 1px solid #ddd; } h3 { font-size: 15px; }
.note { color: #666; margin: 2px 0 8px; }
table.results { border-collapse: collapse; font-variant-numeric: tabular-nums; }
.results th, .results td { border: 1px solid #ddd; padding: 4px 10px; text-align: right; } .results th { background: #f5f5f5; }
.results td:nth-child(1), .results td:nth-child(2) { text-align: left; }
.results td.best { font-weight: 700; background: #eef7ee; }
.charts { display: flex; flex-wrap: wrap; gap: 16px; }
.chart { border: 1px solid #eee; padding: 4px; }
`
