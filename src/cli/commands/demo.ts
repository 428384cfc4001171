/**
 * `resflow demo` (`npm run demo`): generates the synthetic funnel of configs/synthetic.yaml, trains
 * ResFlow and two baselines on the same splits, prints the comparison table and the report's path.
 * Needs no network and no data of its own.
 */
import { join } from 'node:path'
import { runCompare } from '../../train/compare.js'
import { loadExperiment, packageRoot } from '../../train/experiment.js'
import { createProgress } from '../../train/progress.js'
import { type OptionSpec, intOption, parseCommand, stringOption } from '../parse-args.js'
import { formatComparison, modelList } from './compare.js'

// the package's own config, in a checkout and installed alike; its data goes under the cache root
const CONFIG = join(packageRoot(), 'configs', 'synthetic.yaml')

const OPTIONS: OptionSpec = {
  config: { type: 'string', description: `experiment config (default ${CONFIG})` },
  out: { type: 'string', description: 'output folder (default runs/demo)' },
  seeds: { type: 'string', description: "seeds per model (default: the config's compare.seeds)" },
  verbose: { type: 'boolean', description: 'per-epoch lines for every training' },
  cache: {
    type: 'string',
    description: 'where the synthetic data is generated (default: $RESFLOW_CACHE, else ./.cache)',
  },
}

export async function run(argv: string[]): Promise<number> {
  const values = parseCommand('demo', argv, OPTIONS, {
    synopsis: '[--out DIR] [--seeds N] [--cache DIR]',
    examples: ['demo', 'demo --seeds 1 --out runs/demo-quick --cache /tmp/resflow-cache'],
  })
  if (!values) return 0
  const experiment = loadExperiment(stringOption(values.config) ?? CONFIG, { cacheRoot: stringOption(values.cache) })
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
  console.log(
    `\nreport: ${result.files.html}\ntables: ${result.files.markdown}\nrecords: ${result.files.json}\n(${result.seconds.toFixed(0)}s)`,
  )
  return 0
}
