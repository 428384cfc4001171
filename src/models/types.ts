/**
 * The Model interface: what every registered model provides, and all that training, evaluation and
 * export need. A model builds its forward graph from looked-up embeddings and dense features, and owns
 * its loss, so generic code never asks which model it holds.
 */
import type { Tensor } from '../engine/node.js'
import type { InputSpec } from '../data/types.js'
import type { EmbeddingSpec } from '../nn/embedding.js'
import type { BuildContext, LayerOptions } from '../nn/params.js'

export interface ModelInputs {
  /** looked-up (pooled) vectors per feature, each [B, D] */
  embeddings: Record<string, Tensor>
  /** dense features [B, nDense], or null when the spec has none */
  dense: Tensor | null
}

export interface ModelOutputs {
  /** per task, in funnel order: the probability [B, 1] */
  probs: Record<string, Tensor>
  /** per task: the logit [B, 1] where the model has one (ESMM's CTCVR, a product, does not) */
  logits: Record<string, Tensor>
  /** extra named tensors a model wants returned (e.g. twin-tower user/item vectors) */
  extras?: Record<string, Tensor>
}

export interface Model {
  /** registry name, e.g. "resflow" */
  readonly name: string
  /** task names in funnel order */
  readonly tasks: readonly string[]
  readonly spec: InputSpec
  /** the embedding tables the model looks up */
  readonly embeddings: readonly EmbeddingSpec[]
  /** how its dense layers are initialised and shaped (default DEFAULT_LAYERS) */
  readonly layers?: LayerOptions
  /** builds the forward graph (training or inference, per ctx.training) */
  forward(ctx: BuildContext, inputs: ModelInputs): ModelOutputs
  /** scalar loss from the outputs and the labels ([B, 1] per task) */
  loss(ctx: BuildContext, outputs: ModelOutputs, labels: Record<string, Tensor>): Tensor
}
