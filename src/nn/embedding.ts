/**
 * Embedding tables live in typed arrays on the JS side, not in the ONNX graph: tables of millions of
 * rows would otherwise be copied into every run. Each row stores its optimizer state beside its weights
 * ([w | m | v] for Adam, [w | acc] for Adagrad), so an update reads and writes one contiguous span.
 * Updates are lazy: only the rows a batch looked up are updated, with row-wise Adam or Adagrad and
 * optional L2 on those rows.
 *
 * Single-valued features are looked up inside the graph from the batch's unique rows (nn/lookup.ts,
 * which calls `applyGradient` per row). Multi-valued features are pooled here (`gatherPooled`) into the
 * packed input, and their per-occurrence gradients summed here (`update`).
 */
import type { Tensor } from '../engine/node.js'
import { Rng } from '../engine/rng.js'
import type { MultiColumn } from '../data/types.js'
import {
  type SparseOptimizerConfig,
  type SparseOptimizerSettings,
  sparseOptimizerSettings,
} from '../config/optimizers.js'
import type { BuildContext } from './params.js'

export interface EmbeddingSpec {
  /** the feature (and table) name */
  name: string
  rows: number
  dim: number
  /** multi-valued features are pooled; single-valued ones take one id per row */
  pooling?: 'sum' | 'mean'
}

/** Declares the looked-up vectors of each feature as graph inputs `emb.<feature>` [B, D]. */
export function embeddingInputs(ctx: BuildContext, specs: readonly EmbeddingSpec[]): Record<string, Tensor> {
  const out: Record<string, Tensor> = {}
  for (const s of specs) out[s.name] = ctx.graph.input(`emb.${s.name}`, ['B', s.dim])
  return out
}

/**
 * The packed layout used for training: one input `features` [B, W] holding every feature's looked-up
 * vector side by side, then the dense features. Models see per-feature column slices; a model that
 * concatenates them back in this order gets the packed input itself (concat of contiguous slices is
 * folded), so there is no Concat in the forward pass and one gradient output instead of one per field.
 */
export interface PackedLayout {
  width: number
  /** column offset of each feature's vector */
  offsets: Record<string, number>
  denseOffset: number
  denseWidth: number
}

export function packedLayout(specs: readonly EmbeddingSpec[], denseWidth: number): PackedLayout {
  const offsets: Record<string, number> = {}
  let w = 0
  for (const s of specs) {
    offsets[s.name] = w
    w += s.dim
  }
  return { width: w + denseWidth, offsets, denseOffset: w, denseWidth }
}

export type { SparseOptimizerConfig }

export class EmbeddingTable {
  readonly stride: number
  readonly data: Float32Array // [rows, stride]
  /** row → 1 + position in `update`'s unique list, 0 = untouched (made on first use: lookups inside the graph keep their own) */
  private slot: Int32Array | null = null
  private unique = new Int32Array(1024)
  private accum = new Float32Array(1024 * 16)
  /** optimizer steps taken (Adam's bias correction uses it) */
  step = 0
  /** the optimizer's settings, every default filled in (config/optimizers.ts) */
  readonly optimizer: SparseOptimizerSettings

  constructor(
    readonly spec: EmbeddingSpec,
    optimizer: SparseOptimizerConfig,
    seed: number,
    initStd = 0.01,
  ) {
    this.optimizer = sparseOptimizerSettings(optimizer)
    const d = spec.dim
    this.stride = this.optimizer.kind === 'adam' ? 3 * d : 2 * d
    this.data = new Float32Array(spec.rows * this.stride)
    const rng = new Rng(seed)
    const acc0 = this.optimizer.kind === 'adagrad' ? this.optimizer.initialAccumulator : 0
    for (let r = 0; r < spec.rows; r++) {
      const base = r * this.stride
      for (let j = 0; j < d; j++) this.data[base + j] = rng.normal() * initStd
      if (acc0) this.data.fill(acc0, base + d, base + 2 * d)
    }
  }

  get rows(): number {
    return this.spec.rows
  }

  /** Copy of row r's weights. */
  row(r: number): Float32Array {
    return this.data.slice(r * this.stride, r * this.stride + this.spec.dim)
  }

  /** Weights only, [rows, D] (for export). */
  weights(): Float32Array {
    const d = this.spec.dim
    const out = new Float32Array(this.rows * d)
    for (let r = 0; r < this.rows; r++) out.set(this.data.subarray(r * this.stride, r * this.stride + d), r * d)
    return out
  }

  /** Overwrites weights from [rows, D] (checkpoint restore); optimizer state is kept. */
  setWeights(w: Float32Array): void {
    const d = this.spec.dim
    for (let r = 0; r < this.rows; r++) this.data.set(w.subarray(r * d, r * d + d), r * this.stride)
  }

  /**
   * Looks up one id per row: out[b] = W[ids[b]]. `out` is [B, D], or the columns offset..offset+D of
   * a wider row-major [B, rowStride] buffer (the session packs all features into one input).
   */
  gather(ids: Int32Array, out: Float32Array, rowStride = this.spec.dim, offset = 0): void {
    const d = this.spec.dim
    const s = this.stride
    const data = this.data
    for (let b = 0; b < ids.length; b++) {
      const src = ids[b] * s
      const dst = b * rowStride + offset
      for (let j = 0; j < d; j++) out[dst + j] = data[src + j]
    }
  }

  /** Pools the ids of each row (sum or mean; an empty list gives zeros). */
  gatherPooled(col: MultiColumn, out: Float32Array, rowStride = this.spec.dim, offset = 0): void {
    const d = this.spec.dim
    const s = this.stride
    const data = this.data
    const mean = this.spec.pooling === 'mean'
    const rows = col.offsets.length - 1
    for (let b = 0; b < rows; b++) {
      const lo = col.offsets[b]
      const hi = col.offsets[b + 1]
      const dst = b * rowStride + offset
      out.fill(0, dst, dst + d)
      for (let k = lo; k < hi; k++) {
        const src = col.ids[k] * s
        for (let j = 0; j < d; j++) out[dst + j] += data[src + j]
      }
      if (mean && hi > lo) {
        const inv = 1 / (hi - lo)
        for (let j = 0; j < d; j++) out[dst + j] *= inv
      }
    }
  }

  /** Sums the per-occurrence gradients into one per touched row; returns the number of unique rows. */
  private accumulate(
    ids: Int32Array,
    grad: Float32Array,
    offsets: Int32Array | undefined,
    mean: boolean,
    rowStride: number,
    colOffset: number,
  ): number {
    const d = this.spec.dim
    const rowsOf = offsets ? offsets.length - 1 : ids.length
    const occurrences = offsets ? offsets[rowsOf] - offsets[0] : ids.length
    if (this.unique.length < occurrences) this.grow(occurrences) // at most one new row per occurrence
    const slot = (this.slot ??= new Int32Array(this.spec.rows))
    const unique = this.unique
    const accum = this.accum
    let n = 0
    for (let b = 0; b < rowsOf; b++) {
      const lo = offsets ? offsets[b] : b
      const hi = offsets ? offsets[b + 1] : b + 1
      const scale = mean && hi > lo ? 1 / (hi - lo) : 1
      const src = b * rowStride + colOffset
      for (let k = lo; k < hi; k++) {
        const r = ids[k]
        let pos = slot[r] - 1
        if (pos < 0) {
          pos = n++
          slot[r] = pos + 1
          unique[pos] = r
          const dst = pos * d
          if (scale === 1) for (let j = 0; j < d; j++) accum[dst + j] = grad[src + j]
          else for (let j = 0; j < d; j++) accum[dst + j] = grad[src + j] * scale
        } else {
          const dst = pos * d
          if (scale === 1) for (let j = 0; j < d; j++) accum[dst + j] += grad[src + j]
          else for (let j = 0; j < d; j++) accum[dst + j] += grad[src + j] * scale
        }
      }
    }
    return n
  }

  private grow(min: number): void {
    const size = Math.max(min, this.unique.length * 2)
    const u = new Int32Array(size)
    u.set(this.unique)
    this.unique = u
    const a = new Float32Array(size * this.spec.dim)
    a.set(this.accum)
    this.accum = a
  }

  /**
   * Applies d loss / d looked-up vectors ([B, D], or the columns colOffset..colOffset+D of a wider
   * [B, rowStride] buffer) to the touched rows only, advancing the optimizer step. Returns the number of rows.
   */
  update(ids: Int32Array, grad: Float32Array, offsets?: Int32Array, rowStride = this.spec.dim, colOffset = 0): number {
    const n = this.accumulate(ids, grad, offsets, this.spec.pooling === 'mean', rowStride, colOffset)
    this.step++
    const d = this.spec.dim
    const slot = this.slot!
    for (let u = 0; u < n; u++) {
      this.applyGradient(this.unique[u], this.accum, u * d)
      slot[this.unique[u]] = 0
    }
    return n
  }

  /** Advances the optimizer step (Adam's bias correction): once per training step, before its row updates. */
  advance(): void {
    this.step++
  }

  /**
   * The optimizer update of one row, given its gradient (summed over the row's occurrences in the
   * batch) at grad[at .. at+D). Lazy: only rows that were looked up are updated.
   */
  applyGradient(row: number, grad: Float32Array, at: number): void {
    const d = this.spec.dim
    const data = this.data
    const h = this.hyper()
    const w = row * this.stride
    if (h.adam) {
      const { b1, b2, lrT, epsT, l2 } = h
      const m = w + d
      const v = m + d
      for (let j = 0; j < d; j++) {
        const g = grad[at + j] + l2 * data[w + j]
        const mj = b1 * data[m + j] + (1 - b1) * g
        const vj = b2 * data[v + j] + (1 - b2) * g * g
        data[m + j] = mj
        data[v + j] = vj
        data[w + j] = data[w + j] - (lrT * mj) / (Math.sqrt(vj) + epsT)
      }
    } else {
      const { lr, eps, l2 } = h
      const a = w + d
      for (let j = 0; j < d; j++) {
        const g = grad[at + j] + l2 * data[w + j]
        const acc = data[a + j] + g * g
        data[a + j] = acc
        data[w + j] = data[w + j] - (lr * g) / (Math.sqrt(acc) + eps)
      }
    }
  }

  private hyperStep = -1
  private hyperCache = { adam: true, b1: 0.9, b2: 0.999, lr: 0, lrT: 0, eps: 0, epsT: 0, l2: 0 }
  /** The optimizer's constants for the current step (Adam's bias correction uses the global step, as PyTorch's SparseAdam). */
  private hyper() {
    if (this.hyperStep !== this.step) {
      const o = this.optimizer
      const { beta1: b1, beta2: b2, eps } = o
      const t = this.step
      this.hyperCache = {
        adam: o.kind === 'adam',
        b1,
        b2,
        lr: o.lr,
        eps,
        l2: o.l2,
        lrT: (o.lr * Math.sqrt(1 - b2 ** t)) / (1 - b1 ** t),
        epsT: eps * Math.sqrt(1 - b2 ** t),
      }
      this.hyperStep = t
    }
    return this.hyperCache
  }
}
