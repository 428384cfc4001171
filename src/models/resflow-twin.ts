/**
 * Twin-tower ResFlow for pre-ranking (beyond arXiv 2411.09705: its residuals applied to a two-tower
 * model). Per task k a user tower and an item tower, each side with ResFlow residuals between the task
 * towers (hidden layers, as in resflow.ts), and a dot-product logit with the logit residual:
 *
 *   x_u = BN(user-side features),  x_i = BN(item-side features)        (InputSpec `side`)
 *   u_k = W_u(k) · top_u(k) + b,   v_k = W_i(k) · top_i(k) + b          [B, vectorDim]
 *   z_k = ⟨u_k, v_k⟩ + z_{k−1}                                           residual 'logit' | 'full'
 *
 * Serving: item vectors v_k depend on item features only, so compute them once per item and cache
 * them (extras `item.<task>`); per request compute u_k (extras `user.<task>`), then d_k = ⟨u_k, v_k⟩
 * and compose along the chain exactly as training does: z_k = d_k + z_{k−1} (z_1 = d_1), i.e. for a
 * chain z_k = [u_1 ‖ … ‖ u_k] · [v_1 ‖ … ‖ v_k], one dot product of concatenated vectors (ANN-ready).
 * With a task graph the parent term is the mean of the parents' z; with nonIncreasing,
 * z_k = min_P z_P − softplus(d_k); with residual 'none', z_k = d_k. p_k = σ(z_k).
 */
import { z } from 'zod'
import type { Tensor } from '../engine/node.js'
import { mul, reduceSum } from '../engine/ops.js'
import type { InputSpec } from '../data/types.js'
import { ConfigError } from '../errors.js'
import { sharedInput, sideFeatures } from '../nn/inputs.js'
import { linear } from '../nn/layers.js'
import { funnelModel, funnelOutputs, towerUnits, towersOption } from './common.js'
import { type BuildExtras, residualLogit, residualTowers, resflowOptions, resflowTaskNodes } from './resflow.js'
import type { Model } from './types.js'

const options = resflowOptions
export const ResFlowTwinConfig = z.strictObject({
  ...options,
  /** each side's tower; the same sizes on both sides (pre-ranking towers are small) */
  towers: towersOption([128, 64]),
  /** width of u_k and v_k */
  vectorDim: z.number().int().positive().default(32),
})
export type ResFlowTwinConfig = z.infer<typeof ResFlowTwinConfig>

export function buildResFlowTwin(spec: InputSpec, config: ResFlowTwinConfig, extras: BuildExtras = {}): Model {
  const nodes = resflowTaskNodes(spec, config, extras)
  for (const side of ['user', 'item'] as const) {
    const f = sideFeatures(spec, side)
    if (f.categorical.length + f.dense.length === 0) {
      throw new ConfigError(
        `model: resflow-twin needs features on both sides, the spec has no ${side} features (set side: '${side}' on them in the input spec)`,
        {
          field: 'model',
        },
      )
    }
  }
  const unitsOf = (t: string) => towerUnits(config, t)
  const full = config.residual === 'full'
  return funnelModel('resflow-twin', spec, config, {
    forward(ctx, inputs) {
      const xu = sharedInput(ctx, 'user.input', spec, inputs, { side: 'user', batchNorm: config.inputBatchNorm }) // [B, I_user]
      const xi = sharedInput(ctx, 'item.input', spec, inputs, { side: 'item', batchNorm: config.inputBatchNorm }) // [B, I_item]
      const userTowers = residualTowers(ctx, 'user', xu, nodes, unitsOf, { full, dropout: config.dropout })
      const itemTowers = residualTowers(ctx, 'item', xi, nodes, unitsOf, { full, dropout: config.dropout })
      const logits: Record<string, Tensor> = {}
      const vectors: Record<string, Tensor> = {}
      for (const { task, parents } of nodes) {
        const u = linear(ctx, `user.${task}.vector`, userTowers.get(task)!.top, config.vectorDim) // u_k, [B, V]
        const v = linear(ctx, `item.${task}.vector`, itemTowers.get(task)!.top, config.vectorDim) // v_k, [B, V]
        const d = reduceSum(mul(u, v), [1], true) // ⟨u_k, v_k⟩, [B, 1]
        logits[task] = residualLogit(
          d,
          parents.map((p) => logits[p]),
          config,
        ) // z_k
        vectors[`user.${task}`] = u
        vectors[`item.${task}`] = v
      }
      return { ...funnelOutputs(spec.tasks, logits), extras: vectors }
    },
  })
}
