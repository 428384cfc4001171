/**
 * SharedBottom — hard parameter sharing (Caruana, "Multitask Learning", Machine Learning 1997).
 *
 *   x   = BN([e_1 ‖ … ‖ e_F ‖ dense])
 *   s   = MLP_shared(x)                     shared bottom, [B, H_bottom]
 *   z_k = f_k(MLP_k(s)),  p_k = σ(z_k)      task towers
 */
import { z } from 'zod'
import type { InputSpec } from '../data/types.js'
import { sharedInput } from '../nn/inputs.js'
import { mlp } from '../nn/layers.js'
import { Units, checkCommon, commonOptions, funnelModel, taskTowers, towersOption, type BuildExtras } from './common.js'
import type { Model } from './types.js'

export const SharedBottomConfig = z.strictObject({
  ...commonOptions,
  /** shared bottom layers; with towers [64] this matches ResFlow's 128 → 64 depth */
  bottom: Units.default([128]),
  towers: towersOption([64]),
})
export type SharedBottomConfig = z.infer<typeof SharedBottomConfig>

export function buildSharedBottom(spec: InputSpec, config: SharedBottomConfig, extras: BuildExtras = {}): Model {
  checkCommon(spec, config)
  return funnelModel('shared-bottom', spec, config, {
    forward(ctx, inputs) {
      const x = sharedInput(ctx, 'input', spec, inputs, { batchNorm: config.inputBatchNorm }) // [B, F*D + nDense]
      const bottom = mlp(ctx, 'bottom', x, config.bottom, { dropout: config.dropout })
      const s = bottom[bottom.length - 1] // [B, H_bottom]
      return taskTowers(ctx, spec, config, extras, () => s) // z_k = f_k(MLP_k(s))
    },
  })
}
