/**
 * `resflow demo` (`npm run demo`): generates the synthetic funnel of configs/synthetic.yaml, trains
 * ResFlow and two baselines on the same splits, prints the comparison table and the report's path.
 * Needs no network and no data of its own.
 */
import { fileURLToPath } from 'node:url'
import { runCompare } from '../../train/compare.js'
import { loadExperiment } from '../../train/experiment.js'
import { createProgress } from '../../train/progress.js'
import { type OptionSpec, helpText, intOption, parseOptions, stringOption } from '../parse-args.js'
import { formatComparison, modelList } from './compare.js'

const CONFIG = fileURLToPath(new URL('../../../configs/synthetic.yaml', import.meta.url))

const OPTIONS: OptionSpec = {
  config: { type: 'string', description: `experiment config (default ${CONFIG})` },
  out: { type: 'string', description: 'output folder (default runs/demo)' },
  seeds: { type: 'string', description: 'seeds per model (default: the config\'s compare.seeds)' },
  verbose: { type: 'boolean', description: 'per-epoch lines for every training' },
}

export async function run(argv: string[]): Promise<number> {
  const { values, help } = parseOptions('demo', argv, OPTIONS)
  if (help) {
    console.log(helpText('demo', '[--out DIR]', OPTIONS))
    return 0
  }
  const experiment = loadExperiment(stringOption(values.config) ?? CONFIG)
  const models = modelList(experiment, undefined)
  const seeds = intOption('seeds', values.seeds, 1) ?? experiment.compare.seeds
  const outDir = stringOption(values.out) ?? 'runs/demo'
  const log = (line: string) => process.stderr.write(line + '\n')
  log(`demo: ${models.join(', ')} × ${seeds} seed(s) on a synthetic click → purchase funnel (${experiment.file})`)
  const result = await runCompare(experiment, {
    models,
    seeds,
    outDir,
    log,
    progress: values.verbose ? (label) => createProgress({ tty: false, label }) : undefined,
    command: `npm run demo`,
  })
  console.log('\n' + formatComparison(result.records))
  console.log(`\nreport: ${result.files.html}\ntables: ${result.files.markdown}\nrecords: ${result.files.json}\n(${result.seconds.toFixed(0)}s)`)
  return 0
}
