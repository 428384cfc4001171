/**
 * Runs a model's graph directly (no trainer): build with a ParamStore, feed looked-up embeddings from
 * seeded tables, return every output as arrays. Lets wiring tests change one parameter and look.
 */
import { gradients } from '../../src/engine/autodiff.js'
import { compile } from '../../src/engine/compile.js'
import type { Tensor } from '../../src/engine/node.js'
import type { Batch } from '../../src/data/types.js'
import { EmbeddingTable, embeddingInputs } from '../../src/nn/embedding.js'
import { BuildContext, ParamStore } from '../../src/nn/params.js'
import type { Model, ModelOutputs } from '../../src/models/types.js'

export interface Run {
  outputs: Record<string, Float32Array>
  shapes: Record<string, readonly (number | string)[]>
}

function feeds(model: Model, params: ParamStore, batch: Batch, seed: number): Record<string, Float32Array> {
  const out: Record<string, Float32Array> = {}
  model.embeddings.forEach((spec, i) => {
    const table = new EmbeddingTable(spec, { kind: 'adam', lr: 0 }, seed + i, 0.5)
    const vectors = new Float32Array(batch.size * spec.dim)
    if (spec.pooling) table.gatherPooled(batch.multi[spec.name], vectors)
    else table.gather(batch.sparse[spec.name], vectors)
    out[`emb.${spec.name}`] = vectors
  })
  if (model.spec.dense.length) out.dense = batch.dense
  for (const e of params.entries.values()) out[e.name] = e.values
  for (const t of model.tasks) out[`label.${t}`] = batch.labels[t]
  return out
}

function build(model: Model, params: ParamStore, training: boolean) {
  const ctx = new BuildContext(params, training, 'float32', model.layers)
  const embeddings = embeddingInputs(ctx, model.embeddings)
  const dense = model.spec.dense.length ? ctx.graph.input('dense', ['B', model.spec.dense.length]) : null
  const out = model.forward(ctx, { embeddings, dense })
  return { ctx, out }
}

function named(out: ModelOutputs): Record<string, Tensor> {
  const all: Record<string, Tensor> = {}
  for (const [k, t] of Object.entries(out.probs)) all[`p.${k}`] = t
  for (const [k, t] of Object.entries(out.logits)) all[`z.${k}`] = t
  for (const [k, t] of Object.entries(out.extras ?? {})) all[`x.${k}`] = t
  return all
}

/** Inference-mode forward pass (BatchNorm running statistics). */
export async function runForward(model: Model, params: ParamStore, batch: Batch, seed = 1): Promise<Run> {
  const { out } = build(model, params, false)
  const tensors = named(out)
  const program = await compile(tensors)
  const result = (await program.run(feeds(model, params, batch, seed), { B: batch.size })) as Record<
    string,
    Float32Array
  >
  await program.release()
  return { outputs: result, shapes: Object.fromEntries(Object.entries(tensors).map(([k, t]) => [k, t.shape])) }
}

/** Training-mode loss and its gradient with respect to each named parameter. */
export async function runGradients(
  model: Model,
  params: ParamStore,
  batch: Batch,
  seed = 1,
): Promise<{ loss: number; grads: Record<string, Float32Array>; outputs: Record<string, Float32Array> }> {
  const { ctx, out } = build(model, params, true)
  const labels: Record<string, Tensor> = {}
  for (const t of model.tasks) labels[t] = ctx.graph.input(`label.${t}`, ['B', 1])
  const loss = model.loss(ctx, out, labels)
  const names = ctx.paramNames().filter((n) => params.entries.get(n)!.trainable)
  const grads = gradients(
    loss,
    names.map((n) => ctx.graph.inputs.get(n)!),
  )
  const outputs: Record<string, Tensor> = { loss, ...named(out) }
  names.forEach((n, i) => (outputs[`g.${n}`] = grads[i]))
  const program = await compile(outputs)
  const r = (await program.run(feeds(model, params, batch, seed), { B: batch.size })) as Record<string, Float32Array>
  await program.release()
  return { loss: r.loss[0], grads: Object.fromEntries(names.map((n) => [n, r[`g.${n}`]])), outputs: r }
}

/** Fresh parameters for a model (created by one build). */
export function paramsFor(model: Model, seed = 3): ParamStore {
  const params = new ParamStore(seed)
  build(model, params, false)
  build(model, params, true)
  return params
}
