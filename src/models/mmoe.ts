/**
 * MMoE — "Modeling Task Relationships in Multi-task Learning with Multi-gate Mixture-of-Experts",
 * Ma et al., KDD 2018.
 *
 *   x   = BN([e_1 ‖ … ‖ e_F ‖ dense])
 *   e_i = Expert_i(x),  i = 1..E                    shared experts (Dense → PReLU → BN blocks)
 *   g_k = softmax(x W_k)                            one gate per task, [B, E]
 *   z_k = f_k(Tower_k(Σ_i g_k[:, i] · e_i)),  p_k = σ(z_k)
 * OMoE (one-gate MoE, the paper's ablation) lives in omoe.ts and shares this config.
 */
import { z } from 'zod'
import type { InputSpec } from '../data/types.js'
import { experts, gate, mixExperts } from '../nn/experts.js'
import { sharedInput } from '../nn/inputs.js'
import { Units, checkCommon, commonOptions, funnelModel, taskTowers, towersOption, type BuildExtras } from './common.js'
import type { Model } from './types.js'

export const moeOptions = {
  ...commonOptions,
  /** paper's census experiment: 8 experts */
  numExperts: z.number().int().positive().default(8),
  /** hidden units of each expert; 128 matches ResFlow's first layer */
  expertUnits: Units.default([128]),
  towers: towersOption([64]),
}
export const MmoeConfig = z.strictObject(moeOptions)
export type MmoeConfig = z.infer<typeof MmoeConfig>

/** MMoE, or OMoE with `oneGate` (a single gate shared by all tasks). */
export function buildMoe(spec: InputSpec, config: MmoeConfig, oneGate: boolean, extras: BuildExtras = {}): Model {
  checkCommon(spec, config)
  return funnelModel(oneGate ? 'omoe' : 'mmoe', spec, config, {
    forward(ctx, inputs) {
      const x = sharedInput(ctx, 'input', spec, inputs, { batchNorm: config.inputBatchNorm }) // [B, F*D + nDense]
      const es = experts(ctx, 'expert', x, config.numExperts, config.expertUnits, { dropout: config.dropout }) // E × [B, H]
      const shared = oneGate ? mixExperts(es, gate(ctx, 'gate', x, config.numExperts)) : null
      // Σ_i g_k[:, i] · e_i, [B, H]; task k's gate is built when its tower asks for its input
      const mixed = (task: string) => shared ?? mixExperts(es, gate(ctx, `gate.${task}`, x, config.numExperts))
      return taskTowers(ctx, spec, config, extras, mixed) // z_k = f_k(Tower_k(mixed_k))
    },
  })
}

export function buildMmoe(spec: InputSpec, config: MmoeConfig, extras: BuildExtras = {}): Model {
  return buildMoe(spec, config, false, extras)
}
