/**
 * One training run, start to finish: the model from the registry, a session, the fit loop, the fusion
 * weights searched on validation, and the run directory (manifest, preprocessing, weights, log) that
 * eval, predict, export and serve read. Used by `resflow train` and by every run of `resflow compare`.
 *
 * The run directory has one writer at a time (train.lock, see run/lock.ts) and counts as complete only
 * once checksums.json is written, at the very end (see run-dir.ts).
 */
import { type FusionSearchResult, searchFusionWeights } from '../metrics/fusion.js'
import { buildModel } from '../models/registry.js'
import type { Model } from '../models/types.js'
import { ConfigError } from '../errors.js'
import { type DirLock, lockDir } from '../run/lock.js'
import { writeAtomic } from '../run/write-atomic.js'
import { checkMonitor } from './early-stop.js'
import type { Experiment } from '../config/experiment.js'
import { withFile } from '../config/load.js'
import { fingerprint, modelConfigFor } from './experiment.js'
import type { PreparedData } from './prepare.js'
import type { Progress } from './progress.js'
import {
  RUN_VERSION,
  type RunManifest,
  unsealRun,
  readManifest,
  resealIfUnchanged,
  runFiles,
  sealRun,
  writeManifest,
} from '../run/run-dir.js'
import { TrainSession } from './session.js'
import { type FitResult, fit } from './trainer.js'

export interface TrainRunOptions {
  /** registry name; default the experiment's model */
  model?: string
  /** default the experiment's seed */
  seed?: number
  runDir: string
  resume?: boolean
  progress?: Progress
  /** the lock on runDir when the caller took it already (the CLI takes it before preparing the data); else taken here */
  lock?: DirLock
  /** stops training after the step in flight (FitOptions.signal) */
  signal?: AbortSignal
}

export interface TrainedRun {
  session: TrainSession
  model: Model
  manifest: RunManifest
  fit: FitResult
  fusion: FusionSearchResult | null
  /** seconds spent in the fit loop (training and validation) */
  seconds: number
}

export async function trainRun(e: Experiment, data: PreparedData, options: TrainRunOptions): Promise<TrainedRun> {
  const lock = options.lock ?? lockDir(options.runDir, { log: (line) => options.progress?.note(line) })
  try {
    return await trainLocked(e, data, options)
  } finally {
    if (!options.lock) lock.release()
  }
}

async function trainLocked(e: Experiment, data: PreparedData, options: TrainRunOptions): Promise<TrainedRun> {
  const name = options.model ?? e.model.model
  const seed = options.seed ?? e.seed
  const modelConfig = modelConfigFor(e, name)
  const model = withFile(e.file, () => buildModel(data.spec, modelConfig, { positiveRates: data.positiveRates }))
  checkMonitor(e.earlyStopping, model.tasks, e.file)
  if (e.fusion?.task && !model.tasks.includes(e.fusion.task)) {
    throw new ConfigError(
      `${e.file}: fusion.task: unknown task "${e.fusion.task}" (tasks: ${model.tasks.join(', ')})`,
      { file: e.file, field: 'fusion.task' },
    )
  }
  const files = runFiles(options.runDir)
  // --resume reads run.json and checkpoint.bin back: a sealed run's are checked against checksums.json
  // (an interrupted run has none; its checkpoint checks itself, see checkpoint.ts)
  const previous = options.resume ? readManifest(options.runDir) : null
  const sealed = unsealRun(options.runDir, { check: options.resume ? ['run.json', 'checkpoint.bin'] : [] })
  const session = await TrainSession.create(model, {
    seed,
    threads: e.threads,
    workers: e.workers,
    optimizer: e.optimizer,
    sparseOptimizer: e.sparseOptimizer,
    embeddingInitStd: e.embeddingInitStd,
  })
  const print = fingerprint(e, modelConfig, seed)
  const base: RunManifest = {
    version: RUN_VERSION,
    model: name,
    modelConfig,
    tasks: [...model.tasks],
    seed,
    fusion: null,
    dataset: data.dataset,
    positiveRates: data.positiveRates,
    createdAt: new Date().toISOString(),
    training: {
      experiment: e.file,
      fingerprint: print,
      parameterCount: session.parameterCount(),
      epochs: e.epochs,
      batchSize: e.batchSize,
      trainRows: data.rows.train,
    },
  }
  const manifest0: RunManifest = previous ? { ...previous, ...base, createdAt: previous.createdAt } : base
  // the preprocessing is written like every run file: whole or not at all
  const writePreprocessing = () => writeAtomic(files.preprocessing, JSON.stringify(data.preprocessing) + '\n')
  // a resumed run keeps its files until the fit has accepted the checkpoint (same experiment, same data)
  if (!options.resume) {
    writeManifest(options.runDir, manifest0)
    writePreprocessing()
  }

  const t0 = performance.now()
  let result: FitResult
  try {
    result = await fit(
      session,
      {
        trainRows: data.rows.train,
        trainBatches: (epoch) => data.trainBatches(seed, epoch, e.batchSize),
        valBatches: () => data.valBatches(e.evalBatchSize),
      },
      {
        runDir: options.runDir,
        epochs: e.epochs,
        earlyStopping: e.earlyStopping,
        resume: options.resume,
        signal: options.signal,
        fingerprint: print,
        progress: options.progress,
        checkpointSeconds: e.checkpointMinutes === null ? null : e.checkpointMinutes * 60,
      },
    )
  } catch (err) {
    // e.g. --resume with another config, refused before anything was written: the run stays complete
    if (sealed) resealIfUnchanged(options.runDir, sealed)
    await session.release()
    throw err
  }
  const seconds = (performance.now() - t0) / 1000

  let fusion: FusionSearchResult | null = null
  if (e.fusion && model.tasks.length >= 2) {
    const tasks = [...model.tasks]
    fusion = searchFusionWeights(result.val.probs, result.val.labels, {
      kind: e.fusion.kind,
      tasks,
      objective: { kind: 'task-auc', task: e.fusion.task ?? tasks[tasks.length - 1] },
      grid: e.fusion.grid,
    })
  }
  const manifest: RunManifest = {
    ...manifest0,
    fusion: fusion?.fusion ?? null,
    best: { epoch: result.best.epoch, metric: result.best.metric },
    training: {
      ...manifest0.training!,
      epochsRun: result.history.length,
      stoppedEarly: result.stoppedEarly,
      samplesPerSecond: result.samplesPerSecond,
      seconds,
    },
  }
  writeManifest(options.runDir, manifest)
  if (options.resume) writePreprocessing()
  sealRun(options.runDir)
  return { session, model, manifest, fit: result, fusion, seconds }
}
