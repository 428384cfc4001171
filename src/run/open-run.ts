/**
 * A trained run loaded from its folder: the one place where a run's files become a model. Evaluation,
 * prediction, export and serving all start here, so they rebuild the same model from the same checked
 * snapshot (readRun) and parse its stored config and preprocessing once.
 */
import { type Preprocessing, PreprocessingSchema, inputSpecOf } from '../data/preprocessing.js'
import { validateConfig, withFile } from '../config/load.js'
import { ExportError } from '../errors.js'
import { type ParsedModelConfig, buildParsedModel, parseModelConfig } from '../models/registry.js'
import type { Model } from '../models/types.js'
import type { WeightsFile } from './checkpoint.js'
import { type RunManifest, readRun, runFiles } from './run-dir.js'

/** Trained values by the model's names: dense parameters, and embedding tables as [rows, D] (no optimizer state). */
export interface ModelWeights {
  params: ReadonlyMap<string, Float32Array>
  tables: ReadonlyMap<string, Float32Array>
}

export interface LoadedRun {
  /** the folder the files were read from (symlinks resolved) */
  dir: string
  manifest: RunManifest
  /** the stored preprocessing, validated */
  preprocessing: Preprocessing
  /** the stored model config, validated, with its defaults filled in */
  modelConfig: ParsedModelConfig
  /** the model rebuilt from that config over the preprocessing's inputs */
  model: Model
  /** weights.bin as saved (tables may carry optimizer state) */
  weightsFile: WeightsFile
  /** 12 hex digits over the run's files (readRun): any change gives a new one */
  version: string
}

/**
 * Reads a run folder and rebuilds its model. The files are one checked snapshot (readRun), so a damaged,
 * half-copied or mixed folder is refused naming the file; the preprocessing and the model config are
 * validated here, naming the file and the field.
 */
export function openRun(dir: string): LoadedRun {
  const snapshot = readRun(dir)
  const files = runFiles(snapshot.dir)
  const { manifest } = snapshot
  const preprocessing = validateConfig(snapshot.preprocessing, files.preprocessing, PreprocessingSchema)
  const modelConfig = withFile(files.manifest, () =>
    parseModelConfig({ ...manifest.modelConfig, model: manifest.model }),
  )
  const model = withFile(files.manifest, () =>
    buildParsedModel(inputSpecOf(preprocessing), modelConfig, { positiveRates: manifest.positiveRates }),
  )
  if (model.tasks.join() !== manifest.tasks.join()) {
    throw new ExportError(
      `${files.manifest}: tasks [${manifest.tasks.join(', ')}] differ from the model's [${model.tasks.join(', ')}]`,
      { file: files.manifest, field: 'tasks' },
    )
  }
  return {
    dir: snapshot.dir,
    manifest,
    preprocessing,
    modelConfig,
    model,
    weightsFile: snapshot.weights,
    version: snapshot.version,
  }
}

/** Dense parameters and table weights ([rows, D]) from a weights file, by the model's names. */
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
