/**
 * The issue-3 benchmark model, spelled out so the engine can be measured on its own:
 * 16 categorical fields × 16-dim embeddings (10^5-row tables) + 63 dense inputs → concat → BatchNorm,
 * two ResFlow towers Dense→PReLU→BatchNorm 128, 64 → 1 with hidden and logit residuals, BCE sum.
 * bench/pytorch/engine_bench.py builds the same model in PyTorch.
 */
import type { Tensor } from '../src/engine/node.js'
import { add, concat, sigmoid } from '../src/engine/ops.js'
import { Rng } from '../src/engine/rng.js'
import type { Batch, InputSpec } from '../src/data/types.js'
import { batchNorm, denseBlock, linear } from '../src/nn/layers.js'
import { bceWithLogits } from '../src/nn/losses.js'
import type { Model } from '../src/models/types.js'

export const FIELDS = 16
export const DIM = 16
export const ROWS = 100_000
export const DENSE = 63

export const benchSpec: InputSpec = {
  sparse: Array.from({ length: FIELDS }, (_, i) => ({ name: `c${i + 1}`, vocabSize: ROWS })),
  multi: [],
  dense: Array.from({ length: DENSE }, (_, i) => ({ name: `n${i + 1}` })),
  tasks: ['click', 'purchase'],
}

export function benchModel(): Model {
  return {
    name: 'bench-resflow',
    tasks: benchSpec.tasks,
    spec: benchSpec,
    embeddings: benchSpec.sparse.map((f) => ({ name: f.name, rows: f.vocabSize, dim: DIM })),
    forward(ctx, inputs) {
      const x = batchNorm(ctx, 'input.bn', concat([...Object.values(inputs.embeddings), inputs.dense!], 1)) // [B, 16·16+63]
      const logits: Record<string, Tensor> = {}
      const probs: Record<string, Tensor> = {}
      let prev: { hidden: Tensor[]; logit: Tensor } | null = null
      for (const task of benchSpec.tasks) {
        const hidden: Tensor[] = []
        let h = x
        ;[128, 64].forEach((units, l) => {
          const out = denseBlock(ctx, `${task}.${l}`, h, units) // h_l(k)
          hidden.push(out)
          h = prev ? add(out, prev.hidden[l]) : out // input of layer l+1: h_l(k) + h_l(k−1)
        })
        let z = linear(ctx, `${task}.logit`, h, 1)
        if (prev) z = add(z, prev.logit) // z_k = f_k + z_{k−1}
        logits[task] = z
        probs[task] = sigmoid(z)
        prev = { hidden, logit: z }
      }
      return { logits, probs }
    },
    loss(_ctx, out, labels) {
      return add(bceWithLogits(out.logits.click, labels.click), bceWithLogits(out.logits.purchase, labels.purchase))
    },
  }
}

/**
 * Random batches made once, so that data loading is not timed: ids uniform over the table (as
 * bench/pytorch/engine_bench.py's default; the worst case for sparse updates: ~2000 distinct rows
 * per field and batch), dense U[0, 1), click ~ Bernoulli(0.1), purchase only after a click.
 */
export function benchBatches(count: number, size: number, seed: number): Batch[] {
  const rng = new Rng(seed)
  return Array.from({ length: count }, () => {
    const sparse: Record<string, Int32Array> = {}
    for (const f of benchSpec.sparse) {
      const ids = new Int32Array(size)
      for (let i = 0; i < size; i++) ids[i] = rng.int(ROWS)
      sparse[f.name] = ids
    }
    const dense = new Float32Array(size * DENSE)
    for (let i = 0; i < dense.length; i++) dense[i] = rng.next()
    const click = new Float32Array(size)
    const purchase = new Float32Array(size)
    for (let i = 0; i < size; i++) {
      click[i] = rng.next() < 0.1 ? 1 : 0
      purchase[i] = click[i] && rng.next() < 0.2 ? 1 : 0
    }
    return { size, sparse, multi: {}, dense, labels: { click, purchase } }
  })
}
