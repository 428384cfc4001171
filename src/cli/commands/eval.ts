/** `resflow eval --run RUN_DIR --dataset NAME --path PATH [--split NAME] [--json]`: score a saved run on any split. */
import { basename } from 'node:path'
import { type ResolvedDataPath, resolveDataPath } from '../../data/adapters.js'
import type { EncodeReport } from '../../data/dataset.js'
import type { DatasetSchema } from '../../data/schema.js'
import { describeFilter } from '../../data/source.js'
import { ConfigError } from '../../errors.js'
import { evaluateRun, loadRun } from '../../train/evaluate.js'
import { readManifest } from '../../run/run-dir.js'
import { formatNumber } from '../../report/summary.js'
import { type OptionSpec, parseCommand, stringOption } from '../parse-args.js'

/** The options eval and predict share: the run and the data to score. */
export const SCORING_OPTIONS = {
  run: { type: 'string', description: 'run directory written by train or compare', required: true },
  dataset: {
    type: 'string',
    description:
      "the dataset the data belongs to (the run's dataset, or csv / parquet); its adapter finds a folder's split files",
    required: true,
  },
  path: {
    type: 'string',
    description: "file, glob, or dataset folder (the one a config's data.dir names) to score",
    required: true,
  },
} satisfies OptionSpec

/**
 * The run and the files to score from eval's and predict's options: the dataset checked against the run's
 * (before the model is loaded), a folder resolved to its split's files.
 */
export async function scoringSource(
  values: Record<string, string | boolean | undefined>,
): Promise<{ runDir: string; split: string | undefined; source: ResolvedDataPath }> {
  const runDir = stringOption(values.run)!
  const dataset = stringOption(values.dataset)!
  checkDataset(dataset, readManifest(runDir).dataset)
  const split = stringOption(values.split)
  return {
    runDir,
    split,
    source: await resolveDataPath(stringOption(values.path)!, { dataset, split, optionPrefix: '--' }),
  }
}

const OPTIONS: OptionSpec = {
  ...SCORING_OPTIONS,
  split: {
    type: 'string',
    description:
      'with a folder: the split to score, train / val / test (default test); also the split named in the records',
  },
  json: { type: 'boolean', description: 'print the records as JSON: [{model, seed, split, task, metric, value}]' },
}

export async function run(argv: string[]): Promise<number> {
  const values = parseCommand('eval', argv, OPTIONS, {
    synopsis: '--run RUN_DIR --dataset NAME --path PATH [--split NAME] [--json]',
    examples: [
      'eval --run runs/synthetic-resflow-s1 --dataset synthetic --path .cache/synthetic --split test',
      'eval --run runs/census-resflow-s1 --dataset census --path data/census/test.csv --json > records.json',
    ],
  })
  if (!values) return 0
  // the options are checked against the manifest and the files before the model is loaded
  const { runDir, split, source } = await scoringSource(values)
  const loaded = await loadRun(runDir)
  try {
    const { records, predictions, report } = await evaluateRun(loaded, source, { split })
    if (values.json) {
      console.log(JSON.stringify(records, null, 1))
      return 0
    }
    console.log(
      `${loaded.manifest.model} seed ${loaded.manifest.seed} on ${describeSource(source)} (${predictions.rows} rows${leftOut(report, loaded.preprocessing.schema)})`,
    )
    const width = Math.max(...records.map((r) => r.task.length))
    for (const r of records) console.log(`  ${r.task.padEnd(width)}  ${r.metric.padEnd(18)} ${formatNumber(r.value)}`)
    return 0
  } finally {
    await loaded.session.release()
  }
}

/** "PATH", or for a folder "PATH, split test: test.parquet". */
export function describeSource(source: ResolvedDataPath): string {
  if (source.kind !== 'folder') return source.path
  const files = source.files.map((f) => basename(f)).join(', ')
  return `${source.path}, ${source.split ? `split ${source.split}` : 'every data file'}: ${files}`
}

/** ", 40 more left out by the run's filter (tab in [1])" when the run's dataset schema filters rows, else "". */
export function leftOut(report: EncodeReport, schema: DatasetSchema): string {
  return report.filtered > 0 ? `, ${report.filtered} more left out by the run's filter (${describeFilter(schema)})` : ''
}

/** The file is encoded with the run's preprocessing, whose schema is the run's dataset's. */
export function checkDataset(name: string, trained: Record<string, unknown> | undefined): void {
  const trainedName = typeof trained?.name === 'string' ? trained.name : undefined
  if (!trainedName || name === trainedName || name === 'csv' || name === 'parquet') return
  throw new ConfigError(
    `--dataset: the run was trained on dataset "${trainedName}", got "${name}" (give --dataset ${trainedName}, or csv / parquet for a file in the same columns)`,
    { field: '--dataset' },
  )
}
