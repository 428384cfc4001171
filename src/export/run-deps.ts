/**
 * How a run directory becomes a model and a codec: the registry rebuilds the model from the stored
 * config (with the training data's positive rates, which taskOrder 'auto' reads), and the stored
 * preprocessing gives the codec.
 */
import { type ModelConfigInput, buildModel } from '../models/registry.js'
import { codecOf } from './codec.js'
import type { RunDeps } from './predictor.js'

export const RUN_DEPS: RunDeps = {
  buildModel: (manifest, spec) =>
    buildModel(spec, { ...manifest.modelConfig, model: manifest.model } as ModelConfigInput, {
      positiveRates: manifest.positiveRates,
    }),
  codecOf,
}
