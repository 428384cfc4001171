/**
 * The trainer's checkpoint: weights with their optimizer state and the trainer's own state (epoch, early
 * stopping, history, progress within an epoch) in one file, written atomically (run/checkpoint.ts keeps
 * the state as JSON in the file's header), and read back on --resume under the same experiment only.
 */
import { existsSync } from 'node:fs'
import { ConfigError } from '../errors.js'
import { loadWeights, saveWeights } from '../run/checkpoint.js'
import type { EarlyStopState } from './early-stop.js'
import type { TrainSession, TrainingState } from './session.js'
import { loadSessionWeights } from './session-weights.js'
import type { EpochLog } from './epoch-log.js'

/** Everything in a checkpoint besides weights and optimizer moments (stored as JSON bytes in the file). */
export interface TrainerState {
  fingerprint: string
  epoch: number
  stopped: boolean
  earlyStop: EarlyStopState
  history: EpochLog[]
  session: Omit<TrainingState, 'dense'> & { denseStep: number }
  /** progress within epoch `epoch + 1`, for a checkpoint taken inside it */
  partial?: { batches: number; rows: number; lossSum: number; seconds: number }
}

const LEGACY_STATE_KEY = 'trainer.state'

export function saveCheckpoint(session: TrainSession, file: string, state: TrainerState): void {
  const { dense, ...rest } = session.trainingState()
  const extras = new Map<string, Float32Array>()
  for (const [name, m] of Object.entries(dense.m)) extras.set(`optim.m.${name}`, m)
  for (const [name, v] of Object.entries(dense.v)) extras.set(`optim.v.${name}`, v)
  // the trainer's state goes in the file's JSON header, so weights and state stay one atomically renamed file
  saveWeights(file, session.params, session.tables, {
    withState: true,
    extras,
    state: { ...state, session: { ...rest, denseStep: dense.step } },
  })
}

export function restoreCheckpoint(session: TrainSession, file: string, fingerprint: string): TrainerState {
  if (!existsSync(file))
    throw new ConfigError(`${file}: no checkpoint to resume from (hint: drop --resume to start a new run)`, { file })
  const weights = loadWeights(file)
  // (checkpoints before format 3 kept the state as one float per byte, under LEGACY_STATE_KEY)
  const legacy = weights.extras.get(LEGACY_STATE_KEY)
  const saved =
    weights.state ?? (legacy ? JSON.parse(new TextDecoder().decode(Uint8Array.from(legacy.values))) : undefined)
  if (!saved)
    throw new ConfigError(
      `${file}: not a training checkpoint (no trainer state; weights.bin files cannot be resumed)`,
      { file },
    )
  const state = saved as TrainerState
  if (state.fingerprint !== fingerprint) {
    throw new ConfigError(
      `${file}: the checkpoint was written by a different experiment config (hint: resume with the config the run was started with, or train into a new --out directory)`,
      { file },
    )
  }
  loadSessionWeights(session, weights)
  const m: Record<string, Float32Array> = {}
  const v: Record<string, Float32Array> = {}
  for (const [name, { values }] of weights.extras) {
    if (name.startsWith('optim.m.')) m[name.slice('optim.m.'.length)] = Float32Array.from(values)
    else if (name.startsWith('optim.v.')) v[name.slice('optim.v.'.length)] = Float32Array.from(values)
  }
  const { denseStep, ...rest } = state.session
  session.loadTrainingState({ ...rest, dense: { step: denseStep, m, v } })
  return state
}
