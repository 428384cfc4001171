/**
 * PLE — "Progressive Layered Extraction (PLE): A Novel Multi-Task Learning (MTL) Model for
 * Personalized Recommendations", Tang et al., RecSys 2020.
 *
 * A stack of Customized Gate Control (CGC) levels. At level l, with task inputs t_k and a shared
 * input s (both x at level 1):
 *   E_k = task-specific experts of task k on t_k,   E_s = shared experts on s
 *   t_k ← Σ softmax(t_k W_k) · [E_k ‖ E_s]            task gate: own + shared experts
 *   s   ← Σ softmax(s W_s) · [E_1 ‖ … ‖ E_K ‖ E_s]    shared gate: all experts (not at the last level)
 *   z_k = f_k(Tower_k(t_k)),  p_k = σ(z_k)
 * levels: 1 is CGC alone; the paper's PLE stacks 2+.
 */
import { z } from 'zod'
import type { Tensor } from '../engine/node.js'
import type { InputSpec } from '../data/types.js'
import { experts, gate, mixExperts } from '../nn/experts.js'
import { sharedInput } from '../nn/inputs.js'
import { Units, checkCommon, commonOptions, funnelModel, taskTowers, towersOption, type BuildExtras } from './common.js'
import type { Model } from './types.js'

export const PleConfig = z.strictObject({
  ...commonOptions,
  /** number of extraction levels (paper: 2 beats CGC's 1 on its data) */
  levels: z.number().int().positive().default(2),
  /** experts per task per level */
  specificExperts: z.number().int().positive().default(2),
  /** shared experts per level */
  sharedExperts: z.number().int().positive().default(2),
  /** hidden units of each expert; 128 matches ResFlow's first layer */
  expertUnits: Units.default([128]),
  towers: towersOption([64]),
})
export type PleConfig = z.infer<typeof PleConfig>

export function buildPle(spec: InputSpec, config: PleConfig, extras: BuildExtras = {}): Model {
  checkCommon(spec, config)
  const blockOpts = { dropout: config.dropout }
  return funnelModel('ple', spec, config, {
    forward(ctx, inputs) {
      const x = sharedInput(ctx, 'input', spec, inputs, { batchNorm: config.inputBatchNorm }) // [B, F*D + nDense]
      let taskIn: Tensor[] = spec.tasks.map(() => x) // t_k
      let sharedIn = x // s
      for (let l = 0; l < config.levels; l++) {
        const own = spec.tasks.map((task, k) =>
          experts(ctx, `level${l}.${task}.expert`, taskIn[k], config.specificExperts, config.expertUnits, blockOpts),
        )
        const shared = experts(
          ctx,
          `level${l}.shared.expert`,
          sharedIn,
          config.sharedExperts,
          config.expertUnits,
          blockOpts,
        )
        const nextTask = spec.tasks.map((task, k) => {
          const pool = [...own[k], ...shared] // [E_k ‖ E_s], each [B, H]
          return mixExperts(pool, gate(ctx, `level${l}.${task}.gate`, taskIn[k], pool.length))
        })
        if (l < config.levels - 1) {
          const pool = [...own.flat(), ...shared]
          sharedIn = mixExperts(pool, gate(ctx, `level${l}.shared.gate`, sharedIn, pool.length))
        }
        taskIn = nextTask
      }
      return taskTowers(ctx, spec, config, extras, (_, k) => taskIn[k]) // z_k = f_k(Tower_k(t_k))
    },
  })
}
