/**
 * SingleTask — one independent model per task (the classic baseline: no sharing at all).
 *
 *   x_k = BN([e_1(k) ‖ … ‖ e_F(k) ‖ dense]),   z_k = f_k(MLP_k(x_k)),   p_k = σ(z_k)
 *
 * Task k has its own embeddings e(k). They live in one table of width K·D per feature, task k using
 * columns [k·D, (k+1)·D): its loss never reaches the other tasks' columns, and the row-wise Adam/Adagrad
 * updates are element-wise, so this trains exactly like K separate tables (and counts as many rows).
 */
import { z } from 'zod'
import type { Tensor } from '../engine/node.js'
import { concat, reshape, slice } from '../engine/ops.js'
import type { InputSpec } from '../data/types.js'
import { sharedInput } from '../nn/inputs.js'
import { checkCommon, commonOptions, funnelModel, funnelOutputs, towerLogit, type BuildExtras } from './common.js'
import type { Model } from './types.js'

export const SingleTaskConfig = z.strictObject({ ...commonOptions })
export type SingleTaskConfig = z.infer<typeof SingleTaskConfig>

export function buildSingleTask(spec: InputSpec, config: SingleTaskConfig, extras: BuildExtras = {}): Model {
  checkCommon(spec, config)
  const D = config.embeddingDim
  const K = spec.tasks.length
  return funnelModel('single', spec, config, {
    embeddingDim: K * D,
    forward(ctx, inputs) {
      const logits: Record<string, Tensor> = {}
      // [e_1 ‖ … ‖ e_F] viewed as [B, F, K, D]: task k's features are one strided slice of it, taken
      // with one Slice per task (not a Concat of F [B, D] slices per task, and their gradients)
      const names = Object.keys(inputs.embeddings)
      const F = names.length
      const all = reshape(
        concat(
          names.map((f) => inputs.embeddings[f]),
          1,
        ),
        ['B', F, K, D],
      )
      spec.tasks.forEach((task, k) => {
        const mine = reshape(slice(all, 2, k, k + 1), ['B', F * D]) // [e_1(k) ‖ … ‖ e_F(k)]
        const own: Record<string, Tensor> = {}
        names.forEach((f, i) => (own[f] = slice(mine, 1, i * D, (i + 1) * D))) // e_f(k), [B, D]
        const x = sharedInput(
          ctx,
          `${task}.input`,
          spec,
          { embeddings: own, dense: inputs.dense },
          { batchNorm: config.inputBatchNorm },
        )
        logits[task] = towerLogit(ctx, `${task}.tower`, x, config, task, extras.positiveRates?.[task], `${task}.logit`) // z_k, [B, 1]
      })
      return funnelOutputs(spec.tasks, logits)
    },
  })
}
