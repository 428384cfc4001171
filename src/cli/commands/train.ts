/**
 * `resflow train --config FILE [--out RUN_DIR] [--resume]`: one model, one seed, into a run directory.
 * The options (a --model preset included) are checked first, then the run directory is locked (before
 * the data is prepared), so a second training into the same --out stops at once, naming the one that
 * holds it. Ctrl-C stops with one line saying how to resume; the lock is released on the way out.
 */
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { ConfigError } from '../../errors.js'
import { withFile } from '../../config/load.js'
import { loadExperiment, modelConfigFor, resolveModelRef, withModelPreset } from '../../train/experiment.js'
import { parseModelConfig } from '../../models/registry.js'
import { prepareData } from '../../train/prepare.js'
import { createProgress } from '../../train/progress.js'
import { lockDir } from '../../run/lock.js'
import { checkRunFiles, runFiles } from '../../run/run-dir.js'
import { TrainingInterrupted } from '../../train/trainer.js'
import { trainRun } from '../../train/train-run.js'
import { COMMON_OPTIONS, type OptionSpec, intOption, parseCommand, stringOption } from '../parse-args.js'

const OPTIONS: OptionSpec = {
  config: COMMON_OPTIONS.config,
  out: { type: 'string', description: 'run directory (default runs/<name>-<model>-s<seed>)' },
  resume: { type: 'boolean', description: 'continue an interrupted run from RUN_DIR/checkpoint.bin' },
  model: {
    type: 'string',
    description:
      "a registry model (with the config's options for it, see `resflow models`), or a preset replacing the config's model section: a file, or a name of configs/models/*.yaml (e.g. resflow-aliccp)",
  },
  seed: { type: 'string', description: "override the config's seed" },
  epochs: COMMON_OPTIONS.epochs,
  threads: { type: 'string', description: "onnxruntime intra-op threads (overrides the config's threads, default 1)" },
  'memory-budget-mb': {
    type: 'string',
    description:
      'MB the encoded data may take in memory; above it the on-disk cache is streamed in blocks (overrides data.memoryBudgetMB, default 4096; see docs/scale.md)',
  },
  workers: {
    type: 'string',
    description:
      "data-parallel training workers, each on its shard of the batch (overrides the config's workers, default 1; see docs/parallel.md)",
  },
  cache: COMMON_OPTIONS.cache,
}

const EXAMPLES = [
  'train --config configs/synthetic_test.yaml --out runs/tiny',
  'train --config configs/aliccp.yaml --model resflow-aliccp --threads 2 --out runs/aliccp-resflow',
  'train --config configs/aliccp.yaml --out runs/aliccp-resflow --resume',
]

export async function run(argv: string[]): Promise<number> {
  const values = parseCommand('train', argv, OPTIONS, {
    synopsis: '--config FILE [--out RUN_DIR] [--resume]',
    examples: EXAMPLES,
  })
  if (!values) return 0
  const configFile = stringOption(values.config)!
  let experiment = loadExperiment(configFile, { cacheRoot: stringOption(values.cache) })
  const log = (line: string) => process.stderr.write(line + '\n')
  const modelRef = stringOption(values.model)
  const preset = modelRef === undefined ? null : resolveModelRef(modelRef)
  if (preset) {
    experiment = withModelPreset(experiment, preset)
    log(`train: model from preset ${preset.file}`)
  } else if (modelRef !== undefined) {
    withFile(configFile, () => parseModelConfig(modelConfigFor(experiment, modelRef))) // another registry model: its options, checked now
  }
  const epochs = intOption('epochs', values.epochs, 1)
  if (epochs !== undefined) experiment.epochs = epochs
  const threads = intOption('threads', values.threads, 1)
  if (threads !== undefined) experiment.threads = threads
  const workers = intOption('workers', values.workers, 1)
  if (workers !== undefined) experiment.workers = workers
  const budget = intOption('memory-budget-mb', values['memory-budget-mb'], 1)
  if (budget !== undefined) experiment.data.memoryBudgetMB = budget
  const seed = intOption('seed', values.seed) ?? experiment.seed
  const model = preset || modelRef === undefined ? experiment.model.model : modelRef
  const runDir = stringOption(values.out) ?? join('runs', `${experiment.name}-${model}-s${seed}`)
  const lock = lockDir(runDir, { log })
  const stop = new AbortController()
  let training = false
  const stopNow = () => {
    lock.release()
    process.stderr.write(`\n${interruptedLine(argv, runDir, existsSync(runFiles(runDir).checkpoint))}\n`)
    process.exit(130) // 128 + SIGINT, as a shell reports it
  }
  // the first Ctrl-C stops training after the step in flight (exiting during an onnxruntime run aborts
  // natively); before training has started, or on a second Ctrl-C, exit at once
  const onInterrupt = () => {
    if (stop.signal.aborted || !training) return stopNow()
    stop.abort()
  }
  process.on('SIGINT', onInterrupt)
  try {
    if (!values.resume && existsSync(runFiles(runDir).checkpoint)) {
      throw new ConfigError(
        `${runDir}: already holds a run (hint: add --resume to continue it, or choose another --out)`,
        { file: runDir },
      )
    }
    // the files --resume reads back, checked before the data is prepared (which can take minutes)
    if (values.resume) checkRunFiles(runDir, ['run.json', 'checkpoint.bin'])
    const data = await prepareData(experiment.data, log, experiment.file)
    log(
      `train: ${model}, seed ${seed}, ${experiment.epochs} epochs of ${data.rows.train} rows, batch ${experiment.batchSize}, ${experiment.threads} thread${experiment.threads > 1 ? 's' : ''}${experiment.workers > 1 ? `, ${experiment.workers} workers` : ''} → ${runDir}`,
    )
    training = true
    let result: Awaited<ReturnType<typeof trainRun>>
    try {
      result = await trainRun(experiment, data, {
        model,
        seed,
        runDir,
        resume: Boolean(values.resume),
        progress: createProgress(),
        lock,
        signal: stop.signal,
      })
    } catch (err) {
      if (err instanceof TrainingInterrupted) stopNow()
      throw err
    } finally {
      training = false
    }
    const best = result.fit.history[result.fit.best.epoch - 1]
    const aucs = best
      ? Object.entries(best.valAuc)
          .map(([t, v]) => `${t} ${v.toFixed(4)}`)
          .join(', ')
      : '—'
    console.log(
      `best epoch ${result.fit.best.epoch} of ${result.fit.history.length}${result.fit.stoppedEarly ? ' (stopped early)' : ''}: val AUC ${aucs}`,
    )
    if (result.fusion)
      console.log(
        `fusion: ${result.fusion.fusion.kind} ${JSON.stringify(result.fusion.fusion.weights)}, val ${result.fusion.objective} ${result.fusion.value.toFixed(4)}`,
      )
    console.log(
      `${result.manifest.training?.parameterCount} parameters, ${Number.isFinite(result.fit.samplesPerSecond) ? `${result.fit.samplesPerSecond.toFixed(0)} training rows/s` : 'no epoch trained in this call (the run had finished)'}`,
    )
    console.log(`run: ${runDir}`)
    await result.session.release()
  } finally {
    process.off('SIGINT', onInterrupt)
    lock.release()
  }
  return 0
}

/** What Ctrl-C prints: the same command with --resume (and the run folder), or without when nothing was saved yet. */
export function interruptedLine(argv: string[], runDir: string, checkpointed: boolean): string {
  const base = argv
    .filter((a) => a !== '--resume')
    .map((a) => (/^[\w./,:=@+-]+$/.test(a) ? a : `'${a.replaceAll("'", "'\\''")}'`))
  if (!argv.some((a) => a === '--out' || a.startsWith('--out='))) base.push('--out', runDir)
  return checkpointed
    ? `train: interrupted; resume with: resflow train ${base.join(' ')} --resume`
    : `train: interrupted before the first checkpoint; start again with: resflow train ${base.join(' ')}`
}
