/** A small one-task MLP model over embeddings + dense features, for engine and trainer tests. */
import type { Tensor } from '../../src/engine/node.js'
import { concat, sigmoid } from '../../src/engine/ops.js'
import type { Batch, InputSpec } from '../../src/data/types.js'
import { linear, mlp } from '../../src/nn/layers.js'
import { bceWithLogits } from '../../src/nn/losses.js'
import type { Model } from '../../src/models/types.js'
import { Rng } from './rng.js'

export function tinyModel(
  spec: InputSpec,
  opts: { hidden?: number[]; dim?: number; dropout?: number; batchNorm?: boolean } = {},
): Model {
  const dim = opts.dim ?? 4
  return {
    name: 'tiny',
    tasks: spec.tasks,
    spec,
    embeddings: [
      ...spec.sparse.map((f) => ({ name: f.name, rows: f.vocabSize, dim })),
      ...spec.multi.map((f) => ({ name: f.name, rows: f.vocabSize, dim, pooling: f.pooling })),
    ],
    forward(ctx, inputs) {
      const parts: Tensor[] = [...Object.values(inputs.embeddings)]
      if (inputs.dense) parts.push(inputs.dense)
      const x = parts.length === 1 ? parts[0] : concat(parts, 1)
      const hidden = mlp(ctx, 'tower', x, opts.hidden ?? [16, 8], { dropout: opts.dropout, batchNorm: opts.batchNorm })
      const probs: Record<string, Tensor> = {}
      const logits: Record<string, Tensor> = {}
      for (const task of spec.tasks) {
        logits[task] = linear(ctx, `head.${task}`, hidden[hidden.length - 1], 1)
        probs[task] = sigmoid(logits[task])
      }
      return { probs, logits }
    },
    loss(_ctx, outputs, labels) {
      const [first] = spec.tasks
      return bceWithLogits(outputs.logits[first], labels[first])
    },
  }
}

/**
 * A non-linear binary task: y = 1 when x0·x1 > 0 XOR-like, flipped by a categorical feature's parity,
 * with 5% label noise. Linear models cannot separate it; an MLP can.
 */
export function xorData(rows: number, seed: number, vocab = 50): { spec: InputSpec; batch: Batch } {
  const rng = new Rng(seed)
  const dense = new Float32Array(rows * 3)
  const cat = new Int32Array(rows)
  const y = new Float32Array(rows)
  for (let i = 0; i < rows; i++) {
    const a = rng.next() * 2 - 1
    const b = rng.next() * 2 - 1
    dense[i * 3] = a
    dense[i * 3 + 1] = b
    dense[i * 3 + 2] = rng.next()
    cat[i] = 1 + rng.int(vocab - 1)
    let label = a * b > 0 ? 1 : 0
    if (cat[i] % 5 === 0) label = 1 - label
    if (rng.next() < 0.05) label = 1 - label
    y[i] = label
  }
  const spec: InputSpec = {
    sparse: [{ name: 'cat', vocabSize: vocab }],
    multi: [],
    dense: [{ name: 'a' }, { name: 'b' }, { name: 'c' }],
    tasks: ['y'],
  }
  return { spec, batch: { size: rows, sparse: { cat }, multi: {}, dense, labels: { y } } }
}

/** Rows [start, end) of a batch, as views. */
export function sliceBatch(b: Batch, start: number, end: number): Batch {
  const nd = b.dense.length / b.size
  const sparse: Record<string, Int32Array> = {}
  for (const [k, v] of Object.entries(b.sparse)) sparse[k] = v.subarray(start, end)
  const labels: Record<string, Float32Array> = {}
  for (const [k, v] of Object.entries(b.labels)) labels[k] = v.subarray(start, end)
  return { size: end - start, sparse, multi: {}, dense: b.dense.subarray(start * nd, end * nd), labels }
}
