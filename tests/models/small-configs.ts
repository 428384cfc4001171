/**
 * The `_test` variant of every registered model: tiny towers so the whole suite runs in seconds.
 * Typed by ModelName, so a new registry entry fails to compile until it has one.
 */
import type { ModelName } from '../../src/models/registry.js'

const tiny = { embeddingDim: 4, towers: [16, 8] }
const moe = { embeddingDim: 4, towers: [8], expertUnits: [16] }

export const SMALL_CONFIGS: Record<ModelName, Record<string, unknown>> = {
  single: tiny,
  nse: tiny,
  'shared-bottom': { embeddingDim: 4, bottom: [16], towers: [8] },
  esmm: tiny,
  omoe: { ...moe, numExperts: 3 },
  mmoe: { ...moe, numExperts: 3 },
  ple: { ...moe, levels: 2, specificExperts: 1, sharedExperts: 1 },
  aitm: tiny,
  resflow: tiny,
  'resflow-logit': tiny,
  'resflow-twin': { ...tiny, vectorDim: 8 },
}
