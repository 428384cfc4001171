/**
 * A trained run, ready to score: the exported inference graph (the same bytes `resflow export`
 * writes) compiled once into an onnxruntime session, plus the codec that maps raw values through
 * the stored preprocessing. `serve` holds one of these and swaps it on reload.
 */
import { realpath } from 'node:fs/promises'
import { basename } from 'node:path'
import type { Batch } from '../data/types.js'
import { Program } from '../engine/runtime.js'
import type { Model } from '../models/types.js'
import { type SummedFile, readCheckedAsync, readChecksums, withPrefetched } from '../run/checksums.js'
import { type LoadedRun, type ModelWeights, modelWeights, openRun } from '../run/open-run.js'
import { runFiles } from '../run/run-dir.js'
import { type RawRow, type RowCodec, codecFromPreprocessing } from './codec.js'
import { batchFeeds } from './feeds.js'
import { probName } from '../nn/graph-names.js'
import type { Fusion } from '../metrics/fusion.js'
import { type ExportedModel, type FeatureLayout, exportModel } from './onnx.js'

export interface Prediction {
  /** per task, [B] */
  probs: Record<string, Float32Array>
  /** fused score, [B] */
  score: Float32Array
}

export interface Predictor {
  readonly model: string
  readonly tasks: readonly string[]
  readonly fusion: Fusion
  readonly layout: FeatureLayout
  readonly codec: RowCodec
  /** identifies the loaded model: a hash of the run's files (see readRun), so a changed model always changes it */
  readonly version: string
  predict(batch: Batch): Promise<Prediction>
  predictRows(rows: readonly RawRow[]): Promise<Prediction>
  release(): Promise<void>
}

/** Compiles an exported model into a predictor. */
export async function createPredictor(
  exported: ExportedModel,
  model: Model,
  codec: RowCodec,
  opts: { version?: string; threads?: number } = {},
): Promise<Predictor> {
  const { main, layout, fusion } = exported
  const program = await Program.create(main.bytes, main.inputs, main.outputs, { threads: opts.threads })
  const tasks = model.tasks
  const predict = async (batch: Batch): Promise<Prediction> => {
    const { feeds, dims } = batchFeeds(layout, batch)
    const out = await program.run(feeds, dims)
    const probs: Record<string, Float32Array> = {}
    for (const task of tasks) probs[task] = out[probName(task)] as Float32Array
    return { probs, score: out.score as Float32Array }
  }
  return {
    model: model.name,
    tasks,
    fusion,
    layout,
    codec,
    version: opts.version ?? 'unversioned',
    predict,
    predictRows: (rows) => predict(codec.encode(rows)),
    release: () => program.release(),
  }
}

/** A loaded run with its inference graph exported (nothing compiled yet). */
export interface ExportedRun extends LoadedRun {
  codec: RowCodec
  exported: ExportedModel
  /** the run's weights by the model's names: what `exported` was built from */
  weights: ModelWeights
}

/**
 * Exports a run's model: the folder is read with openRun (one checked snapshot, so a half-copied or damaged
 * folder is refused naming the file, and what is exported is one consistent run), or a run already opened.
 */
export function exportRun(run: string | LoadedRun): ExportedRun {
  const loaded = typeof run === 'string' ? openRun(run) : run
  const weights = modelWeights(loaded.weightsFile, loaded.model)
  const exported = exportModel(loaded.model, weights, { fusion: loaded.manifest.fusion })
  return { ...loaded, codec: codecFromPreprocessing(loaded.preprocessing), exported, weights }
}

/**
 * The files `exportRun` reads (run.json, preprocessing.json, weights.bin), read and checked against
 * checksums.json without blocking the event loop. A run without checksums.json gives none: readRun
 * then reads it, or names what is missing. A file that fails its check is named here, as readRun would.
 */
export async function readRunFiles(runDir: string): Promise<Map<string, SummedFile>> {
  const files = new Map<string, SummedFile>()
  let real: string
  try {
    real = await realpath(runDir)
  } catch {
    return files // not there: readRun says so
  }
  const sums = readChecksums(real)
  if (!sums) return files
  const { manifest, preprocessing, weights } = runFiles(real)
  for (const file of [manifest, preprocessing, weights]) {
    const name = basename(file)
    if (sums.files[name]) files.set(file, await readCheckedAsync(real, name, sums))
  }
  return files
}

/**
 * exportRun for a server: the files are read and hashed asynchronously first (readRunFiles), so a server
 * keeps answering while a reload reads large weights; exporting the graph still runs on the calling thread.
 */
export async function exportRunAsync(runDir: string): Promise<ExportedRun> {
  const files = await readRunFiles(runDir)
  return withPrefetched(files, () => exportRun(runDir))
}

/** Loads a run directory into a ready predictor (compiled once), its files read as exportRunAsync does. */
export async function loadPredictor(runDir: string, opts: { threads?: number } = {}): Promise<Predictor> {
  return predictorOf(await exportRunAsync(runDir), opts)
}

/** Compiles an exported run into a predictor. */
export function predictorOf(run: ExportedRun, opts: { threads?: number } = {}): Promise<Predictor> {
  return createPredictor(run.exported, run.model, run.codec, { version: run.version, threads: opts.threads })
}
