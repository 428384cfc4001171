/**
 * Parameter count of a model: trainable dense parameters (built once in a training graph, loss
 * included, so learned loss weights count) plus the embedding rows × width. Equals
 * TrainSession.parameterCount() without compiling anything.
 */
import { embeddingInputs } from '../nn/embedding.js'
import { BuildContext, ParamStore } from '../nn/params.js'
import type { Tensor } from '../engine/node.js'
import type { Model } from './types.js'

export function parameterCount(model: Model): { dense: number; embedding: number; total: number } {
  const params = new ParamStore(0)
  const ctx = new BuildContext(params, true, 'float32', model.layers)
  const embeddings = embeddingInputs(ctx, model.embeddings)
  const nDense = model.spec.dense.length
  const dense = nDense > 0 ? ctx.graph.input('dense', ['B', nDense]) : null
  const outputs = model.forward(ctx, { embeddings, dense })
  const labels: Record<string, Tensor> = {}
  for (const task of model.tasks) labels[task] = ctx.graph.input(`label.${task}`, ['B', 1])
  model.loss(ctx, outputs, labels)
  const denseCount = params.count()
  const embedding = model.embeddings.reduce((n, e) => n + e.rows * e.dim, 0)
  return { dense: denseCount, embedding, total: denseCount + embedding }
}
