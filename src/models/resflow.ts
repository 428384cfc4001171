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
 * and a guaranteed non-increasing funnel z_k = z_{k−1} − softplus(f_k) (residualLogit, below). Whether it is
 * on or off, the violation rate #{p_k > p_{k−1}}/n is measured by metrics/funnel.ts.
 *
 * `buildResFlow(spec, config, { positiveRates })`: taskOrder 'auto' needs the positive rate of each task
 * on the training data (task-graph.ts `positiveRates(batch, tasks)`).
 *
 * The residual wiring itself (residualTowers, residualLogit, below the builder) is shared with the
 * twin-tower variant, resflow-twin.ts. For task k with parent(s) P(k) (one parent, k−1, in a chain):
 *   hidden ('full'):   input of layer l+1 of task k = h_l(k) + h̄_l(P(k))           h_l = Dense → PReLU → BN
 *   logit  ('logit' and 'full'):            z_k = f_k + z̄_P(k)
 *   non-increasing funnel (option):         z_k = min_P z_P − softplus(f_k)   ⇒ p_k ≤ p_P for every parent
 * where h̄ and z̄ are the mean over the parents (with one parent, the paper's plain sum h_l(k) + h_l(k−1)).
 * h_l(k−1) is the output of the parent's layer l (before its own residual). No stop-gradient: task k's
 * loss trains its parents' towers too.
 */
import { z } from 'zod'
import type { Tensor } from '../engine/node.js'
import { add, greater, mul, scalarLike, sub, where } from '../engine/ops.js'
import type { InputSpec } from '../data/types.js'
import { ConfigError } from '../errors.js'
import { sharedInput } from '../nn/inputs.js'
import { denseBlock, linear } from '../nn/layers.js'
import { softplus } from '../nn/losses.js'
import type { BuildContext } from '../nn/params.js'
import {
  checkCommon,
  commonOptions,
  funnelModel,
  funnelOutputs,
  priorLogit,
  towerUnits,
  type BuildExtras,
} from './common.js'
import { type TaskNode, resolveTaskGraph } from './task-graph.js'
import type { Model } from './types.js'

export type { BuildExtras }

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
  const nodes = resolveTaskGraph(spec.tasks, {
    order: config.taskOrder,
    orderSeed: config.orderSeed,
    graph: config.graph,
    positiveRates: extras.positiveRates,
  })
  if (config.residual === 'full') checkResidualWidths(nodes, (t) => towerUnits(config, t))
  if (config.nonIncreasing && config.residual === 'none') {
    throw new ConfigError(
      'model.nonIncreasing: needs a logit residual (residual "logit" or "full"), got residual "none"',
      { field: 'model.nonIncreasing' },
    )
  }
  return nodes
}

export function buildResFlow(
  spec: InputSpec,
  config: ResFlowConfig,
  extras: BuildExtras = {},
  name = 'resflow',
): Model & { nodes: TaskNode[] } {
  const nodes = resflowTaskNodes(spec, config, extras)
  // priorBias: f_k's bias such that z_k starts at task k's loss-minimising constant (z_k = f_k + mean of the parents' z)
  const priorBias = (task: string, parents: string[]): number | undefined => {
    const own = config.nonIncreasing ? undefined : priorLogit(config, task, extras.positiveRates?.[task])
    if (own === undefined) return undefined
    const inherited =
      config.residual === 'none' || parents.length === 0
        ? 0
        : parents.reduce((a, p) => a + (priorLogit(config, p, extras.positiveRates?.[p]) ?? 0), 0) / parents.length
    return own - inherited
  }
  const model = funnelModel(name, spec, config, {
    forward(ctx, inputs) {
      const x = sharedInput(ctx, 'input', spec, inputs, { batchNorm: config.inputBatchNorm }) // [B, F*D + nDense]
      const towers = residualTowers(ctx, 'tower', x, nodes, (t) => towerUnits(config, t), {
        full: config.residual === 'full',
        dropout: config.dropout,
      })
      const logits: Record<string, Tensor> = {}
      for (const { task, parents } of nodes) {
        const f = linear(ctx, `tower.${task}.logit`, towers.get(task)!.top, 1, { biasInit: priorBias(task, parents) }) // f_k, [B, 1]
        logits[task] = residualLogit(
          f,
          parents.map((p) => logits[p]),
          config,
        ) // z_k, [B, 1]
      }
      return funnelOutputs(spec.tasks, logits) // in funnel order, whatever the chain order
    },
  })
  return { ...model, nodes }
}

// ---------------------------------------------------------------------------------------------
// The residual wiring between task towers (also used by resflow-twin.ts)

export type ResidualPlacement = 'none' | 'logit' | 'full'

export interface TowerOutput {
  /** h_1(k) … h_L(k), each [B, H_l], before the residual */
  hidden: Tensor[]
  /** what the head reads: h_L(k) plus the parents' h_L (with 'full') */
  top: Tensor
}

/** Residual layers must line up: same depth and width as each parent's, layer by layer. */
export function checkResidualWidths(
  nodes: readonly TaskNode[],
  unitsOf: (task: string) => number[],
  field = 'model.towers',
): void {
  for (const { task, parents } of nodes) {
    const mine = unitsOf(task)
    for (const p of parents) {
      const theirs = unitsOf(p)
      if (mine.length !== theirs.length) {
        throw new ConfigError(
          `${field}: residual layers must have equal widths: task "${task}" has ${mine.length} layers, task "${p}" has ${theirs.length} ` +
            `(hint: residual "logit" allows different towers)`,
          { field },
        )
      }
      mine.forEach((u, l) => {
        if (u !== theirs[l]) {
          throw new ConfigError(
            `${field}: residual layers must have equal widths: task "${task}" layer ${l} has ${u} units, task "${p}" layer ${l} has ${theirs[l]}`,
            {
              field,
            },
          )
        }
      })
    }
  }
}

function mean(ts: Tensor[]): Tensor {
  const sum = ts.reduce((a, b) => add(a, b))
  return ts.length === 1 ? sum : mul(sum, scalarLike(sum, 1 / ts.length))
}

/** Task towers over a shared input x, in build order, with hidden residuals when `full`. */
export function residualTowers(
  ctx: BuildContext,
  name: string,
  x: Tensor,
  nodes: readonly TaskNode[],
  unitsOf: (task: string) => number[],
  opts: { full: boolean; dropout: number },
): Map<string, TowerOutput> {
  const out = new Map<string, TowerOutput>()
  for (const { task, parents } of nodes) {
    const ps = opts.full ? parents.map((p) => out.get(p)!) : []
    const hidden: Tensor[] = []
    let h = x // [B, F*D + nDense]
    unitsOf(task).forEach((units, l) => {
      const hl = denseBlock(ctx, `${name}.${task}.${l}`, h, units, { dropout: opts.dropout }) // h_l(k), [B, H_l]
      hidden.push(hl)
      h = ps.length ? add(hl, mean(ps.map((p) => p.hidden[l]))) : hl // input of layer l+1: h_l(k) + h_l(k−1)
    })
    out.set(task, { hidden, top: h })
  }
  return out
}

/** z_k from the task's own f_k and its parents' logits. */
export function residualLogit(
  f: Tensor,
  parentLogits: Tensor[],
  opts: { residual: ResidualPlacement; nonIncreasing: boolean },
): Tensor {
  if (opts.residual === 'none' || parentLogits.length === 0) return f // z_k = f_k
  if (opts.nonIncreasing) {
    const floor = parentLogits.reduce((a, b) => where(greater(a, b), b, a)) // min over parents
    return sub(floor, softplus(f)) // z_k = z_{k−1} − softplus(f_k) ≤ z_{k−1}
  }
  return add(f, mean(parentLogits)) // z_k = f_k + z_{k−1}
}
