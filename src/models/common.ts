/**
 * What every model shares: the common config options, per-task option lookup, and the multi-task loss
 *
 *   L = Σ_k w_k · BCE_k(z_k, y_k; pos_k)                                  (fixed weights)
 *   L = Σ_k w_k · (exp(−s_k) · BCE_k + ½ s_k),  s_k = log σ_k² learned    (Kendall et al., CVPR 2018)
 *
 * with BCE_k the mean binary cross-entropy on task k's logits and pos_k its positive-class weight.
 * (The paper's Ali-CCP preset: lossWeights {click: 2, purchase: 1}, see configs/models/.)
 */
import { z } from 'zod'
import type { Tensor } from '../engine/node.js'
import { add, exp, mul, neg, reduceSum, reshape, scalarLike, sigmoid } from '../engine/ops.js'
import type { InputSpec } from '../data/types.js'
import { ConfigError } from '../errors.js'
import { zeros } from '../nn/init.js'
import { embeddingSpecs } from '../nn/inputs.js'
import { linear, mlp } from '../nn/layers.js'
import { bceWithLogits } from '../nn/losses.js'
import type { BuildContext, LayerOptions } from '../nn/params.js'
import type { Model } from './types.js'

export const Units = z.array(z.number().int().positive()).min(1)
/** Tower sizes: one list for all tasks, or one list per task. */
export const towersOption = (units: number[]) => z.union([Units, z.record(z.string(), Units)]).default(units)

/** Options every model accepts. Spread into each model's strict schema. */
export const commonOptions = {
  /** width D of every embedding table (brief's default) */
  embeddingDim: z.number().int().positive().default(16),
  /** hidden units of each task tower; one list for all tasks, or one per task. paper: 128, 64 */
  towers: towersOption([128, 64]),
  /** dropout after each hidden block; the paper uses none */
  dropout: z.number().min(0).lt(1).default(0),
  /** w_k per task (default 1); the paper's Ali-CCP preset is click 2, purchase 1 */
  lossWeights: z.record(z.string(), z.number().nonnegative()).default({}),
  /** positive-class weight per task (default 1), for rare conversions */
  positiveWeights: z.record(z.string(), z.number().positive()).default({}),
  /** learn the task weights as homoscedastic uncertainties (Kendall et al.) on top of lossWeights */
  uncertaintyWeighting: z.boolean().default(false),
  /** BatchNorm on the shared input [e_1 ‖ … ‖ e_F ‖ dense]; off by default (on, it costs AUC: bench/results/quality.md) */
  inputBatchNorm: z.boolean().default(false),
  /** Linear initialisation: 'torch' = PyTorch's U(±1/√fan_in) weights and biases; 'xavier' = Glorot weights, zero biases */
  init: z.enum(['torch', 'xavier']).default('torch'),
  /** PReLU slopes: one per layer ('shared', PyTorch's nn.PReLU()) or one per unit */
  preluSlopes: z.enum(['shared', 'unit']).default('shared'),
  /** BatchNorm after each hidden block (Dense → PReLU → BN); the paper's KuaiRand chain has none */
  blockBatchNorm: z.boolean().default(true),
  /**
   * start each task's logit at its loss-minimising constant, the log-odds of its positive rate on the
   * training data (its bias; for ResFlow net of the parent's, for ESMM the conditional rate), instead of a
   * random bias near 0. On by default: every model trains better with it (bench/results/quality.md); the
   * paper and the PyTorch reference do not do it (false reproduces them)
   */
  priorBias: z.boolean().default(true),
}

export const CommonConfig = z.strictObject(commonOptions)
export type CommonConfig = z.infer<typeof CommonConfig>

/** log(p / (1 − p)), clamped away from 0 and 1 */
export function logOdds(p: number): number {
  const q = Math.min(1 - 1e-6, Math.max(1e-6, p))
  return Math.log(q / (1 - q))
}

/** What a model is built with beside its config: the share of positives per task on the training data (priorBias, taskOrder 'auto'). */
export interface BuildExtras {
  positiveRates?: Record<string, number>
}

/**
 * The starting logit of task k with priorBias: the constant that minimises its loss, log(w·p / (1 − p))
 * for positive rate p and positive weight w (the log-odds of p when w = 1); undefined without the rate.
 */
export function priorLogit(
  config: Pick<CommonConfig, 'priorBias' | 'positiveWeights'>,
  task: string,
  rate: number | undefined,
): number | undefined {
  return config.priorBias && rate !== undefined
    ? logOdds(rate) + Math.log(config.positiveWeights[task] ?? 1)
    : undefined
}

/** The layer options of a model config (BuildContext.layers). */
export function layerOptions(config: Pick<CommonConfig, 'init' | 'preluSlopes' | 'blockBatchNorm'>): LayerOptions {
  return { init: config.init, preluSlopes: config.preluSlopes, blockBatchNorm: config.blockBatchNorm }
}

/** Validates that a per-task record names only tasks of the spec. */
export function checkTaskKeys(field: string, record: Record<string, unknown>, tasks: readonly string[]): void {
  for (const key of Object.keys(record)) {
    if (!tasks.includes(key)) {
      throw new ConfigError(`model.${field}: unknown task "${key}" (tasks: ${tasks.join(', ')})`, {
        field: `model.${field}`,
      })
    }
  }
}

/** Checks the common per-task options against the spec; call at the start of every build. */
export function checkCommon(spec: InputSpec, config: CommonConfig): void {
  if (spec.tasks.length === 0)
    throw new ConfigError('spec.tasks: a model needs at least one task', { field: 'spec.tasks' })
  checkTaskKeys('lossWeights', config.lossWeights, spec.tasks)
  checkTaskKeys('positiveWeights', config.positiveWeights, spec.tasks)
  if (!Array.isArray(config.towers)) {
    checkTaskKeys('towers', config.towers, spec.tasks)
    const missing = spec.tasks.filter((t) => !(t in (config.towers as Record<string, number[]>)))
    if (missing.length) {
      throw new ConfigError(
        `model.towers: no tower sizes for task(s) ${missing.map((t) => `"${t}"`).join(', ')} (give a list for all tasks or one per task)`,
        {
          field: 'model.towers',
        },
      )
    }
  }
}

/** Hidden units of task `task`'s tower. */
export function towerUnits(config: CommonConfig, task: string): number[] {
  return Array.isArray(config.towers) ? config.towers : config.towers[task]
}

/** Per-task BCE on logits with positive weights. */
export function bceLosses(
  config: CommonConfig,
  tasks: readonly string[],
  logits: Record<string, Tensor>,
  labels: Record<string, Tensor>,
): Record<string, Tensor> {
  const out: Record<string, Tensor> = {}
  for (const t of tasks) out[t] = bceWithLogits(logits[t], labels[t], config.positiveWeights[t] ?? 1)
  return out
}

/** Σ_k w_k L_k, or with learned uncertainty Σ_k w_k (exp(−s_k) L_k + ½ s_k). Scalar. */
export function combineLosses(ctx: BuildContext, config: CommonConfig, perTask: Record<string, Tensor>): Tensor {
  let total: Tensor | null = null
  for (const [task, loss] of Object.entries(perTask)) {
    let term = loss
    if (config.uncertaintyWeighting) {
      const s = reshape(ctx.param(`loss.log_var.${task}`, [1], zeros), []) // s_k = log σ_k², scalar
      term = add(mul(exp(neg(s)), loss), mul(s, scalarLike(s, 0.5)))
    }
    const w = config.lossWeights[task] ?? 1
    if (w !== 1) term = mul(term, scalarLike(term, w))
    total = total ? add(total, term) : term
  }
  if (!total) throw new ConfigError('loss: no task losses to combine')
  return total.rank === 0
    ? total
    : reduceSum(
        total,
        total.shape.map((_, i) => i),
      )
}

/** probs = σ(logits), both keyed in funnel order. */
export function funnelOutputs(
  tasks: readonly string[],
  logits: Record<string, Tensor>,
): { probs: Record<string, Tensor>; logits: Record<string, Tensor> } {
  const probs: Record<string, Tensor> = {}
  const ordered: Record<string, Tensor> = {}
  for (const t of tasks) {
    ordered[t] = logits[t]
    probs[t] = sigmoid(logits[t])
  }
  return { probs, logits: ordered }
}

/** What a model's builder writes itself; `funnelModel` adds what every model shares. */
export interface ModelParts {
  forward: Model['forward']
  /** default: the weighted per-task BCE on `outputs.logits` (combineLosses of bceLosses) */
  loss?: Model['loss']
  /** width of every embedding table (default config.embeddingDim) */
  embeddingDim?: number
}

/** A Model over the spec's tasks and features: its embeddings, layer options and (by default) loss from the common config. */
export function funnelModel(name: string, spec: InputSpec, config: CommonConfig, parts: ModelParts): Model {
  return {
    name,
    tasks: spec.tasks,
    spec,
    embeddings: embeddingSpecs(spec, parts.embeddingDim ?? config.embeddingDim),
    layers: layerOptions(config),
    forward: parts.forward,
    loss:
      parts.loss ??
      ((ctx, outputs, labels) => combineLosses(ctx, config, bceLosses(config, spec.tasks, outputs.logits, labels))),
  }
}

/** A task's one-unit logit head over `top` [B, H] → [B, 1], its bias started at the prior (priorBias) for positive rate `rate`. */
export function logitHead(
  ctx: BuildContext,
  name: string,
  top: Tensor,
  config: CommonConfig,
  task: string,
  rate: number | undefined,
): Tensor {
  return linear(ctx, name, top, 1, { biasInit: priorLogit(config, task, rate) })
}

/**
 * Task k's own tower over x (Dense → PReLU → BN blocks, `towers` units) and its logit head: z_k [B, 1].
 * Parameters `<name>.<l>.*` and `<name>.logit.*` unless `logitName` says otherwise.
 */
export function towerLogit(
  ctx: BuildContext,
  name: string,
  x: Tensor,
  config: CommonConfig,
  task: string,
  rate: number | undefined,
  logitName = `${name}.logit`,
): Tensor {
  const hidden = mlp(ctx, name, x, towerUnits(config, task), { dropout: config.dropout })
  return logitHead(ctx, logitName, hidden[hidden.length - 1], config, task, rate)
}

/**
 * The task towers over per-task inputs, in funnel order: z_k = f_k(Tower_k(input(task, k))), parameters
 * `tower.<task>.*`, then the model's outputs (funnelOutputs). `input` is called once per task, just before its
 * tower, so a model that builds per-task parts there (MMoE's gates) keeps its parameter order.
 */
export function taskTowers(
  ctx: BuildContext,
  spec: InputSpec,
  config: CommonConfig,
  extras: BuildExtras,
  input: (task: string, k: number) => Tensor,
): { probs: Record<string, Tensor>; logits: Record<string, Tensor> } {
  const logits: Record<string, Tensor> = {}
  spec.tasks.forEach((task, k) => {
    logits[task] = towerLogit(ctx, `tower.${task}`, input(task, k), config, task, extras.positiveRates?.[task]) // [B, 1]
  })
  return funnelOutputs(spec.tasks, logits)
}
