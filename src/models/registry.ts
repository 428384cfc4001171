/**
 * The model registry: a typed object literal, name → { config schema, build, summary }. Nothing
 * registers itself on import; adding a model means adding a row here (and it then joins the
 * conformance suite in tests/models/conformance.test.ts automatically).
 *
 *   buildModel(spec, { model: 'resflow', towers: [128, 64], ... }, { positiveRates })
 *
 * `extras.positiveRates` (per-task share of positives on the training data, see task-graph.ts
 * `positiveRates`) is only read by the ResFlow family's taskOrder 'auto'.
 */
import type { z } from 'zod'
import { configErrorOf } from '../config/load.js'
import type { InputSpec } from '../data/types.js'
import { ConfigError } from '../errors.js'
import { AitmConfig, buildAitm } from './aitm.js'
import { EsmmConfig, buildEsmm } from './esmm.js'
import { MmoeConfig, buildMmoe } from './mmoe.js'
import { OmoeConfig, buildOmoe } from './omoe.js'
import { PleConfig, buildPle } from './ple.js'
import { type BuildExtras, ResFlowConfig, buildResFlow } from './resflow.js'
import { NseConfig, ResFlowLogitConfig, buildNse, buildResFlowLogit } from './resflow-presets.js'
import { ResFlowTwinConfig, buildResFlowTwin } from './resflow-twin.js'
import { SharedBottomConfig, buildSharedBottom } from './shared-bottom.js'
import { SingleTaskConfig, buildSingleTask } from './single-task.js'
import type { Model } from './types.js'

export type { BuildExtras }

export interface ModelEntry<C extends z.ZodObject = z.ZodObject> {
  /** strict schema of the model's options (everything but `model`) */
  config: C
  /** method syntax on purpose: each entry takes its own config type */
  build(spec: InputSpec, config: z.infer<C>, extras?: BuildExtras): Model
  summary: string
}

export const MODELS = {
  single: {
    config: SingleTaskConfig,
    build: buildSingleTask,
    summary: 'SingleTask: one independent model per task (own embeddings and tower)',
  },
  nse: {
    config: NseConfig,
    build: buildNse,
    summary: 'NSE: shared embeddings, independent towers (ResFlow with residuals off)',
  },
  'shared-bottom': {
    config: SharedBottomConfig,
    build: buildSharedBottom,
    summary: 'SharedBottom: a shared MLP under per-task towers (Caruana 1997)',
  },
  esmm: {
    config: EsmmConfig,
    build: buildEsmm,
    summary: 'ESMM: p_ctcvr = p_ctr · p_cvr over the entire space (SIGIR 2018)',
  },
  omoe: { config: OmoeConfig, build: buildOmoe, summary: 'OMoE: shared experts, one softmax gate for all tasks' },
  mmoe: { config: MmoeConfig, build: buildMmoe, summary: 'MMoE: shared experts, one softmax gate per task (KDD 2018)' },
  ple: {
    config: PleConfig,
    build: buildPle,
    summary: 'PLE: CGC levels of shared and task-specific experts (RecSys 2020)',
  },
  aitm: {
    config: AitmConfig,
    build: buildAitm,
    summary: 'AITM: attention-based transfer between consecutive tasks, calibration constraint (KDD 2021)',
  },
  resflow: {
    config: ResFlowConfig,
    build: buildResFlow,
    summary: 'ResFlow: residuals between consecutive task towers, hidden layers and logit (KDD 2024)',
  },
  'resflow-logit': {
    config: ResFlowLogitConfig,
    build: buildResFlowLogit,
    summary: 'ResFlow with the logit residual only (z_k = f_k + z_{k−1})',
  },
  'resflow-twin': {
    config: ResFlowTwinConfig,
    build: buildResFlowTwin,
    summary: 'Twin-tower ResFlow for pre-ranking: user · item per task, residuals on each side',
  },
  // biome-ignore lint/suspicious/noExplicitAny: each row has its own config type; the record checks only the rows' shape
} satisfies Record<string, ModelEntry<any>>

export type ModelName = keyof typeof MODELS
export const MODEL_NAMES = Object.keys(MODELS) as ModelName[]

export function isModelName(name: string): name is ModelName {
  return Object.hasOwn(MODELS, name)
}

export function getModel(name: string): ModelEntry {
  if (!isModelName(name)) {
    throw new ConfigError(`model: unknown model "${name}" (available: ${MODEL_NAMES.join(', ')})`, { field: 'model' })
  }
  return MODELS[name] as unknown as ModelEntry
}

/** A model config as written in a file: `model` names the entry, the rest are its options. */
export type ModelConfigInput = { model: string } & Record<string, unknown>

/**
 * A model config as written in code, checked at compile time against the registry's schemas: `model`
 * picks the entry and narrows the options to that model's, so a misspelled option, a wrong value type
 * or an unknown model name is a type error. Options with defaults are optional (zod input types).
 *
 *   const config: ModelConfig = { model: 'resflow', towers: [128, 64], residual: 'logit' }
 */
export type ModelConfig = { [K in ModelName]: { model: K } & z.input<(typeof MODELS)[K]['config']> }[ModelName]

/** A model config after `parseModelConfig`: the entry's name and its options with defaults filled in. */
export interface ParsedModelConfig {
  model: ModelName
  options: Record<string, unknown>
}

/** Validates options against the model's strict schema; returns them with defaults filled in. */
export function parseModelConfig(input: ModelConfigInput): ParsedModelConfig {
  if (typeof input?.model !== 'string') {
    throw new ConfigError(
      `model: expected a model name (available: ${MODEL_NAMES.join(', ')}), got ${JSON.stringify(input?.model)}`,
      { field: 'model' },
    )
  }
  const { model, ...rest } = input
  const entry = getModel(model)
  const parsed = entry.config.safeParse(rest)
  if (!parsed.success) throw configError(model, entry, parsed.error, rest)
  return { model: model as ModelName, options: parsed.data as Record<string, unknown> }
}

/**
 * Builds a registered model from a config written in code, like `{ model: 'resflow', towers: [128, 64] }`:
 * typed by {@link ModelConfig}, so a misspelled option (`towerz`), a wrong value type (`towers: '64'`) or
 * an unknown model name does not compile. Options are validated again at run time, defaults filled in.
 */
export function buildModel(spec: InputSpec, config: ModelConfig, extras?: BuildExtras): Model
/**
 * Builds a registered model from a config read from a file ({@link ModelConfigInput}, `model` a plain
 * `string`), validated at run time only. A literal model name never takes this signature
 * (`string extends M` is false for `M = 'resflow'`), so code gets the typed one above.
 */
export function buildModel<M extends string>(
  spec: InputSpec,
  config: { model: string extends M ? M : never } & Record<string, unknown>,
  extras?: BuildExtras,
): Model
export function buildModel(spec: InputSpec, config: ModelConfigInput, extras: BuildExtras = {}): Model {
  return buildParsedModel(spec, parseModelConfig(config), extras)
}

/** Builds a registered model from a config `parseModelConfig` has already validated (no second parse). */
export function buildParsedModel(spec: InputSpec, config: ParsedModelConfig, extras: BuildExtras = {}): Model {
  return getModel(config.model).build(spec, config.options, extras)
}

function configError(model: string, entry: ModelEntry, error: z.ZodError, given: unknown): ConfigError {
  return configErrorOf(error, given, entry.config, {
    root: 'model',
    keyNoun: 'unknown option',
    keyContext: ` for model "${model}"`,
  })
}
