/**
 * A one-task model whose inputs take every lookup path of the training session: single-valued tables of two
 * dims (two lookup groups, one of them holding two tables), a mean-pooled multi-valued table on the packed
 * path, and a dense value. Used by the pipelined-training and data-parallel tests.
 */
import { concat, sigmoid } from '../../src/engine/ops.js'
import type { Batch, InputSpec } from '../../src/data/types.js'
import type { Model } from '../../src/models/types.js'
import { linear, mlp } from '../../src/nn/layers.js'
import { bceWithLogits } from '../../src/nn/losses.js'
import type { Rng } from './rng.js'

export const MIXED_SPEC: InputSpec = {
  sparse: [
    { name: 'a', vocabSize: 30 },
    { name: 'b', vocabSize: 500 },
    { name: 'c', vocabSize: 50 },
  ],
  multi: [{ name: 'm', vocabSize: 40, pooling: 'mean' }],
  dense: [{ name: 'x' }],
  tasks: ['y'],
}
const DIMS: Record<string, number> = { a: 4, b: 8, c: 4, m: 4 }

/** The model over MIXED_SPEC: a tower of `hidden` units, then one logit; `batchNorm` unset: the layers' default. */
export function mixedModel(opts: { hidden: number[]; dropout?: number; batchNorm?: boolean }): Model {
  const spec = MIXED_SPEC
  return {
    name: 'mix',
    tasks: ['y'],
    spec,
    embeddings: [
      ...spec.sparse.map((f) => ({ name: f.name, rows: f.vocabSize, dim: DIMS[f.name] })),
      ...spec.multi.map((f) => ({ name: f.name, rows: f.vocabSize, dim: DIMS[f.name], pooling: f.pooling })),
    ],
    forward(ctx, inputs) {
      const x = concat([...Object.values(inputs.embeddings), inputs.dense!], 1)
      const h = mlp(ctx, 'tower', x, opts.hidden, { dropout: opts.dropout, batchNorm: opts.batchNorm })
      const logit = linear(ctx, 'head', h[h.length - 1], 1)
      return { probs: { y: sigmoid(logit) }, logits: { y: logit } }
    },
    loss: (_ctx, out, labels) => bceWithLogits(out.logits.y, labels.y),
  }
}

/** A seeded batch of `size` rows over MIXED_SPEC: 0–2 ids per row in `m`, y = (a + b) mod 2. */
export function mixedBatch(rng: Rng, size: number): Batch {
  const sparse = Object.fromEntries(
    MIXED_SPEC.sparse.map((f) => [f.name, Int32Array.from({ length: size }, () => rng.int(f.vocabSize))]),
  )
  const offsets = new Int32Array(size + 1)
  const ids: number[] = []
  for (let i = 0; i < size; i++) {
    for (let k = rng.int(3); k > 0; k--) ids.push(rng.int(40))
    offsets[i + 1] = ids.length
  }
  const y = Float32Array.from({ length: size }, (_, i) => (sparse.a[i] + sparse.b[i]) % 2)
  return {
    size,
    sparse,
    multi: { m: { offsets, ids: Int32Array.from(ids) } },
    dense: Float32Array.from({ length: size }, () => rng.next()),
    labels: { y },
  }
}
