/**
 * `resflow train --config FILE [--out RUN_DIR] [--resume]`: one model, one seed, into a run directory.
 * The run directory is locked first (before the data is prepared), so a second training into the same
 * --out stops at once, naming the one that holds it.
 */
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { ConfigError } from '../../errors.js'
import { loadExperiment } from '../../train/experiment.js'
import { prepareData } from '../../train/prepare.js'
import { createProgress } from '../../train/progress.js'
import { lockDir } from '../../run/lock.js'
import { checkRunFiles, runFiles } from '../../train/run-dir.js'
import { trainRun } from '../../train/train-run.js'
import { type OptionSpec, helpText, intOption, parseOptions, stringOption } from '../parse-args.js'

const OPTIONS: OptionSpec = {
  config: { type: 'string', description: 'experiment config, YAML or JSON', required: true },
  out: { type: 'string', description: 'run directory (default runs/<name>-<model>-s<seed>)' },
  resume: { type: 'boolean', description: 'continue an interrupted run from RUN_DIR/checkpoint.bin' },
  model: { type: 'string', description: 'train this registry model instead of the config\'s model' },
  seed: { type: 'string', description: 'override the config\'s seed' },
  epochs: { type: 'string', description: 'override the config\'s epochs' },
}

export async function run(argv: string[]): Promise<number> {
  const { values, help } = parseOptions('train', argv, OPTIONS)
  if (help) {
    console.log(helpText('train', '--config FILE [--out RUN_DIR] [--resume]', OPTIONS))
    return 0
  }
  const experiment = loadExperiment(stringOption(values.config)!)
  const epochs = intOption('epochs', values.epochs, 1)
  if (epochs !== undefined) experiment.epochs = epochs
  const seed = intOption('seed', values.seed) ?? experiment.seed
  const model = stringOption(values.model) ?? experiment.model.model
  const runDir = stringOption(values.out) ?? join('runs', `${experiment.name}-${model}-s${seed}`)
  const log = (line: string) => process.stderr.write(line + '\n')
  const lock = lockDir(runDir, { log })
  try {
    if (!values.resume && existsSync(runFiles(runDir).checkpoint)) {
      throw new ConfigError(`${runDir}: already holds a run (hint: add --resume to continue it, or choose another --out)`, { file: runDir })
    }
    // the files --resume reads back, checked before the data is prepared (which can take minutes)
    if (values.resume) checkRunFiles(runDir, ['run.json', 'checkpoint.bin'])
    const data = await prepareData(experiment.data, log, experiment.file)
    log(`train: ${model}, seed ${seed}, ${experiment.epochs} epochs of ${data.rows.train} rows, batch ${experiment.batchSize} → ${runDir}`)
    const result = await trainRun(experiment, data, { model, seed, runDir, resume: Boolean(values.resume), progress: createProgress(), lock })
    const best = result.fit.history[result.fit.best.epoch - 1]
    const aucs = best ? Object.entries(best.valAuc).map(([t, v]) => `${t} ${v.toFixed(4)}`).join(', ') : '—'
    console.log(`best epoch ${result.fit.best.epoch} of ${result.fit.history.length}${result.fit.stoppedEarly ? ' (stopped early)' : ''}: val AUC ${aucs}`)
    if (result.fusion) console.log(`fusion: ${result.fusion.fusion.kind} ${JSON.stringify(result.fusion.fusion.weights)}, val ${result.fusion.objective} ${result.fusion.value.toFixed(4)}`)
    console.log(`${result.manifest.training?.parameterCount} parameters, ${result.fit.samplesPerSecond.toFixed(0)} training rows/s`)
    console.log(`run: ${runDir}`)
    await result.session.release()
  } finally {
    lock.release()
  }
  return 0
}
