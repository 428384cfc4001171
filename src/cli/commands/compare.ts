/**
 * `resflow compare --config FILE [--models a,b,c] [--seeds N] [--out DIR]`: models × seeds on the same splits.
 * `--model PRESET` replaces the config's model section (the base of every compared model's shared options)
 * and joins the comparison.
 */
import { join } from 'node:path'
import { ConfigError } from '../../errors.js'
import { MODEL_NAMES, isModelName } from '../../models/registry.js'
import { runCompare } from '../../train/compare.js'
import type { Experiment } from '../../config/experiment.js'
import { loadExperiment, loadModelPreset, withModelPreset } from '../../train/experiment.js'
import { createProgress } from '../../train/progress.js'
import { type ComparisonTable, type MetricSummary, comparisonTables, formatSummary } from '../../report/summary.js'
import type { MetricRecord } from '../../metrics/types.js'
import { COMMON_OPTIONS, type OptionSpec, intOption, parseCommand, stringOption } from '../parse-args.js'

const OPTIONS: OptionSpec = {
  config: COMMON_OPTIONS.config,
  models: {
    type: 'string',
    description: "comma-separated registry names (default: the config's compare.models, else its model)",
  },
  seeds: { type: 'string', description: 'seeds per model (default: compare.seeds)' },
  out: { type: 'string', description: 'output folder (default runs/compare-<name>)' },
  parallel: { type: 'string', description: 'trainings at once (default: compare.parallel)' },
  epochs: COMMON_OPTIONS.epochs,
  model: {
    type: 'string',
    description:
      "a preset replacing the config's model section: a file, or a name of configs/models/*.yaml (e.g. resflow, resflow-aliccp); its model joins the comparison",
  },
  quiet: { type: 'boolean', description: 'no per-epoch lines' },
  cache: COMMON_OPTIONS.cache,
}

const EXAMPLES = [
  'compare --config configs/synthetic_test.yaml --seeds 1 --out runs/compare-tiny',
  'compare --config configs/aliccp.yaml --model resflow-aliccp --models resflow,mmoe,ple --parallel 2',
]

export async function run(argv: string[]): Promise<number> {
  const values = parseCommand('compare', argv, OPTIONS, {
    synopsis: '--config FILE [--models a,b,c] [--model PRESET] [--seeds N] [--out DIR]',
    examples: EXAMPLES,
  })
  if (!values) return 0
  let experiment = loadExperiment(stringOption(values.config)!, { cacheRoot: stringOption(values.cache) })
  const modelRef = stringOption(values.model)
  if (modelRef !== undefined) {
    experiment = withModelPreset(experiment, loadModelPreset(modelRef))
    const own = experiment.model.model
    if (
      stringOption(values.models) === undefined &&
      Object.keys(experiment.compare.models).length > 0 &&
      !(own in experiment.compare.models)
    ) {
      experiment.compare.models = { ...experiment.compare.models, [own]: {} }
    }
  }
  const epochs = intOption('epochs', values.epochs, 1)
  if (epochs !== undefined) experiment.epochs = epochs
  const models = modelList(experiment, stringOption(values.models))
  const seeds = intOption('seeds', values.seeds, 1) ?? experiment.compare.seeds
  const outDir = stringOption(values.out) ?? join('runs', `compare-${experiment.name}`)
  const log = (line: string) => process.stderr.write(line + '\n')
  const result = await runCompare(experiment, {
    models,
    seeds,
    outDir,
    parallel: intOption('parallel', values.parallel, 1),
    log,
    progress: values.quiet ? undefined : (label) => createProgress({ tty: false, label }),
    command: `resflow compare ${argv.join(' ')}`,
  })
  console.log(formatComparison(result.records))
  console.log(
    `\n${result.records.length} records → ${result.files.json}\ntables → ${result.files.markdown}\nreport → ${result.files.html}\n(${result.seconds.toFixed(0)}s)`,
  )
  return 0
}

export function modelList(e: Experiment, option: string | undefined): string[] {
  const names = option
    ? option
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)
    : Object.keys(e.compare.models).length > 0
      ? Object.keys(e.compare.models)
      : [e.model.model]
  for (const name of names) {
    if (!isModelName(name))
      throw new ConfigError(`--models: unknown model "${name}" (available: ${MODEL_NAMES.join(', ')})`, {
        field: '--models',
      })
  }
  if (new Set(names).size !== names.length)
    throw new ConfigError(`--models: a model is listed twice in "${names.join(',')}"`, { field: '--models' })
  return names
}

/**
 * The terminal table: test split (else val), AUC, gAUC and logloss rows per task and the fused score,
 * then the training cost; columns models. Each row in one format (comparisonTables' row.format).
 */
export function formatComparison(records: MetricRecord[], metrics = ['auc', 'gauc', 'logloss']): string {
  const tables = comparisonTables(records)
  const table = tables.find((t) => t.split === 'test') ?? tables.find((t) => t.split === 'val')
  if (!table) return '(no records)'
  const cell = (c: MetricSummary | undefined, row: ComparisonTable['rows'][number]) =>
    c ? formatSummary(c, row.format) + (row.best !== undefined && c.mean === row.best ? ' *' : '') : '—'
  const head = ['task', 'metric', ...table.models]
  const body = table.rows
    .filter((r) => metrics.includes(r.metric))
    .map((r) => [r.task, r.metric, ...r.cells.map((c) => cell(c, r))])
  const cost = tables.find((t) => t.split === 'train')
  if (cost) {
    for (const metric of ['rows_per_s', 'seconds']) {
      const row = cost.rows.find((r) => r.metric === metric)
      if (row) body.push(['train', metric, ...table.models.map((m) => cell(row.cells[cost.models.indexOf(m)], row))])
    }
  }
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((r) => r[i].length)))
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]))
      .join('  ')
      .trimEnd()
  return [
    `${table.split} split (mean ± std over seeds, a single number when every seed agrees; * best)`,
    line(head),
    line(widths.map((w) => '-'.repeat(w))),
    ...body.map(line),
  ].join('\n')
}
