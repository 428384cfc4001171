/**
 * ESMM — "Entire Space Multi-Task Model: An Effective Approach for Estimating Post-Click Conversion
 * Rate", Ma et al., SIGIR 2018 (arXiv 1804.07931).
 *
 * CVR is only observed after a click, so ESMM models it over the entire impression space through
 *   p_ctr   = σ(f_ctr(x)),  p_cvr = σ(f_cvr(x)),  p_ctcvr = p_ctr · p_cvr
 * and trains on the observable labels only: L = w_ctr·BCE(p_ctr, click) + w_ctcvr·BCE(p_ctcvr, purchase).
 * For a chain of K tasks: p_k = Π_{j≤k} q_j with q_j = σ(f_j) the conditional rate of step j.
 * The towers share the embeddings (x), as in the paper.
 *
 * Outputs: probs[task_k] = p_k (the entire-space probability); logits only for the first task (p_k for
 * k > 1 is a product, with no logit of its own); extras `cond.<task>` hold q_k (e.g. the CVR) and
 * `condLogit.<task>` its logit f_k, which the loss reads.
 * The loss on p_k uses log p_k = −Σ_j softplus(−f_j), computed in log space for stability.
 */
import { z } from 'zod'
import type { Tensor } from '../engine/node.js'
import { add, exp, log, mul, neg, reduceMean, scalarLike, sigmoid, sub } from '../engine/ops.js'
import type { InputSpec } from '../data/types.js'
import { sharedInput } from '../nn/inputs.js'
import { bceWithLogits, softplus } from '../nn/losses.js'
import { checkCommon, combineLosses, commonOptions, funnelModel, towerLogit, type BuildExtras } from './common.js'
import type { Model } from './types.js'

export const EsmmConfig = z.strictObject({ ...commonOptions })
export type EsmmConfig = z.infer<typeof EsmmConfig>

/** log(1 − p) is clipped at log(1e-7) where p rounds to 1 in float32 */
const LOG_EPS = 1e-7

export function buildEsmm(spec: InputSpec, config: EsmmConfig, extras: BuildExtras = {}): Model {
  checkCommon(spec, config)
  // priorBias: q_k starts at the conditional rate p_k / p_{k−1}
  const rates = extras.positiveRates
  const conditionalRate = (k: number): number | undefined => {
    const rate = rates?.[spec.tasks[k]]
    const prev = k > 0 ? rates?.[spec.tasks[k - 1]] : 1
    return rate !== undefined && prev ? rate / prev : undefined
  }
  return funnelModel('esmm', spec, config, {
    forward(ctx, inputs) {
      const x = sharedInput(ctx, 'input', spec, inputs, { batchNorm: config.inputBatchNorm }) // [B, F*D + nDense]
      const probs: Record<string, Tensor> = {}
      const conditionals: Record<string, Tensor> = {}
      const fs: Tensor[] = []
      let p: Tensor | null = null
      spec.tasks.forEach((task, k) => {
        const f = towerLogit(ctx, `tower.${task}`, x, config, task, conditionalRate(k)) // f_k, [B, 1]
        const q = sigmoid(f) // q_k, e.g. p_cvr
        p = p ? mul(p, q) : q // p_k = p_{k−1} · q_k, e.g. p_ctcvr = p_ctr · p_cvr
        fs.push(f)
        probs[task] = p
        conditionals[`cond.${task}`] = q
        conditionals[`condLogit.${task}`] = f
      })
      const first = spec.tasks[0]
      return { probs, logits: { [first]: fs[0] }, extras: conditionals }
    },
    loss(ctx, outputs, labels) {
      const perTask: Record<string, Tensor> = {}
      spec.tasks.forEach((task, k) => {
        const w = config.positiveWeights[task] ?? 1
        const fs = spec.tasks.slice(0, k + 1).map((t) => outputs.extras![`condLogit.${t}`]) // f_1 … f_k
        if (k === 0) {
          perTask[task] = bceWithLogits(fs[0], labels[task], w)
          return
        }
        const y = labels[task]
        const one = scalarLike(y, 1)
        const logP = neg(fs.map((f) => softplus(neg(f))).reduce((a, b) => add(a, b))) // log p_k = Σ log σ(f_j)
        const log1mP = log(add(sub(one, exp(logP)), scalarLike(y, LOG_EPS))) // log(1 − p_k)
        const pos = w === 1 ? mul(y, logP) : mul(mul(y, logP), scalarLike(y, w))
        const perRow = neg(add(pos, mul(sub(one, y), log1mP)))
        perTask[task] = reduceMean(perRow, [0, 1])
      })
      return combineLosses(ctx, config, perTask)
    },
  })
}
