/**
 * ResFlow — "Residual Multi-Task Learner for Applied Ranking", Shopee, KDD 2024 (arXiv 2411.09705).
 *
 * Tasks of a conversion funnel (click → cart → purchase) are sequentially dependent, so ResFlow keeps
 * one tower per task and adds residual connections from task k−1's tower to task k's at the
 * corresponding layers: a later, sparser task starts from what the earlier, denser one has learned.
 *
 *   x        = [e_1 ‖ … ‖ e_F ‖ dense]  (BN on it: inputBatchNorm)       shared input, [B, F*D + nDense]
 *   h_l(k)   = BN(PReLU(W_l(k) · in_l(k) + b_l(k)))                   paper: 128 then 64 units
 *   in_1(k)  = x,   in_{l+1}(k) = h_l(k) + h_l(k−1)                   residual = 'full'
 *   z_k      = f_k(in_{L+1}(k)) + z_{k−1}                             residual = 'logit' | 'full'
 *   p_k      = σ(z_k)
 * residual 'none' is the paper's NSE baseline (shared embeddings, independent towers). Options beyond
 * the paper: task order (given | auto | reversed | random), a task graph with several parents per task,
 * and a guaranteed non-increasing funnel z_k = z_{k−1} − softplus(f_k) (see residual.ts). Whether it is
 * on or off, the violation rate #{p_k > p_{k−1}}/n is measured by metrics/funnel.ts.
 *
 * `buildResFlow(spec, config, { positiveRates })`: taskOrder 'auto' needs the positive rate of each task
 * on the training data (task-graph.ts `positiveRates(batch, tasks)`).
 */
import { z } from 'zod'
import type { Tensor } from '../engine/node.js'
import type { InputSpec } from '../data/types.js'
import { ConfigError } from '../errors.js'
import { sharedInput, embeddingSpecs } from '../nn/inputs.js'
import { linear } from '../nn/layers.js'
import { bceLosses, checkCommon, combineLosses, commonOptions, funnelOutputs, towerUnits, layerOptions, priorLogit, type BuildExtras } from './common.js'

export type { BuildExtras }
import { checkResidualWidths, residualLogit, residualTowers } from './residual.js'
import { type TaskNode, resolveTaskGraph } from './task-graph.js'
import type { Model } from './types.js'

export const resflowOptions = {
  ...commonOptions,
  /** where the residuals go: none (NSE) | logit (the paper's "other modality" form) | full */
  residual: z.enum(['none', 'logit', 'full']).default('full'),
  /** chain order; 'auto' = densest task first, the paper's best */
  taskOrder: z.enum(['given', 'auto', 'reversed', 'random']).default('given'),
  /** seed of taskOrder 'random' */
  orderSeed: z.number().int().nonnegative().default(0),
  /** z_k = z_{k−1} − softplus(f_k): guarantees p_k ≤ p_{k−1}; off by default as in the paper */
  nonIncreasing: z.boolean().default(false),
  /** a task graph instead of a chain: task → parent tasks (must be acyclic) */
  graph: z.record(z.string(), z.array(z.string())).optional(),
}
export const ResFlowConfig = z.strictObject(resflowOptions)
export type ResFlowConfig = z.infer<typeof ResFlowConfig>

/** The task nodes of a ResFlow config, checked: order, graph, widths, non-increasing. */
export function resflowTaskNodes(spec: InputSpec, config: ResFlowConfig, extras: BuildExtras): TaskNode[] {
  checkCommon(spec, config)
  const nodes = resolveTaskGraph(spec.tasks, { order: config.taskOrder, orderSeed: config.orderSeed, graph: config.graph, positiveRates: extras.positiveRates })
  if (config.residual === 'full') checkResidualWidths(nodes, (t) => towerUnits(config, t))
  if (config.nonIncreasing && config.residual === 'none') {
    throw new ConfigError('model.nonIncreasing: needs a logit residual (residual "logit" or "full"), got residual "none"', { field: 'model.nonIncreasing' })
  }
  return nodes
}

export function buildResFlow(spec: InputSpec, config: ResFlowConfig, extras: BuildExtras = {}, name = 'resflow'): Model & { nodes: TaskNode[] } {
  const nodes = resflowTaskNodes(spec, config, extras)
  // priorBias: f_k's bias such that z_k starts at task k's loss-minimising constant (z_k = f_k + mean of the parents' z)
  const priorBias = (task: string, parents: string[]): number | undefined => {
    const own = config.nonIncreasing ? undefined : priorLogit(config, task, extras.positiveRates?.[task])
    if (own === undefined) return undefined
    const inherited = config.residual === 'none' || parents.length === 0 ? 0 : parents.reduce((a, p) => a + (priorLogit(config, p, extras.positiveRates?.[p]) ?? 0), 0) / parents.length
    return own - inherited
  }
  return {
    name,
    tasks: spec.tasks,
    spec,
    nodes,
    embeddings: embeddingSpecs(spec, config.embeddingDim),
    layers: layerOptions(config),
    forward(ctx, inputs) {
      const x = sharedInput(ctx, 'input', spec, inputs, { batchNorm: config.inputBatchNorm }) // [B, F*D + nDense]
      const towers = residualTowers(ctx, 'tower', x, nodes, (t) => towerUnits(config, t), { full: config.residual === 'full', dropout: config.dropout })
      const logits: Record<string, Tensor> = {}
      for (const { task, parents } of nodes) {
        const f = linear(ctx, `tower.${task}.logit`, towers.get(task)!.top, 1, { biasInit: priorBias(task, parents) }) // f_k, [B, 1]
        logits[task] = residualLogit(f, parents.map((p) => logits[p]!), config) // z_k, [B, 1]
      }
      return funnelOutputs(spec.tasks, logits) // in funnel order, whatever the chain order
    },
    loss(ctx, outputs, labels) {
      return combineLosses(ctx, config, bceLosses(config, spec.tasks, outputs.logits, labels))
    },
  }
}
