/**
 * Data-parallel training steps: N copies of the step graph, each on its own onnxruntime worker thread,
 * each run on a contiguous shard of the batch; their outputs are merged on the calling thread, in
 * shard order, into what one run on the whole batch returns (docs/parallel.md).
 *
 * Why the merge is the whole-batch step: every loss is a constant plus means over the batch rows
 * (nn/losses.ts, models/common.ts), so with shard k holding B_k of the B rows and weight w_k = B_k/B,
 * Σ_k w_k · mean_k = mean over B, and the same holds for every gradient (gradients are linear in the
 * loss). Summing in a fixed order (shard 0, 1, …, in float64, rounded once) makes the result the same
 * on every run for a given N. What differs from one run on the whole batch: float rounding, and
 * BatchNorm, which normalises each shard with the shard's own statistics (as PyTorch's DataParallel
 * does; a synchronised BatchNorm would need a barrier inside the one-graph step). The batch statistics
 * returned (for the running averages) are pooled into the whole batch's mean and biased variance.
 */
import { RuntimeError, ShapeError } from '../errors.js'
import type { Feed, Program } from '../engine/runtime.js'
import { isAfterName } from '../nn/graph-names.js'

type Outputs = Record<string, Float32Array | Float64Array>

/** A contiguous shard of a batch: rows [start, start + size), weight size / B. */
export interface Shard {
  start: number
  size: number
  weight: number
}

/**
 * Splits B rows into at most `workers` contiguous shards, sizes differing by at most one (the first
 * B mod N shards get the extra row); no empty shard (a batch smaller than N uses B workers).
 *
 * With `leader`, shard 0 is run by the calling thread, which also reads the batches and updates the
 * embedding rows: it gets half the rows of each other shard, ⌊B / (2N − 1)⌋ (at least 1), and the rest
 * are split evenly as above, so every thread has about the same work per step (docs/parallel.md).
 */
export function shardBatch(batch: number, workers: number, leader = false): Shard[] {
  const n = Math.max(1, Math.min(workers, batch))
  const first = leader && n > 1 ? Math.max(1, Math.floor(batch / (2 * n - 1))) : 0
  const rest = n - (first > 0 ? 1 : 0)
  const base = Math.floor((batch - first) / rest)
  const extra = (batch - first) % rest
  const sizes = first > 0 ? [first] : []
  for (let k = 0; k < rest; k++) sizes.push(base + (k < extra ? 1 : 0))
  const out: Shard[] = []
  let start = 0
  for (const size of sizes) {
    out.push({ start, size, weight: size / batch })
    start += size
  }
  return out
}

/** How each output of the step graph is merged over shards. */
export interface MergePlan {
  /** outputs that are means over the batch, or their gradients (the loss, dense and unique-row gradients): Σ w_k · x_k */
  averaged: readonly string[]
  /** gradients per batch row [B, …]: each shard's rows scaled by w_k, concatenated in shard order */
  rowGradients: readonly string[]
  /** values per batch row [B, …] (predictions): concatenated in shard order */
  rows: readonly string[]
  /** BatchNorm batch statistics [C]: pooled into the whole batch's mean and biased variance */
  moments: readonly { mean: string; variance: string }[]
}

/** Σ_k w_k · x_k in shard order, in float64 (JS numbers), rounded to float32 once. */
export function weightedSum(parts: readonly ArrayLike<number>[], weights: readonly number[]): Float32Array {
  const n = parts[0].length
  for (const p of parts) if (p.length !== n) throw new ShapeError(`weightedSum: parts of ${n} and ${p.length} values`)
  const out = new Float32Array(n)
  if (parts.length === 2) {
    // the common case in one pass (the same sum, in the same order, as the loop below)
    const [x, y] = parts as [ArrayLike<number>, ArrayLike<number>]
    const [wx, wy] = weights as [number, number]
    for (let i = 0; i < n; i++) out[i] = 0 + wx * x[i] + wy * y[i]
    return out
  }
  for (let i = 0; i < n; i++) {
    let acc = 0
    for (let k = 0; k < parts.length; k++) acc += weights[k] * parts[k][i]
    out[i] = acc
  }
  return out
}

/**
 * Pooled moments of the whole batch from the shards' means and biased variances:
 * mean = Σ w_k m_k,  var = Σ w_k (v_k + (m_k − mean)²).
 */
export function pooledMoments(
  means: readonly ArrayLike<number>[],
  variances: readonly ArrayLike<number>[],
  weights: readonly number[],
): { mean: Float32Array; variance: Float32Array } {
  const c = means[0].length
  const mean = new Float64Array(c)
  means.forEach((m, k) => {
    for (let i = 0; i < c; i++) mean[i] += weights[k] * m[i]
  })
  const variance = new Float64Array(c)
  variances.forEach((v, k) => {
    const m = means[k]
    for (let i = 0; i < c; i++) variance[i] += weights[k] * (v[i] + (m[i] - mean[i]) ** 2)
  })
  return { mean: Float32Array.from(mean), variance: Float32Array.from(variance) }
}

/** Time spent per phase (milliseconds, summed over steps), for the profile in docs/parallel.md. */
export interface ParallelProfile {
  steps: number
  /** from the first shard's start to the last shard's result */
  runMs: number
  /** merging the shards' outputs on the calling thread */
  mergeMs: number
}

/**
 * N step programs used as one: `run` has the Program's signature (whole-batch feeds and dims) and
 * returns whole-batch outputs. Inputs whose first dim is `B` are fed shard by shard (views, no copy:
 * the session's buffers are shared memory); the others (parameters, unique embedding rows) go to
 * every worker whole.
 */
export class DataParallelProgram {
  readonly profile: ParallelProfile = { steps: 0, runMs: 0, mergeMs: 0 }
  /** shards of the last step */
  private lastActive: number

  private readonly plan: MergePlan

  /**
   * `consumed`: outputs the programs' after-run work reads and does not send back (the dense
   * gradients, reduced by the workers themselves: train/parallel-dense.ts); left out of the merge.
   */
  /**
   * `leader`: programs[0] runs on the calling thread (its onnxruntime run blocks it) and takes the
   * smaller shard (shardBatch); the others run on worker threads.
   */
  constructor(
    private readonly programs: readonly Program[],
    plan: MergePlan,
    consumed: ReadonlySet<string> = new Set(),
    private readonly leader = false,
  ) {
    if (programs.length < 2) throw new RuntimeError('DataParallelProgram: needs at least 2 programs')
    this.lastActive = programs.length
    this.plan = {
      ...plan,
      averaged: plan.averaged.filter((n) => !consumed.has(n)),
      rowGradients: plan.rowGradients.filter((n) => !consumed.has(n)),
    }
  }

  get workers(): number {
    return this.programs.length
  }

  /**
   * Runs the shards. `afterArgs` (an object) goes to each worker's after-run work with the step's
   * shard weights added (`weights`, one per shard taking part).
   */
  async run(
    feeds: Readonly<Record<string, Feed>>,
    dims: Readonly<Record<string, number>>,
    afterArgs?: object,
  ): Promise<Outputs> {
    const batch = dims.B
    if (!batch || batch < 1) throw new ShapeError('DataParallelProgram.run: dims.B must be a positive batch size')
    const shards = shardBatch(batch, this.programs.length, this.leader)
    const args = afterArgs ? { ...afterArgs, weights: shards.map((s) => s.weight) } : undefined
    // workers left out of the last step (a batch smaller than N) did not wait at its end for the others'
    // after-run work (train/parallel-dense.ts): before they run again, that work must have finished
    if (shards.length > this.lastActive) await Promise.all(this.programs.slice(0, this.lastActive).map((p) => p.sync()))
    this.lastActive = shards.length
    const t0 = performance.now()
    // every worker's run is posted before the calling thread's own (a local run starts on a later turn of
    // the event loop and blocks it, waiting at the workers' barriers for the others)
    const parts = await Promise.all(
      shards.map((s, k) => {
        const program = this.programs[k]
        const shardFeeds: Record<string, Feed> = {}
        for (const io of program.inputs) {
          const data = feeds[io.name]
          if (!data) continue // Program.run names the missing feed
          if (io.shape[0] !== 'B') shardFeeds[io.name] = data
          else {
            const width = data.length / batch
            shardFeeds[io.name] = data.subarray(s.start * width, (s.start + s.size) * width) as Feed
          }
        }
        return program.run(shardFeeds, { ...dims, B: s.size }, args)
      }),
    )
    const t1 = performance.now()
    const out = this.merge(parts, shards)
    this.profile.steps++
    this.profile.runMs += t1 - t0
    this.profile.mergeMs += performance.now() - t1
    return out
  }

  private merge(parts: readonly Outputs[], shards: readonly Shard[]): Outputs {
    const weights = shards.map((s) => s.weight)
    const out: Outputs = {}
    const all = (name: string) =>
      parts.map((p) => {
        const v = p[name]
        if (!v) throw new RuntimeError(`DataParallelProgram: a shard returned no output "${name}"`)
        return v
      })
    for (const name of this.plan.averaged) out[name] = weightedSum(all(name), weights)
    // numbers the after-run work reports (the gradient norm) are the same on every worker
    for (const name of Object.keys(parts[0])) if (isAfterName(name)) out[name] = parts[0][name]
    const concat = (name: string, scaled: boolean) => {
      const xs = all(name)
      const total = xs.reduce((a, x) => a + x.length, 0)
      const dst = new Float32Array(total)
      let at = 0
      xs.forEach((x, k) => {
        if (scaled) {
          const w = weights[k]
          for (let i = 0; i < x.length; i++) dst[at + i] = w * x[i]
        } else dst.set(x, at)
        at += x.length
      })
      out[name] = dst
    }
    for (const name of this.plan.rowGradients) concat(name, true)
    for (const name of this.plan.rows) concat(name, false)
    for (const { mean, variance } of this.plan.moments) {
      const pooled = pooledMoments(all(mean), all(variance), weights)
      out[mean] = pooled.mean
      out[variance] = pooled.variance
    }
    return out
  }

  /** Resolves once every worker has finished its runs. */
  async sync(): Promise<void> {
    await Promise.all(this.programs.map((p) => p.sync()))
  }

  async release(): Promise<void> {
    await Promise.all(this.programs.map((p) => p.release()))
  }
}
