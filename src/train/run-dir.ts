/**
 * A run directory: everything needed to evaluate, export or serve a trained model.
 *
 *   RUN_DIR/run.json            manifest (below)
 *   RUN_DIR/preprocessing.json  the fitted preprocessing artifact (vocabularies, numeric transforms)
 *   RUN_DIR/weights.bin         best weights (saveWeights format)
 *   RUN_DIR/checkpoint.bin      latest state for --resume (weights with optimizer state), optional
 *   RUN_DIR/log.jsonl           one JSON line per epoch
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { ConfigError } from '../errors.js'
import { type WeightsFile, loadWeights, writeAtomic } from './checkpoint.js'

export const RUN_VERSION = 1

export interface RunManifest {
  version: number
  /** registry name of the model, e.g. "resflow" */
  model: string
  /** the validated model config, as given to buildModel */
  modelConfig: Record<string, unknown>
  /** task names in funnel order */
  tasks: string[]
  seed: number
  /** score fusion chosen on validation data: {kind, weights} (see export/fusion.ts), or null */
  fusion: { kind: 'additive' | 'multiplicative'; weights: Record<string, number> } | null
  /** dataset adapter name and options used for training */
  dataset?: Record<string, unknown>
  /** best epoch and its validation metrics */
  best?: { epoch: number; metric: number }
  createdAt: string
  /** per task share of positives on the training data; buildModel needs it to rebuild taskOrder 'auto' */
  positiveRates?: Record<string, number>
  /** how the run was trained (written by train/train-run.ts) */
  training?: RunTraining
}

export interface RunTraining {
  /** the experiment config file */
  experiment: string
  /** hash of the settings that determine the run; --resume refuses a different one */
  fingerprint: string
  parameterCount: number
  epochs: number
  batchSize: number
  trainRows: number
  epochsRun?: number
  stoppedEarly?: boolean
  /** training rows per second (validation excluded) */
  samplesPerSecond?: number
  /** wall time of the fit loop */
  seconds?: number
}

export const runFiles = (dir: string) => ({
  manifest: join(dir, 'run.json'),
  preprocessing: join(dir, 'preprocessing.json'),
  weights: join(dir, 'weights.bin'),
  checkpoint: join(dir, 'checkpoint.bin'),
  log: join(dir, 'log.jsonl'),
})

export function writeManifest(dir: string, manifest: RunManifest): void {
  mkdirSync(dir, { recursive: true })
  writeAtomic(runFiles(dir).manifest, JSON.stringify(manifest, null, 2) + '\n')
}

/** The manifest alone (no weights), checked for the format version. */
export function readManifest(dir: string): RunManifest {
  const file = runFiles(dir).manifest
  if (!existsSync(file)) throw new ConfigError(`${dir}: not a run directory (missing ${file}); train one with \`resflow train --config FILE --out ${dir}\``, { file })
  const manifest = JSON.parse(readFileSync(file, 'utf8')) as RunManifest
  if (manifest.version !== RUN_VERSION) throw new ConfigError(`${file}: run format version ${manifest.version}, this resflow reads ${RUN_VERSION}`, { file })
  return manifest
}

export function readRun(dir: string): { manifest: RunManifest; preprocessing: unknown; weights: WeightsFile } {
  const files = runFiles(dir)
  for (const f of [files.manifest, files.preprocessing, files.weights]) {
    if (!existsSync(f)) throw new ConfigError(`${dir}: not a run directory (missing ${f}); train one with \`resflow train --config FILE --out ${dir}\``, { file: f })
  }
  const manifest = JSON.parse(readFileSync(files.manifest, 'utf8')) as RunManifest
  if (manifest.version !== RUN_VERSION) throw new ConfigError(`${files.manifest}: run format version ${manifest.version}, this resflow reads ${RUN_VERSION}`, { file: files.manifest })
  return { manifest, preprocessing: JSON.parse(readFileSync(files.preprocessing, 'utf8')), weights: loadWeights(files.weights) }
}
