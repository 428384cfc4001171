/**
 * A run directory written straight from a TrainSession (manifest, preprocessing, weights), for serving tests
 * that need a run of a given model config without training one through the CLI. Not sealed. With the
 * session's normalisation moved off its initial values first (`moveOffInit`), and the library predictor's
 * scores of such a run (`predictedScores`), the reference the serving paths are checked against.
 */
import type { Preprocessing } from '../../src/data/preprocessing.js'
import type { Rng } from '../../src/engine/rng.js'
import type { RawRow } from '../../src/export/codec.js'
import { loadPredictor } from '../../src/export/predictor.js'
import { saveWeights, writeAtomic } from '../../src/run/checkpoint.js'
import { runFiles, writeManifest } from '../../src/run/run-dir.js'
import type { TrainSession } from '../../src/train/session.js'

export interface SessionRun {
  /** as given to buildModel: the registry name in `model`, then its options */
  modelConfig: { model: string } & Record<string, unknown>
  prep: Preprocessing
  seed: number
  /** additive fusion weights per task */
  fusion: Record<string, number>
}

/** Writes `session`'s weights as the run `run` into `runDir`, then releases the session. */
export async function writeSessionRun(runDir: string, session: TrainSession, run: SessionRun): Promise<void> {
  writeManifest(runDir, {
    version: 1,
    model: run.modelConfig.model,
    modelConfig: run.modelConfig,
    tasks: run.prep.tasks,
    seed: run.seed,
    fusion: { kind: 'additive', weights: run.fusion },
    createdAt: new Date().toISOString(),
  })
  writeAtomic(runFiles(runDir).preprocessing, JSON.stringify(run.prep))
  saveWeights(runFiles(runDir).weights, session.params, session.tables)
  await session.release()
}

/**
 * Moves every BatchNorm's statistics and affine parameters, and the PReLU slopes, off their initial values,
 * as training would (so that a path folding BatchNorm in, or reading the slopes, is really checked).
 */
export function moveOffInit(session: TrainSession, rng: Rng): void {
  for (const [name, e] of session.params.entries) {
    const v = e.values
    if (name.endsWith('.running_var')) for (let i = 0; i < v.length; i++) v[i] = 0.2 + 2 * rng.next()
    else if (name.endsWith('.running_mean') || name.endsWith('.beta'))
      for (let i = 0; i < v.length; i++) v[i] = rng.next() - 0.5
    else if (name.endsWith('.gamma')) for (let i = 0; i < v.length; i++) v[i] = 0.5 + rng.next()
    else if (name.endsWith('.slope')) for (let i = 0; i < v.length; i++) v[i] = rng.next() * 0.5
  }
}

/** The fused scores the library predictor gives the run in `runDir` for raw rows. */
export async function predictedScores(runDir: string, rows: readonly Record<string, unknown>[]): Promise<Float32Array> {
  const p = await loadPredictor(runDir)
  try {
    return (await p.predictRows(rows as RawRow[])).score
  } finally {
    await p.release()
  }
}
