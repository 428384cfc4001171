/**
 * One training run, start to finish: the model from the registry, a session, the fit loop, the fusion
 * weights searched on validation, and the run directory (manifest, preprocessing, weights, log) that
 * eval, predict, export and serve read. Used by `resflow train` and by every run of `resflow compare`.
 */
import { savePreprocessing } from '../data/preprocessing.js'
import { type FusionSearchResult, searchFusionWeights } from '../export/fusion.js'
import { buildModel } from '../models/registry.js'
import type { Model } from '../models/types.js'
import { ConfigError } from '../errors.js'
import { checkMonitor } from './early-stop.js'
import { type Experiment, fingerprint, modelConfigFor, withFile } from './experiment.js'
import type { PreparedData } from './prepare.js'
import type { Progress } from './progress.js'
import { RUN_VERSION, type RunManifest, readManifest, runFiles, writeManifest } from './run-dir.js'
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
  const name = options.model ?? e.model.model
  const seed = options.seed ?? e.seed
  const modelConfig = modelConfigFor(e, name)
  const model = withFile(e.file, () => buildModel(data.spec, modelConfig, { positiveRates: data.positiveRates }))
  checkMonitor(e.earlyStopping, model.tasks, e.file)
  if (e.fusion?.task && !model.tasks.includes(e.fusion.task)) {
    throw new ConfigError(`${e.file}: fusion.task: unknown task "${e.fusion.task}" (tasks: ${model.tasks.join(', ')})`, { file: e.file, field: 'fusion.task' })
  }
  const session = await TrainSession.create(model, {
    seed,
    threads: e.threads,
    optimizer: e.optimizer,
    sparseOptimizer: e.sparseOptimizer,
    embeddingInitStd: e.embeddingInitStd,
  })
  const files = runFiles(options.runDir)
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
    training: { experiment: e.file, fingerprint: print, parameterCount: session.parameterCount(), epochs: e.epochs, batchSize: e.batchSize, trainRows: data.rows.train },
  }
  const manifest0 = options.resume ? { ...readManifest(options.runDir), ...base, createdAt: readManifest(options.runDir).createdAt } : base
  writeManifest(options.runDir, manifest0)
  savePreprocessing(data.preprocessing, files.preprocessing)

  const t0 = performance.now()
  const result = await fit(
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
      fingerprint: print,
      progress: options.progress,
      checkpointSeconds: e.checkpointMinutes === null ? null : e.checkpointMinutes * 60,
    },
  )
  const seconds = (performance.now() - t0) / 1000

  let fusion: FusionSearchResult | null = null
  if (e.fusion && model.tasks.length >= 2) {
    const tasks = [...model.tasks]
    fusion = searchFusionWeights(result.val.probs, result.val.labels, {
      kind: e.fusion.kind,
      tasks,
      objective: { kind: 'task-auc', task: e.fusion.task ?? tasks[tasks.length - 1]! },
      grid: e.fusion.grid,
    })
  }
  const manifest: RunManifest = {
    ...manifest0,
    fusion: fusion?.fusion ?? null,
    best: { epoch: result.best.epoch, metric: result.best.metric },
    training: { ...manifest0.training!, epochsRun: result.history.length, stoppedEarly: result.stoppedEarly, samplesPerSecond: result.samplesPerSecond, seconds },
  }
  writeManifest(options.runDir, manifest)
  return { session, model, manifest, fit: result, fusion, seconds }
}
