/**
 * AITM — "Modeling the Sequential Dependence among Audience Multi-step Conversions with Multi-task
 * Learning in Targeted Display Advertising", Xi et al., KDD 2021 (arXiv 2105.08489).
 *
 * Each task encodes the shared input with its own tower, then takes information from the previous
 * task through an Adaptive Information Transfer (AIT) module:
 *   q_t   = Tower_t(x)                                 [B, H]
 *   p_t−1 = g_t−1(z_t−1)                               transfer: one Dense → PReLU layer to q_t's width, [B, H]
 *   z_t   = AIT(p_t−1, q_t)  (t > 1),  z_1 = q_1         attention over {p_t−1, q_t}, nn/attention.ts
 *   ŷ_t   = σ(f_t(z_t))
 * Loss: Σ_t w_t BCE_t + α · Σ_{t≥2} mean(max(ŷ_t − ŷ_{t−1}, 0))   the behavioral expectation calibrator
 * (paper: α = 0.6).
 */
import { z } from 'zod'
import type { Tensor } from '../engine/node.js'
import { add, mul, reduceMean, relu, scalarLike, sub } from '../engine/ops.js'
import type { InputSpec } from '../data/types.js'
import { itemAttention } from '../nn/attention.js'
import { sharedInput } from '../nn/inputs.js'
import { linear, mlp, prelu } from '../nn/layers.js'
import {
  bceLosses,
  checkCommon,
  combineLosses,
  commonOptions,
  funnelModel,
  funnelOutputs,
  logitHead,
  towerUnits,
  type BuildExtras,
} from './common.js'
import type { Model } from './types.js'

export const AitmConfig = z.strictObject({
  ...commonOptions,
  /** weight α of the calibration constraint (paper: 0.6) */
  calibrationWeight: z.number().nonnegative().default(0.6),
})
export type AitmConfig = z.infer<typeof AitmConfig>

export function buildAitm(spec: InputSpec, config: AitmConfig, extras: BuildExtras = {}): Model {
  checkCommon(spec, config)
  return funnelModel('aitm', spec, config, {
    forward(ctx, inputs) {
      const x = sharedInput(ctx, 'input', spec, inputs, { batchNorm: config.inputBatchNorm }) // [B, F*D + nDense]
      const logits: Record<string, Tensor> = {}
      let prev: Tensor | null = null // z_{t−1}
      for (const task of spec.tasks) {
        const units = towerUnits(config, task)
        const hidden = mlp(ctx, `tower.${task}`, x, units, { dropout: config.dropout })
        const q = hidden[hidden.length - 1] // q_t, [B, H]
        const H = units[units.length - 1]
        const zt: Tensor = prev
          ? itemAttention(
              ctx,
              `ait.${task}`,
              [prelu(ctx, `transfer.${task}.prelu`, linear(ctx, `transfer.${task}`, prev, H)), q],
              H,
            )
          : q
        logits[task] = logitHead(ctx, `tower.${task}.logit`, zt, config, task, extras.positiveRates?.[task]) // [B, 1]
        prev = zt
      }
      return funnelOutputs(spec.tasks, logits)
    },
    loss(ctx, outputs, labels) {
      let total = combineLosses(ctx, config, bceLosses(config, spec.tasks, outputs.logits, labels))
      if (config.calibrationWeight > 0) {
        for (let t = 1; t < spec.tasks.length; t++) {
          const gap = relu(sub(outputs.probs[spec.tasks[t]], outputs.probs[spec.tasks[t - 1]])) // max(ŷ_t − ŷ_{t−1}, 0)
          total = add(total, mul(reduceMean(gap, [0, 1]), scalarLike(gap, config.calibrationWeight)))
        }
      }
      return total
    },
  })
}
