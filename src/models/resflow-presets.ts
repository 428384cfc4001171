/**
 * The paper's ablation steps as ResFlow presets (arXiv 2411.09705, §ablation):
 *   nse            shared embeddings, independent towers (residual 'none')
 *   resflow-logit  the logit residual only, z_k = f_k + z_{k−1} (the paper's form for long chains,
 *                  e.g. nine watch-time tasks)
 * Same options as `resflow` minus the ones the preset fixes.
 */
import { z } from 'zod'
import type { InputSpec } from '../data/types.js'
import { type BuildExtras, buildResFlow, resflowOptions } from './resflow.js'
import type { Model } from './types.js'

const { residual: _residual, nonIncreasing: _nonIncreasing, ...nseOptions } = resflowOptions
const { residual: _r, ...logitOptions } = resflowOptions

export const NseConfig = z.strictObject(nseOptions)
export type NseConfig = z.infer<typeof NseConfig>
export const ResFlowLogitConfig = z.strictObject(logitOptions)
export type ResFlowLogitConfig = z.infer<typeof ResFlowLogitConfig>

export function buildNse(spec: InputSpec, config: NseConfig, extras: BuildExtras = {}): Model {
  return buildResFlow(spec, { ...config, residual: 'none', nonIncreasing: false }, extras, 'nse')
}

export function buildResFlowLogit(spec: InputSpec, config: ResFlowLogitConfig, extras: BuildExtras = {}): Model {
  return buildResFlow(spec, { ...config, residual: 'logit' }, extras, 'resflow-logit')
}
