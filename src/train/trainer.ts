/**
 * The fit loop: epochs of training batches, validation after each epoch, early stopping on the
 * validation split only, the best epoch's weights kept, and a checkpoint written atomically at the end
 * of every epoch and every `checkpointSeconds` within one, so that `--resume` continues exactly where
 * an uninterrupted run would be.
 *
 * Why resuming is exact: a checkpoint holds the dense parameters and BatchNorm statistics, the embedding
 * rows with their optimizer state, the dense optimizer's moments, the session's step and dropout RNG,
 * and the trainer's own state (epoch, early-stopping state, history), all in one file renamed into
 * place. The batch order of an epoch depends only on the epoch number (see TrainData), so the epochs
 * after a resume see the same batches in the same order; a checkpoint taken within an epoch records how
 * many of its batches were trained, and the resumed run skips them.
 *
 *   RUN_DIR/checkpoint.bin  the last checkpoint (weights + state, for --resume)
 *   RUN_DIR/weights.bin     the best epoch so far by the monitored validation value
 *   RUN_DIR/log.jsonl       one EpochLog per finished epoch
 */
import { appendFileSync, existsSync, mkdirSync } from 'node:fs'
import type { Batch } from '../data/types.js'
import { ResflowError } from '../errors.js'
import { computeAuc } from '../metrics/auc.js'
import { computeLogloss } from '../metrics/logloss.js'
import { loadWeights, saveWeights, writeAtomic } from '../run/checkpoint.js'
import {
  type EarlyStoppingConfig,
  describeMonitor,
  initialEarlyStop,
  monitorValue,
  updateEarlyStop,
} from './early-stop.js'
import { type Predictions, collectPredictions } from './evaluate.js'
import { type Progress, silentProgress } from './progress.js'
import { runFiles } from '../run/run-dir.js'
import type { TrainSession } from './session.js'
import { type TrainerState, restoreCheckpoint, saveCheckpoint } from './checkpointing.js'
import type { EpochLog } from './epoch-log.js'
import { Resumable } from './resumable.js'

import { loadSessionWeights } from './session-weights.js'

/** Where batches come from. Splits are fixed before training; the test split never reaches the trainer. */
export interface TrainData {
  /** rows in one training epoch (for progress and throughput) */
  trainRows: number
  /** the training batches of epoch `epoch` (1-based); the order must depend only on the epoch number */
  trainBatches(epoch: number): AsyncIterable<Batch> | Iterable<Batch>
  /** the validation batches, the same on every call */
  valBatches(): AsyncIterable<Batch> | Iterable<Batch>
}

export interface FitOptions {
  runDir: string
  epochs: number
  earlyStopping: EarlyStoppingConfig
  /** continue from RUN_DIR/checkpoint.bin */
  resume?: boolean
  /** identifies the experiment; a checkpoint written under another fingerprint is refused on resume */
  fingerprint?: string
  progress?: Progress
  /** also checkpoint within an epoch once this many seconds have passed since the last one (default: epoch ends only) */
  checkpointSeconds?: number | null
  /** also checkpoint within an epoch every this many batches (tests; default: off) */
  checkpointBatches?: number | null
  /**
   * aborted (Ctrl-C): fit stops after the step in flight and throws TrainingInterrupted. Exiting the
   * process while onnxruntime runs a step on the worker thread aborts it natively, so the CLI aborts
   * this and exits once fit has returned.
   */
  signal?: AbortSignal
}

export interface FitResult {
  history: EpochLog[]
  best: { epoch: number; metric: number }
  stoppedEarly: boolean
  /** validation predictions of the weights the session holds at the end (the best epoch's with restoreBest) */
  val: Predictions
  /** training rows per second over the epochs run in this process */
  samplesPerSecond: number
}

/** Training stopped because the loss stopped being a finite number. */
export class TrainingDivergedError extends ResflowError {
  constructor(
    message: string,
    readonly step: number,
    readonly checkpoint: string | null,
  ) {
    super(message, { field: 'loss' })
  }
}

/** Thrown by fit when options.signal is aborted: training stopped between two steps (the checkpoint on disk is the last one written). */
export class TrainingInterrupted extends ResflowError {}

export async function fit(session: TrainSession, data: TrainData, options: FitOptions): Promise<FitResult> {
  const stopRequested = () => options.signal?.aborted === true
  const files = runFiles(options.runDir)
  const progress = options.progress ?? silentProgress
  const es = options.earlyStopping
  const fingerprint = options.fingerprint ?? ''
  mkdirSync(options.runDir, { recursive: true })

  let state: TrainerState = {
    fingerprint,
    epoch: 0,
    stopped: false,
    earlyStop: initialEarlyStop(),
    history: [],
    session: { step: 0, rng: 0, tableSteps: {}, denseStep: 0 },
  }
  if (options.resume) {
    state = restoreCheckpoint(session, files.checkpoint, fingerprint)
    writeAtomic(files.log, state.history.map((h) => JSON.stringify(h) + '\n').join(''))
    const at = state.partial
      ? `in epoch ${state.epoch + 1} after ${state.partial.batches} batches`
      : `at the end of epoch ${state.epoch}`
    progress.note(`resumed from ${files.checkpoint} ${at}${state.stopped ? ' (the run had already finished)' : ''}`)
  } else {
    writeAtomic(files.log, '')
  }

  let bestVal: Predictions | null = null
  let lastVal: Predictions | null = null
  let trainRows = 0
  let trainSeconds = 0
  let lastCheckpoint = performance.now()
  let checkpointAt = state.partial
    ? `epoch ${state.epoch + 1}, batch ${state.partial.batches}`
    : state.epoch > 0
      ? `end of epoch ${state.epoch}`
      : null
  for (let epoch = state.epoch + 1; epoch <= options.epochs && !state.stopped; epoch++) {
    const partial = state.partial
    state = { ...state, partial: undefined }
    progress.startEpoch(epoch, options.epochs, data.trainRows)
    let rows = partial?.rows ?? 0
    let lossSum = partial?.lossSum ?? 0
    let batches = partial?.batches ?? 0
    let seconds = partial?.seconds ?? 0
    let bad: number | null = null
    const source = new Resumable(data.trainBatches(epoch))
    try {
      await source.skip(batches) // trained before the checkpoint this run resumed from
      for (;;) {
        // pipelined steps (session.trainBatches), equal bit for bit to one trainStep per batch; stopping
        // for a checkpoint and going on with the same source gives the same steps as not stopping
        const t0 = performance.now()
        const before = batches
        let pause = false
        await session.trainBatches(source, ({ loss }, batch) => {
          batches++
          if (!Number.isFinite(loss)) {
            bad = loss
            return false
          }
          rows += batch.size
          lossSum += loss * batch.size
          progress.step(batch.size, loss)
          const due =
            (options.checkpointBatches && batches % options.checkpointBatches === 0) ||
            (options.checkpointSeconds && performance.now() - lastCheckpoint >= options.checkpointSeconds * 1000)
          if (due) pause = true
          return !due && !stopRequested()
        })
        if (stopRequested())
          throw new TrainingInterrupted(`training interrupted in epoch ${epoch} after ${batches} batches`)
        seconds += (performance.now() - t0) / 1000
        source.trained(batches - before)
        if (bad !== null) throw diverged(session.step, epoch, batches, bad, checkpointAt, files)
        if (!pause || source.exhausted) break
        saveCheckpoint(session, files.checkpoint, { ...state, partial: { batches, rows, lossSum, seconds } })
        lastCheckpoint = performance.now()
        checkpointAt = `epoch ${epoch}, batch ${batches}`
      }
    } finally {
      await source.close()
    }
    trainRows += rows - (partial?.rows ?? 0)
    trainSeconds += seconds - (partial?.seconds ?? 0)

    if (stopRequested()) throw new TrainingInterrupted(`training interrupted at the end of epoch ${epoch}`)
    const val = await collectPredictions(session, data.valBatches())
    const valAuc: Record<string, number> = {}
    let valLoss = 0
    for (const task of session.model.tasks) {
      valAuc[task] = computeAuc(val.probs[task], val.labels[task])
      valLoss += computeLogloss(val.probs[task], val.labels[task])
    }
    const monitor = monitorValue(es, valAuc)
    const update = updateEarlyStop(state.earlyStop, epoch, monitor, es)
    const log: EpochLog = {
      epoch,
      trainLoss: lossSum / Math.max(1, rows),
      valLoss,
      valAuc,
      monitor,
      best: update.improved,
      rows,
      seconds,
      samplesPerSecond: rows / Math.max(1e-9, seconds),
    }
    progress.endEpoch({
      epoch,
      epochs: options.epochs,
      trainLoss: log.trainLoss,
      valLoss,
      valAuc,
      monitor,
      improved: update.improved,
      rows,
      seconds,
    })

    if (update.improved) {
      saveWeights(files.weights, session.params, session.tables)
      bestVal = val
    }
    lastVal = val
    state = { ...state, epoch, stopped: update.stop, earlyStop: update.state, history: [...state.history, log] }
    saveCheckpoint(session, files.checkpoint, state)
    lastCheckpoint = performance.now()
    checkpointAt = `end of epoch ${epoch}`
    appendFileSync(files.log, JSON.stringify(log) + '\n')
    if (update.stop)
      progress.note(
        `early stop after epoch ${epoch}: ${describeMonitor(es)} has not improved for ${es.patience} epoch(s); best ${state.earlyStop.best.toFixed(4)} at epoch ${state.earlyStop.bestEpoch}`,
      )
  }

  const lastEpoch = state.history.length
  const { best, bestEpoch } = state.earlyStop
  if (bestEpoch === 0) {
    // no epoch had a finite monitored value (e.g. a one-class validation split): keep the last weights
    saveWeights(files.weights, session.params, session.tables)
  } else if (es.restoreBest && bestEpoch !== lastEpoch) {
    loadSessionWeights(session, loadWeights(files.weights))
    progress.note(`restored the weights of epoch ${bestEpoch} (${describeMonitor(es)} ${best.toFixed(4)})`)
    lastVal = bestVal
  } else if (!es.restoreBest) {
    saveWeights(files.weights, session.params, session.tables)
  }
  const val = lastVal ?? (await collectPredictions(session, data.valBatches()))
  return {
    history: state.history,
    best: { epoch: bestEpoch, metric: best },
    stoppedEarly: state.stopped,
    val,
    samplesPerSecond: trainSeconds > 0 ? trainRows / trainSeconds : NaN,
  }
}

function diverged(
  step: number,
  epoch: number,
  batch: number,
  loss: number,
  checkpointAt: string | null,
  files: ReturnType<typeof runFiles>,
): TrainingDivergedError {
  const good = checkpointAt !== null && existsSync(files.checkpoint)
  const where = good
    ? `last good checkpoint: ${files.checkpoint} (${checkpointAt})`
    : 'no checkpoint yet (the loss diverged before the first one)'
  return new TrainingDivergedError(
    `step ${step} (epoch ${epoch}, batch ${batch}): training loss is ${loss}, stopped; ${where}. ` +
      'Hint: lower optimizer.lr or set optimizer.clipNorm, and check the input data for NaN or infinite values.',
    step,
    good ? files.checkpoint : null,
  )
}
