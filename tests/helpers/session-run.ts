/**
 * A run directory written straight from a TrainSession (manifest, preprocessing, weights), for serving tests
 * that need a run of a given model config without training one through the CLI. Not sealed.
 */
import type { Preprocessing } from '../../src/data/preprocessing.js'
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
