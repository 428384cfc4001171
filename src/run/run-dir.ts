/**
 * A run directory: everything needed to evaluate, export or serve a trained model.
 *
 *   RUN_DIR/run.json            manifest (below)
 *   RUN_DIR/preprocessing.json  the fitted preprocessing artifact (vocabularies, numeric transforms)
 *   RUN_DIR/weights.bin         best weights (saveWeights format)
 *   RUN_DIR/checkpoint.bin      latest state for --resume (weights with optimizer state), optional
 *   RUN_DIR/log.jsonl           one JSON line per epoch
 *   RUN_DIR/checksums.json      sha256 and size of the four files above, written last (run/checksums.ts)
 *   RUN_DIR/train.lock          while a training writes the folder: its pid and host (run/lock.ts)
 *
 * A run is complete once checksums.json is written; a training removes it before its first write, so a
 * folder without one is being written or was interrupted. Readers take a snapshot: each file is read
 * once, checked against checksums.json, and parsed from the bytes checked, so a file replaced halfway
 * (a half-copied folder, a second writer) is named instead of loaded. See docs/run-folder.md.
 */
import { existsSync, mkdirSync, readFileSync, realpathSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { ConfigError, RunError } from '../errors.js'
import {
  CHECKSUMS_FILE,
  type Checksums,
  checkSum,
  readChecked,
  readChecksums,
  sha256,
  sumFile,
  writeChecksums,
  writeChecksumsFile,
} from './checksums.js'
import { LOCK_FILE, readLockHolder } from './lock.js'
import { type WeightsFile, parseWeights, writeAtomic } from './checkpoint.js'

/** 2: with checksums.json. Format-1 runs (written before it, or assembled by hand) are read unverified. */
export const RUN_VERSION = 2

export interface RunManifest {
  version: number
  /** registry name of the model, e.g. "resflow" */
  model: string
  /** the validated model config, as given to buildModel */
  modelConfig: Record<string, unknown>
  /** task names in funnel order */
  tasks: string[]
  seed: number
  /** score fusion chosen on validation data: {kind, weights} (see metrics/fusion.ts), or null */
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
  checksums: join(dir, CHECKSUMS_FILE),
  lock: join(dir, LOCK_FILE),
})

/** The files checksums.json covers; the first three are what eval, export and serve load. */
const SERVED = ['run.json', 'preprocessing.json', 'weights.bin'] as const
const SEALED = [...SERVED, 'checkpoint.bin'] as const

export function writeManifest(dir: string, manifest: RunManifest): void {
  mkdirSync(dir, { recursive: true })
  writeAtomic(runFiles(dir).manifest, JSON.stringify(manifest, null, 2) + '\n')
}

const notARun = (dir: string, file: string) =>
  new ConfigError(
    `${dir}: not a run directory (missing ${file}); train one with \`resflow train --config FILE --out ${dir}\``,
    { file },
  )

/** JSON.parse with an error that names the file (a run file that does not parse is damaged). */
function parseJson(bytes: Buffer, file: string): unknown {
  try {
    return JSON.parse(bytes.toString('utf8'))
  } catch (cause) {
    throw new RunError(
      `${file}: not valid JSON (${(cause as Error).message}); the file is corrupted or cut short (hint: copy the run folder again, or train it again)`,
      { file, cause },
    )
  }
}

function parseManifest(bytes: Buffer, file: string): RunManifest {
  const manifest = parseJson(bytes, file) as RunManifest
  const version = typeof manifest === 'object' && manifest !== null ? manifest.version : undefined
  if (typeof version !== 'number' || version < 1 || version > RUN_VERSION) {
    throw new ConfigError(
      `${file}: run format version ${JSON.stringify(version)}, this resflow reads 1 to ${RUN_VERSION}`,
      { file, field: 'version' },
    )
  }
  return manifest
}

/** The manifest alone (no weights), checked against checksums.json when the run has one. */
export function readManifest(dir: string): RunManifest {
  const file = runFiles(dir).manifest
  if (!existsSync(file)) throw notARun(dir, file)
  const sums = readChecksums(dir)
  return parseManifest(sums ? readChecked(dir, 'run.json', sums) : readFileSync(file), file)
}

/** A run as loaded: every part parsed from bytes that were checked together. */
export interface RunSnapshot {
  /** the folder the files were read from: symlinks resolved once, so a swap halfway cannot mix two runs */
  dir: string
  manifest: RunManifest
  preprocessing: unknown
  weights: WeightsFile
  /** 12 hex digits of a hash over run.json, preprocessing.json and weights.bin: any change gives a new one */
  version: string
  /** false only for a format-1 run without checksums.json, whose files nothing can check */
  verified: boolean
}

export function readRun(dir: string): RunSnapshot {
  if (!existsSync(runFiles(dir).manifest)) throw notARun(dir, runFiles(dir).manifest)
  const real = realpathSync(dir)
  const files = runFiles(real)
  const sums = readChecksums(real)
  const read = (name: (typeof SERVED)[number]): Buffer => {
    if (sums) return readChecked(real, name, sums)
    if (!existsSync(join(real, name))) throw notARun(dir, join(real, name))
    return readFileSync(join(real, name))
  }
  const bytes = { 'run.json': read('run.json') } as Record<(typeof SERVED)[number], Buffer>
  const manifest = parseManifest(bytes['run.json'], files.manifest)
  if (!sums && manifest.version >= 2) throw incomplete(real)
  bytes['preprocessing.json'] = read('preprocessing.json')
  bytes['weights.bin'] = read('weights.bin')
  // checked bytes hash to what checksums.json lists, so its hashes serve (no second pass over the weights)
  const hashes = SERVED.map((name) => `${name} ${sums?.files[name]?.sha256 ?? sha256(bytes[name])}\n`).join('')
  return {
    dir: real,
    manifest,
    preprocessing: parseJson(bytes['preprocessing.json'], files.preprocessing),
    weights: parseWeights(bytes['weights.bin'], files.weights, { checked: sums !== null }),
    version: sha256(Buffer.from(hashes)).slice(0, 12),
    verified: sums !== null,
  }
}

function incomplete(dir: string): RunError {
  const files = runFiles(dir)
  const holder = readLockHolder(dir)
  const writer = holder ? `; ${files.lock} names pid ${holder.pid} on ${holder.host}, since ${holder.startedAt}` : ''
  return new RunError(
    `${files.checksums}: missing, so the run is incomplete: its training is still running or was interrupted${writer} ` +
      `(hint: wait for it to finish, or continue it with \`resflow train --config FILE --out ${dir} --resume\`)`,
    { file: files.checksums },
  )
}

/**
 * Before a training writes into `dir`: a sealed run's files are checked (on --resume the ones it reads
 * back), then checksums.json is removed, so that readers see the folder as incomplete until `sealRun`.
 * Returns the checksums removed, for `resealIfUnchanged`.
 */
export function unsealRun(dir: string, options: { check?: readonly string[] } = {}): Checksums | null {
  const sums = checkRunFiles(dir, options.check ?? [])
  rmSync(runFiles(dir).checksums, { force: true })
  return sums
}

/** Checks the named files of a sealed run against its checksums.json (a run without one: nothing to check). */
export function checkRunFiles(dir: string, names: readonly string[]): Checksums | null {
  const sums = readChecksums(dir)
  if (sums)
    for (const name of names) if (existsSync(join(dir, name))) checkSum(dir, name, sumFile(join(dir, name)), sums)
  return sums
}

/** After a failed training: restores checksums.json when every file it listed is still unchanged. */
export function resealIfUnchanged(dir: string, sums: Checksums): boolean {
  for (const [name, want] of Object.entries(sums.files)) {
    const file = join(dir, name)
    if (!existsSync(file)) return false
    const got = sumFile(file)
    if (got.sha256 !== want.sha256 || got.bytes !== want.bytes) return false
  }
  writeChecksumsFile(dir, sums)
  return true
}

/** Marks a run complete: writes checksums.json over its files (the last write of a training). */
export function sealRun(dir: string): Checksums {
  for (const name of SERVED) if (!existsSync(join(dir, name))) throw notARun(dir, join(dir, name))
  return writeChecksums(dir, SEALED)
}
