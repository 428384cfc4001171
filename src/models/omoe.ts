/**
 * OMoE — one-gate mixture of experts, the ablation of "Modeling Task Relationships in Multi-task
 * Learning with Multi-gate Mixture-of-Experts" (Ma et al., KDD 2018):
 *
 *   g = softmax(x W),   z_k = f_k(Tower_k(Σ_i g[:, i] · e_i))       one gate shared by every task
 * Same options as MMoE (mmoe.ts).
 */
import { z } from 'zod'
import type { InputSpec } from '../data/types.js'
import type { BuildExtras } from './common.js'
import { buildMoe, moeOptions } from './mmoe.js'
import type { Model } from './types.js'

export const OmoeConfig = z.strictObject(moeOptions)
export type OmoeConfig = z.infer<typeof OmoeConfig>

export function buildOmoe(spec: InputSpec, config: OmoeConfig, extras: BuildExtras = {}): Model {
  return buildMoe(spec, config, true, extras)
}
