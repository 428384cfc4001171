/**
 * The two graphs a training session compiles: the training step (forward, loss, gradients of the dense
 * parameters and of the looked-up embeddings, BatchNorm batch statistics, probabilities) and the
 * forward-only inference graph. Kept apart from the session so that what the graph computes, and under
 * which names (nn/graph-names.ts), reads in one place; the session only feeds it and applies its outputs.
 */
import { gradients } from '../engine/autodiff.js'
import type { Tensor } from '../engine/node.js'
import { slice } from '../engine/ops.js'
import type { PackedLayout } from '../nn/embedding.js'
import {
  FEATURES_INPUT,
  LOSS_OUTPUT,
  gatheredName,
  gradName,
  isGradName,
  isStatName,
  labelName,
  probName,
  statMeanName,
  statPair,
  statVarName,
} from '../nn/graph-names.js'
import type { LookupGroup } from '../nn/lookup.js'
import { type BatchStat, BuildContext, type DropoutMask, type ParamStore } from '../nn/params.js'
import type { Model, ModelInputs } from '../models/types.js'
import type { MergePlan } from './parallel.js'

/** The training step graph and what the session needs to feed it and read it. */
export interface StepGraph {
  outputs: Record<string, Tensor>
  /** the dense parameters the step updates, in the graph's order */
  trainableNames: string[]
  batchStats: BatchStat[]
  dropouts: DropoutMask[]
  /** the graph returns the lookups' gradients summed per row (else per occurrence: `LookupGroup.sumOccurrences`) */
  sumRowsInGraph: boolean
}

/**
 * The model's inputs: single-valued features gathered in the graph per lookup group; multi-valued
 * (pooled) features and the dense values as column slices of the packed input `features` [B, W]
 * (absent when there are neither).
 */
function buildInputs(
  ctx: BuildContext,
  model: Model,
  layout: PackedLayout,
  groups: readonly LookupGroup[],
): { inputs: ModelInputs; features: Tensor | null; rows: Tensor[]; gathered: Tensor[] } {
  const looked: Record<string, Tensor> = {}
  const gathered: Tensor[] = []
  for (const g of groups) {
    const built = g.build(ctx)
    Object.assign(looked, built.vectors)
    gathered.push(built.gathered)
  }
  const features = layout.width > 0 ? ctx.graph.input(FEATURES_INPUT, ['B', layout.width]) : null
  const embeddings: Record<string, Tensor> = {}
  for (const e of model.embeddings) {
    embeddings[e.name] = e.pooling
      ? slice(features!, 1, layout.offsets[e.name], layout.offsets[e.name] + e.dim)
      : looked[e.name]
  }
  const dense =
    layout.denseWidth > 0 ? slice(features!, 1, layout.denseOffset, layout.denseOffset + layout.denseWidth) : null
  return {
    inputs: { embeddings, dense },
    features,
    rows: groups.map((g) => ctx.graph.inputs.get(g.rowsInput)!),
    gathered,
  }
}

/** The step graph's output holding a lookup group's row gradients: summed per row, or per occurrence. */
export function lookupGradName(group: LookupGroup, sumRowsInGraph: boolean): string {
  return gradName(sumRowsInGraph ? group.rowsInput : gatheredName(group.dim))
}

/**
 * The training step: loss and every gradient in one graph. `sumRowsInGraph`: the lookups' row
 * gradients are summed in the graph (ScatterND add), which is only safe on one onnxruntime thread.
 */
export function buildStepGraph(
  model: Model,
  params: ParamStore,
  layout: PackedLayout,
  groups: readonly LookupGroup[],
  sumRowsInGraph: boolean,
): StepGraph {
  const ctx = new BuildContext(params, true, 'float32', model.layers)
  const { inputs, features, rows, gathered } = buildInputs(ctx, model, layout, groups)
  const out = model.forward(ctx, inputs)
  const labels: Record<string, Tensor> = {}
  for (const task of model.tasks) labels[task] = ctx.graph.input(labelName(task), ['B', 1])
  const loss = model.loss(ctx, out, labels)
  const trainableNames = ctx.paramNames().filter((n) => params.entries.get(n)!.trainable)
  const pooled = model.embeddings.some((e) => e.pooling)
  const wrt = [
    ...trainableNames.map((n) => ctx.graph.inputs.get(n)!),
    ...(sumRowsInGraph ? rows : gathered),
    ...(pooled ? [features!] : []),
  ]
  const grads = gradients(loss, wrt)
  const outputs: Record<string, Tensor> = { [LOSS_OUTPUT]: loss }
  trainableNames.forEach((n, i) => (outputs[gradName(n)] = grads[i]))
  groups.forEach((g, i) => (outputs[lookupGradName(g, sumRowsInGraph)] = grads[trainableNames.length + i]))
  if (pooled) outputs[gradName(FEATURES_INPUT)] = grads[trainableNames.length + groups.length]
  for (const s of ctx.batchStats) {
    outputs[statMeanName(s.name)] = s.mean
    outputs[statVarName(s.name)] = s.variance
  }
  for (const task of model.tasks) outputs[probName(task)] = out.probs[task]
  return { outputs, trainableNames, batchStats: ctx.batchStats, dropouts: ctx.dropouts, sumRowsInGraph }
}

/** The inference graph: forward only, BatchNorm with running statistics, no dropout; outputs p.<task>. */
export function buildInferenceGraph(
  model: Model,
  params: ParamStore,
  layout: PackedLayout,
  groups: readonly LookupGroup[],
): Record<string, Tensor> {
  const ctx = new BuildContext(params, false, 'float32', model.layers)
  const out = model.forward(ctx, buildInputs(ctx, model, layout, groups).inputs)
  const probs: Record<string, Tensor> = {}
  for (const task of model.tasks) probs[probName(task)] = out.probs[task]
  return probs
}

/**
 * How the step graph's outputs merge over shards (train/parallel.ts): the loss and the gradients of
 * parameters and unique rows are weighted sums; per-row gradients (per occurrence, pooled features)
 * and predictions are concatenated; BatchNorm statistics are pooled.
 */
export function mergePlan(outputs: Readonly<Record<string, Tensor>>): MergePlan {
  const plan = {
    averaged: [] as string[],
    rowGradients: [] as string[],
    rows: [] as string[],
    moments: [] as { mean: string; variance: string }[],
  }
  for (const [name, t] of Object.entries(outputs)) {
    if (isStatName(name)) {
      const pair = statPair(name)
      if (pair) plan.moments.push(pair)
    } else if (t.shape[0] === 'B') (isGradName(name) ? plan.rowGradients : plan.rows).push(name)
    else plan.averaged.push(name)
  }
  return plan
}
