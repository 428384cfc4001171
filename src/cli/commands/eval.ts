/** `resflow eval --run RUN_DIR --dataset NAME --path PATH [--json]`: score a saved run on any file. */
import { ConfigError } from '../../errors.js'
import { evaluateRun, loadRun } from '../../train/evaluate.js'
import { formatNumber } from '../../report/index.js'
import { type OptionSpec, helpText, parseOptions, stringOption } from '../parse-args.js'

const OPTIONS: OptionSpec = {
  run: { type: 'string', description: 'run directory written by train or compare', required: true },
  dataset: { type: 'string', description: 'the dataset the file belongs to (the run\'s dataset, or csv / parquet)', required: true },
  path: { type: 'string', description: 'file, glob or folder to score (e.g. a test split never seen in training)', required: true },
  split: { type: 'string', description: 'name of the split in the records (default: test)' },
  json: { type: 'boolean', description: 'print the records as JSON: [{model, seed, split, task, metric, value}]' },
}

export async function run(argv: string[]): Promise<number> {
  const { values, help } = parseOptions('eval', argv, OPTIONS)
  if (help) {
    console.log(helpText('eval', '--run RUN_DIR --dataset NAME --path PATH [--json]', OPTIONS))
    return 0
  }
  const loaded = await loadRun(stringOption(values.run)!)
  checkDataset(stringOption(values.dataset)!, loaded.manifest.dataset)
  const { records, predictions } = await evaluateRun(loaded, stringOption(values.path)!, { split: stringOption(values.split) ?? 'test' })
  await loaded.session.release()
  if (values.json) {
    console.log(JSON.stringify(records, null, 1))
    return 0
  }
  console.log(`${loaded.manifest.model} seed ${loaded.manifest.seed} on ${values.path} (${predictions.rows} rows)`)
  const width = Math.max(...records.map((r) => r.task.length))
  for (const r of records) console.log(`  ${r.task.padEnd(width)}  ${r.metric.padEnd(18)} ${formatNumber(r.value)}`)
  return 0
}

/** The file is encoded with the run's preprocessing, whose schema is the run's dataset's. */
export function checkDataset(name: string, trained: Record<string, unknown> | undefined): void {
  const trainedName = typeof trained?.name === 'string' ? trained.name : undefined
  if (!trainedName || name === trainedName || name === 'csv' || name === 'parquet') return
  throw new ConfigError(`--dataset: the run was trained on dataset "${trainedName}", got "${name}" (give --dataset ${trainedName}, or csv / parquet for a file in the same columns)`, { field: '--dataset' })
}
