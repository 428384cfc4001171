/** The models' public surface: the registry, the build entry points, and the helpers around them. */
export { MODELS, MODEL_NAMES, buildModel, getModel, isModelName, parseModelConfig } from './registry.js'
export type { BuildExtras, ModelConfig, ModelConfigInput, ModelEntry, ModelName } from './registry.js'
export { parameterCount } from './count.js'
export { positiveRates, resolveTaskGraph } from './task-graph.js'
export type { TaskNode, TaskOrder } from './task-graph.js'
export { CommonConfig } from './common.js'
export type { Model, ModelInputs, ModelOutputs } from './types.js'
