/**
 * Loading an experiment file (its schema is config/experiment.ts): YAML or JSON, checked, its data paths
 * resolved, its model options checked against the registry, model presets merged in, and the run's
 * fingerprint. An experiment looks like
 *
 *   name: synthetic
 *   data: { dataset: synthetic, dir: ../.cache/synthetic, generate: { rows: 60000, seed: 1 } }
 *   model: { model: resflow, towers: [64, 32] }
 *   optimizer: { kind: adam, lr: 0.002 }
 *   epochs: 4
 *   batchSize: 1024
 *   earlyStopping: { metric: mean-auc, patience: 2 }
 *   compare: { models: { resflow: {}, mmoe: { experts: 4 } }, seeds: 2 }
 *
 * Relative paths in `data` are relative to the config file's folder. A config shipped in the package
 * (configs/ of an installed resflow) must not write into the package: its relative data paths that land
 * inside the package are re-rooted, `.cache/X` under the cache root (`--cache`, RESFLOW_CACHE, else
 * ./.cache) and any other path under the working directory. In a checkout run from its root that is
 * where they pointed anyway.
 */
import { createHash } from 'node:crypto'
import { existsSync, readFileSync, readdirSync } from 'node:fs'
import { basename, dirname, extname, isAbsolute, join, relative, resolve, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import { z } from 'zod'
import { loadConfigFile, withFile } from '../config/load.js'
import { type DataConfig, type Experiment, ExperimentSchema } from '../config/experiment.js'
import { ConfigError } from '../errors.js'
import type { commonOptions } from '../models/common.js'
import { MODEL_NAMES, type ModelConfigInput, isModelName, parseModelConfig } from '../models/registry.js'

export interface LoadOptions {
  /** where generated data of the package's own configs goes (default: RESFLOW_CACHE, else ./.cache) */
  cacheRoot?: string
}

/** Reads and validates an experiment file; resolves data paths against the file's folder (see the header). */
export function loadExperiment(file: string, options: LoadOptions = {}): Experiment {
  const parsed = loadConfigFile(file, ExperimentSchema)
  const experiment = {
    ...parsed,
    file,
    data: resolveDataPaths(parsed.data, resolve(file), cacheRoot(options.cacheRoot)),
  }
  checkExperiment(experiment)
  return experiment
}

/** The cache root: the option, else RESFLOW_CACHE, else .cache in the working directory; absolute. */
export function cacheRoot(option?: string): string {
  return resolve(option ?? (process.env.RESFLOW_CACHE || '.cache'))
}

/** The folder of resflow's package.json: the checkout, or node_modules/resflow when installed. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url))
  for (;;) {
    const manifest = join(dir, 'package.json')
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'resflow')
      return dir
    const parent = dirname(dir)
    if (parent === dir)
      throw new ConfigError(`resflow: no package.json of resflow above ${fileURLToPath(import.meta.url)}`)
    dir = parent
  }
}

const inside = (root: string, path: string) => path === root || path.startsWith(root + sep)

function resolveDataPaths(data: DataConfig, file: string, cache: string): DataConfig {
  const pkg = packageRoot()
  const shipped = inside(pkg, file)
  const abs = (p: string | undefined) => (p === undefined || isAbsolute(p) ? p : resolve(dirname(file), p))
  // data written or read by a shipped config: never inside the package (the schema files it names are read-only, shipped)
  const dataPath = (p: string | undefined) => {
    const path = abs(p)
    if (path === undefined || !shipped || p === undefined || isAbsolute(p) || !inside(pkg, path)) return path
    const rel = relative(pkg, path)
    const cached = rel.split(sep)
    return cached[0] === '.cache' ? join(cache, ...cached.slice(1)) : resolve(rel)
  }
  return {
    ...data,
    dir: dataPath(data.dir),
    train: dataPath(data.train),
    val: dataPath(data.val),
    test: dataPath(data.test),
    schema: abs(data.schema),
  }
}

/** A model preset: a file like configs/models/resflow.yaml, `model: NAME` and that model's options. */
export interface ModelPreset {
  file: string
  model: ModelConfigInput
}

const PresetSchema = z.looseObject({ model: z.string().min(1) })

/** The presets shipped in configs/models/, by name (file name without .yaml). */
export function presetNames(): string[] {
  const dir = join(packageRoot(), 'configs', 'models')
  return existsSync(dir)
    ? readdirSync(dir)
        .filter((f) => extname(f) === '.yaml')
        .map((f) => basename(f, '.yaml'))
        .sort()
    : []
}

/**
 * train's `--model REF`: a registry name (null: the config's own options for that model, as before), else
 * a preset (loadModelPreset).
 */
export function resolveModelRef(ref: string): ModelPreset | null {
  return isModelName(ref) ? null : loadModelPreset(ref)
}

/**
 * A preset file (a path, or a name ending in .yaml / .yml / .json) or the name of a shipped preset
 * (configs/models/NAME.yaml), read and checked against its model's schema: before any data is read.
 */
export function loadModelPreset(ref: string): ModelPreset {
  const looksLikeFile = ref.includes('/') || ref.includes(sep) || ['.yaml', '.yml', '.json'].includes(extname(ref))
  const file = looksLikeFile ? ref : join(packageRoot(), 'configs', 'models', `${ref}.yaml`)
  if (!looksLikeFile && !existsSync(file)) {
    throw new ConfigError(
      `--model: unknown model or preset "${ref}" (models: ${MODEL_NAMES.join(', ')}; presets: ${presetNames().join(', ')}; or a preset file)`,
      { field: '--model' },
    )
  }
  const model = loadConfigFile(file, PresetSchema) as ModelConfigInput
  withFile(file, () => parseModelConfig(model))
  return { file, model }
}

/** The experiment with its `model` section replaced by the preset's (checked as a whole again). */
export function withModelPreset(e: Experiment, preset: ModelPreset): Experiment {
  const out: Experiment = { ...e, model: preset.model }
  withFile(preset.file, () => checkExperiment(out))
  return out
}

/** Cross-field checks zod cannot express; errors name the file and field. */
export function checkExperiment(e: Experiment): void {
  const fail = (field: string, message: string) => {
    throw new ConfigError(`${e.file}: ${field}: ${message}`, { file: e.file, field })
  }
  if (!e.data.dir && !e.data.train)
    fail('data', "give either dir (a folder in the adapter's layout) or train and val files")
  if (e.data.train && !e.data.val && !e.data.dir)
    fail('data.val', 'expected a validation file next to data.train (early stopping needs one)')
  if (e.earlyStopping.metric === 'task-auc' && !e.earlyStopping.task)
    fail('earlyStopping.task', 'metric task-auc needs the task to monitor, e.g. task: purchase')
  if (e.earlyStopping.metric === 'weighted-auc' && !e.earlyStopping.weights)
    fail('earlyStopping.weights', 'metric weighted-auc needs weights per task, e.g. weights: {click: 1, purchase: 2}')
  for (const key of ['lossWeights', 'positiveWeights', 'uncertaintyWeighting'] as const) {
    if (e.loss && key in e.model) fail(`model.${key}`, 'the loss is set in the loss section; give it there only')
  }
  withFile(e.file, () => parseModelConfig(modelConfigFor(e, e.model.model)))
  for (const name of Object.keys(e.compare.models)) withFile(e.file, () => parseModelConfig(modelConfigFor(e, name)))
  if (e.compare.sweep && !e.compare.sweep.field.startsWith('model.') && !e.compare.sweep.field.startsWith('data.')) {
    fail('compare.sweep.field', `expected a path under model. or data., got "${e.compare.sweep.field}"`)
  }
}

/**
 * Options that mean the same in every model (the embedding width, dropout, and the layer recipe);
 * `towers` does not (ResFlow's whole towers, MMoE's towers above the experts).
 */
const SHARED_KEYS = [
  'embeddingDim',
  'dropout',
  'inputBatchNorm',
  'init',
  'preluSlopes',
  'blockBatchNorm',
  'priorBias',
] satisfies (keyof typeof commonOptions)[]

/**
 * The model config of `name`: for the experiment's own model, its options; for another model, the
 * options every model shares (SHARED_KEYS) taken from `model`, then compare.models[name].
 * The loss section applies to every model.
 */
export function modelConfigFor(e: Pick<Experiment, 'model' | 'loss' | 'compare'>, name: string): ModelConfigInput {
  const own = name === e.model.model
  const base: Record<string, unknown> = own
    ? { ...e.model }
    : Object.fromEntries(SHARED_KEYS.filter((k) => k in e.model).map((k) => [k, e.model[k]]))
  const loss: Record<string, unknown> = {}
  if (e.loss?.weights) loss.lossWeights = e.loss.weights
  if (e.loss?.positiveWeights) loss.positiveWeights = e.loss.positiveWeights
  if (e.loss?.uncertaintyWeighting !== undefined) loss.uncertaintyWeighting = e.loss.uncertaintyWeighting
  return { ...base, ...(e.compare.models[name] ?? {}), ...loss, model: name }
}

/** A copy of the experiment with the dotted `field` set to `value` (a sweep point). */
export function withSetting(e: Experiment, field: string, value: unknown): Experiment {
  const copy = structuredClone(e) as Record<string, unknown>
  const keys = field.split('.')
  let node = copy
  for (const key of keys.slice(0, -1)) {
    if (node[key] === undefined) node[key] = {}
    if (typeof node[key] !== 'object' || node[key] === null)
      throw new ConfigError(
        `${e.file}: compare.sweep.field: "${field}" goes through "${key}", which is not an object`,
        { file: e.file, field: 'compare.sweep.field' },
      )
    node = node[key] as Record<string, unknown>
  }
  node[keys[keys.length - 1]] = value
  const out = copy as Experiment
  checkExperiment(out)
  return out
}

/** A short stable hash of what determines a training run (not epochs: a finished run can be extended). */
export function fingerprint(e: Experiment, modelConfig: ModelConfigInput, seed: number): string {
  const { data, optimizer, sparseOptimizer, embeddingInitStd, batchSize, earlyStopping, threads, workers } = e
  // workers changes the result (BatchNorm per shard, rounding); 1 is left out so earlier runs keep their fingerprint
  const key = JSON.stringify({
    data,
    modelConfig,
    optimizer,
    sparseOptimizer,
    embeddingInitStd,
    batchSize,
    earlyStopping,
    threads,
    seed,
    ...(workers > 1 ? { workers } : {}),
  })
  return createHash('sha256').update(key).digest('hex').slice(0, 16)
}
