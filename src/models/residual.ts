/**
 * ResFlow's residual wiring between task towers, shared by `resflow.ts` and `resflow-twin.ts`.
 *
 * For task k with parent(s) P(k) (one parent, k−1, in a chain):
 *   hidden ('full'):   input of layer l+1 of task k = h_l(k) + h̄_l(P(k))           h_l = Dense → PReLU → BN
 *   logit  ('logit' and 'full'):            z_k = f_k + z̄_P(k)
 *   non-increasing funnel (option):         z_k = min_P z_P − softplus(f_k)   ⇒ p_k ≤ p_P for every parent
 * where h̄ and z̄ are the mean over the parents (with one parent, the paper's plain sum h_l(k) + h_l(k−1)).
 * h_l(k−1) is the output of the parent's layer l (before its own residual). No stop-gradient: task k's
 * loss trains its parents' towers too.
 */
import type { Tensor } from '../engine/node.js'
import { add, greater, mul, scalarLike, sub, where } from '../engine/ops.js'
import { ConfigError } from '../errors.js'
import { denseBlock } from '../nn/layers.js'
import { softplus } from '../nn/losses.js'
import type { BuildContext } from '../nn/params.js'
import type { TaskNode } from './task-graph.js'

export type ResidualPlacement = 'none' | 'logit' | 'full'

export interface TowerOutput {
  /** h_1(k) … h_L(k), each [B, H_l], before the residual */
  hidden: Tensor[]
  /** what the head reads: h_L(k) plus the parents' h_L (with 'full') */
  top: Tensor
}

/** Residual layers must line up: same depth and width as each parent's, layer by layer. */
export function checkResidualWidths(nodes: readonly TaskNode[], unitsOf: (task: string) => number[], field = 'model.towers'): void {
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
          throw new ConfigError(`${field}: residual layers must have equal widths: task "${task}" layer ${l} has ${u} units, task "${p}" layer ${l} has ${theirs[l]}`, {
            field,
          })
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
      h = ps.length ? add(hl, mean(ps.map((p) => p.hidden[l]!))) : hl // input of layer l+1: h_l(k) + h_l(k−1)
    })
    out.set(task, { hidden, top: h })
  }
  return out
}

/** z_k from the task's own f_k and its parents' logits. */
export function residualLogit(f: Tensor, parentLogits: Tensor[], opts: { residual: ResidualPlacement; nonIncreasing: boolean }): Tensor {
  if (opts.residual === 'none' || parentLogits.length === 0) return f // z_k = f_k
  if (opts.nonIncreasing) {
    const floor = parentLogits.reduce((a, b) => where(greater(a, b), b, a)) // min over parents
    return sub(floor, softplus(f)) // z_k = z_{k−1} − softplus(f_k) ≤ z_{k−1}
  }
  return add(f, mean(parentLogits)) // z_k = f_k + z_{k−1}
}
