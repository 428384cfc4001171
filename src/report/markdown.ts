/** results.md: one table per split, rows task × metric, columns models, mean ± sample std over seeds, best in bold. */
import type { MetricRecord } from '../metrics/types.js'
import { comparisonTables, formatSummary } from './summary.js'

export function renderResultsMarkdown(records: MetricRecord[], title = 'Results'): string {
  const seeds = new Set(records.map((r) => r.seed)).size
  const lines = [
    `# ${title}`,
    '',
    `Mean ± sample standard deviation over ${seeds} seed${seeds === 1 ? '' : 's'} (no ± when every seed gave the same value); the best model per row in bold.`,
  ]
  for (const table of comparisonTables(records)) {
    lines.push('', `## ${table.split}`, '')
    lines.push(`| task | metric | ${table.models.map(escapeCell).join(' | ')} |`)
    lines.push(`|---|---|${table.models.map(() => '---|').join('')}`)
    for (const row of table.rows) {
      const cells = row.cells.map((c) => {
        if (!c) return '—'
        const text = escapeCell(formatSummary(c, row.format))
        return row.best !== undefined && c.mean === row.best ? `**${text}**` : text
      })
      lines.push(`| ${escapeCell(row.task)} | ${escapeCell(row.metric)} | ${cells.join(' | ')} |`)
    }
  }
  return lines.join('\n') + '\n'
}

function escapeCell(text: string): string {
  return text.replace(/\|/g, '\\|')
}
