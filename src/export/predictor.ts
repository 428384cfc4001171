/**
 * A trained run, ready to score: the exported inference graph (the same bytes `resflow export`
 * writes) compiled once into an onnxruntime session, plus the codec that maps raw values through
 * the stored preprocessing. `serve` holds one of these and swaps it on reload.
 */
import { realpath } from 'node:fs/promises'
import { basename } from 'node:path'
import type { Batch, InputSpec } from '../data/types.js'
import { Program } from '../engine/runtime.js'
import { ExportError } from '../errors.js'
import type { Model } from '../models/types.js'
import type { WeightsFile } from '../run/checkpoint.js'
import { type SummedFile, readCheckedAsync, readChecksums, withPrefetched } from '../run/checksums.js'
import { type RunManifest, readRun, runFiles } from '../run/run-dir.js'
import { batchFeeds } from './feeds.js'
import type { Preprocessing } from '../data/preprocessing.js'
import type { Fusion } from '../metrics/fusion.js'
import { type ExportedModel, type FeatureLayout, type ModelWeights, exportModel } from './onnx.js'

/** A raw feature value as it appears in the data (a multi-valued feature: a list, or a joined string). */
export type RawValue = string | number | null | readonly (string | number)[]
export type RawRow = Readonly<Record<string, RawValue>>

/** How a raw feature is validated in requests. */
export type RawKind = 'categorical' | 'numeric' | 'list'

export interface RawFeature {
  name: string
  kind: RawKind
  /** whether null (a missing value) is accepted; false for numbers without a fill value. Default true */
  nullable?: boolean
}

/** Raw rows ⇄ encoded batches, from a fitted preprocessing artifact. */
export interface RowCodec {
  spec: InputSpec
  /** every raw feature a request must carry, with its kind, in feature order */
  features: readonly RawFeature[]
  /** encodes raw rows (unknown categorical values → id 0, as in training) */
  encode(rows: readonly RawRow[]): Batch
  /**
   * The fitted preprocessing the codec maps with, when it has one (codecs from `codecFromPreprocessing`).
   * The server compiles it into its one-pass encoder (serve/columnar.ts); without it the server encodes row
   * objects with `encode`, and cannot hold an item store.
   */
  readonly preprocessing?: Preprocessing
}

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

/** Dense parameters and table weights ([rows, D]) from a weights file. */
export function modelWeights(file: WeightsFile, model: Model): ModelWeights {
  const params = new Map([...file.params].map(([k, v]) => [k, v.values]))
  const tables = new Map<string, Float32Array>()
  for (const e of model.embeddings) {
    const plain = file.tables.get(e.name)
    const state = file.tableStates.get(e.name)
    if (plain) tables.set(e.name, plain.values)
    else if (state) {
      // rows carry optimizer state after the weights: [w | m | v] or [w | acc]
      const stride = state.shape[1]
      const w = new Float32Array(e.rows * e.dim)
      for (let r = 0; r < e.rows; r++) w.set(state.values.subarray(r * stride, r * stride + e.dim), r * e.dim)
      tables.set(e.name, w)
    }
  }
  return { params, tables }
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
    for (const task of tasks) probs[task] = out[`p.${task}`] as Float32Array
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

/** What loading a run needs from the layers that know models and preprocessing. */
export interface RunDeps {
  buildModel(manifest: RunManifest, spec: InputSpec): Model
  codecOf(preprocessing: unknown, file: string): RowCodec
}

export interface LoadedRun {
  manifest: RunManifest
  preprocessing: unknown
  model: Model
  codec: RowCodec
  exported: ExportedModel
  /** the run's weights, by the model's names (what `exported` was built from) */
  weights: ModelWeights
  /** content hash of the run's files (readRun) */
  version: string
}

/**
 * Reads a run directory and exports its model (nothing compiled yet). The files are read once and
 * checked against the run's checksums.json (readRun), so a half-copied or damaged folder is refused,
 * naming the file, and what is exported is one consistent run.
 */
export function exportRun(runDir: string, deps: RunDeps): LoadedRun {
  const { manifest, preprocessing, weights, version } = readRun(runDir)
  const codec = deps.codecOf(preprocessing, `${runDir}/preprocessing.json`)
  const model = deps.buildModel(manifest, codec.spec)
  if (model.tasks.join() !== manifest.tasks.join()) {
    throw new ExportError(
      `${runDir}/run.json: tasks [${manifest.tasks.join(', ')}] differ from the model's [${model.tasks.join(', ')}]`,
      { file: `${runDir}/run.json`, field: 'tasks' },
    )
  }
  const mapped = modelWeights(weights, model)
  const exported = exportModel(model, mapped, { fusion: manifest.fusion })
  return { manifest, preprocessing, model, codec, exported, weights: mapped, version }
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
 * Loads a run directory into a ready predictor (compiled once). The files are read and hashed
 * asynchronously first, so a server keeps answering while a reload reads large weights; exporting the
 * graph and compiling the onnxruntime session still run on the calling thread.
 */
export async function loadPredictor(
  runDir: string,
  deps: RunDeps,
  opts: { threads?: number } = {},
): Promise<Predictor> {
  const files = await readRunFiles(runDir)
  const run = withPrefetched(files, () => exportRun(runDir, deps))
  return createPredictor(run.exported, run.model, run.codec, { version: run.version, threads: opts.threads })
}
