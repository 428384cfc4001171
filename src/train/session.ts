/**
 * A model compiled for training and inference. One ONNX model computes the whole training step
 * (forward, loss, gradients of dense parameters and of the looked-up embeddings, BatchNorm batch
 * statistics); a second, forward-only one predicts. Embedding tables live here in typed arrays:
 * single-valued features are looked up in the graph from the batch's unique rows (nn/lookup.ts),
 * multi-valued ones are pooled here into the packed input; sparse row updates happen here, dense
 * parameters are updated by our Adam/AdamW.
 */
import { gradients } from '../engine/autodiff.js'
import { compile } from '../engine/compile.js'
import type { Tensor } from '../engine/node.js'
import { Rng } from '../engine/rng.js'
import type { Feed, Program } from '../engine/runtime.js'
import type { Batch, MultiColumn } from '../data/types.js'
import { ConfigError, DataError } from '../errors.js'
import { EmbeddingTable, type PackedLayout, type SparseOptimizerConfig, packedLayout } from '../nn/embedding.js'
import { type LookupBatch, type LookupGroup, lookupGroups } from '../nn/lookup.js'
import { slice } from '../engine/ops.js'
import { BuildContext, type BatchStat, type DropoutMask, ParamStore } from '../nn/params.js'
import type { Model, ModelInputs } from '../models/types.js'
import { type DenseStepArgs, denseWorkerInit, denseWorkerModule } from './dense-worker.js'
import { DenseOptimizer, type DenseOptimizerConfig } from './optim.js'
import { DataParallelProgram, type MergePlan, type ParallelProfile } from './parallel.js'
import { type ParallelDenseInit, parallelDenseBuffers, parallelDenseModule } from './parallel-dense.js'

export interface SessionOptions {
  seed: number
  /** onnxruntime intra-op threads (default 1; see engine/runtime.ts) */
  threads?: number
  optimizer?: DenseOptimizerConfig
  sparseOptimizer?: SparseOptimizerConfig
  /** std of the normal initialiser of embedding rows */
  embeddingInitStd?: number
  /**
   * Run training steps on a worker thread (default true), so embedding updates overlap the step.
   * onnxruntime-node's run blocks its thread; see engine/runtime.ts.
   */
  workerThread?: boolean
  /**
   * Data-parallel workers (default 1): N onnxruntime worker threads, each running the step graph on
   * its shard of the batch, outputs merged in shard order (train/parallel.ts, docs/parallel.md); the
   * workers reduce the dense gradients and update the parameters themselves (train/parallel-dense.ts).
   */
  workers?: number
}

/** What runs the training step: one program, or N merged as one (train/parallel.ts). */
type StepProgram = Pick<Program, 'run' | 'sync' | 'release'>

export interface TrainingState {
  step: number
  rng: number
  dense: ReturnType<DenseOptimizer['state']>
  tableSteps: Record<string, number>
}

export interface StepResult {
  loss: number
  gradNorm: number
}

/**
 * Time of the training loop on the calling thread, in milliseconds summed over steps. While step t runs:
 * step t−1's deferred row updates (`deferredMs`), reading step t+1 (`readMs`: the source's batch, its
 * validated copy, unique rows, packed dense values, dropout masks); then waiting for step t's outputs
 * (`waitMs`; with workers > 1, their merge included); the dense update when it runs on this thread
 * (`denseMs`: workerThread false); the row updates step t+1 needs and its pooled gather (`rowsMs`).
 * Otherwise the dense update runs on the worker threads, overlapping `rowsMs` and the next step's
 * `deferredMs`.
 */
export interface StepProfile {
  steps: number
  deferredMs: number
  readMs: number
  /** the part of `readMs` spent in the batch source (shuffled rows gathered from the encoded data) */
  sourceMs: number
  waitMs: number
  denseMs: number
  rowsMs: number
}

/** Adds the time since `t` through `add`; returns now. */
function lap(t: number, add: (ms: number) => void): number {
  const now = performance.now()
  add(now - t)
  return now
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
  const features = layout.width > 0 ? ctx.graph.input('features', ['B', layout.width]) : null
  const embeddings: Record<string, Tensor> = {}
  for (const e of model.embeddings) {
    embeddings[e.name] = e.pooling ? slice(features!, 1, layout.offsets[e.name]!, layout.offsets[e.name]! + e.dim) : looked[e.name]!
  }
  const dense = layout.denseWidth > 0 ? slice(features!, 1, layout.denseOffset, layout.denseOffset + layout.denseWidth) : null
  return { inputs: { embeddings, dense }, features, rows: groups.map((g) => ctx.graph.inputs.get(g.rowsInput)!), gathered }
}

/** A batch read for training: its checked copy and its feeds. */
interface Prepared {
  batch: Batch
  feeds: Record<string, Feed>
  dims: Record<string, number>
  /** per lookup group (same order), the batch's unique rows */
  lookups: LookupBatch[]
}

export class TrainSession {
  private readonly rng: Rng
  private readonly buffers = new Map<string, Float32Array>()
  private readonly intBuffers = new Map<string, Int32Array>()
  step = 0

  private constructor(
    readonly model: Model,
    readonly params: ParamStore,
    readonly tables: Map<string, EmbeddingTable>,
    private readonly trainProgram: StepProgram,
    private readonly inferProgram: Program,
    private readonly trainableNames: string[],
    private readonly batchStats: BatchStat[],
    private readonly dropouts: DropoutMask[],
    private readonly layout: PackedLayout,
    private readonly groups: readonly LookupGroup[],
    readonly options: SessionOptions,
    readonly dense: DenseOptimizer,
    /** the dense optimizer step runs on the worker thread, after each training run */
    private readonly denseOnWorker: boolean,
    /** the graph returns the lookups' gradients summed per row (else per occurrence, summed here) */
    private readonly sumRowsInGraph: boolean,
  ) {
    this.rng = new Rng(options.seed ^ 0x5eed)
  }

  static async create(model: Model, options: SessionOptions): Promise<TrainSession> {
    const params = new ParamStore(options.seed)
    const sparse = options.sparseOptimizer ?? { kind: 'adam', lr: 1e-3 }
    const tables = new Map<string, EmbeddingTable>()
    model.embeddings.forEach((spec, i) => {
      tables.set(spec.name, new EmbeddingTable(spec, sparse, (options.seed * 7919 + i * 104729) >>> 0, options.embeddingInitStd ?? 0.01))
    })
    const groups = lookupGroups(tables)
    // training graph: loss and every gradient in one model
    const layout = packedLayout(model.embeddings.filter((e) => e.pooling), model.spec.dense.length)
    const tctx = new BuildContext(params, true, 'float32', model.layers)
    const { inputs: tin, features, rows, gathered } = buildInputs(tctx, model, layout, groups)
    const tout = model.forward(tctx, tin)
    const labels: Record<string, Tensor> = {}
    for (const task of model.tasks) labels[task] = tctx.graph.input(`label.${task}`, ['B', 1])
    const loss = model.loss(tctx, tout, labels)
    const trainableNames = tctx.paramNames().filter((n) => params.entries.get(n)!.trainable)
    const pooled = model.embeddings.some((e) => e.pooling)
    // the lookups' row gradients are summed in the graph (ScatterND add) on one onnxruntime thread; on
    // several, its kernel adds into shared rows without synchronisation, so the graph returns the
    // per-occurrence gradients and the session sums them (LookupGroup.sumOccurrences)
    const sumRowsInGraph = (options.threads ?? 1) <= 1
    const wrt = [...trainableNames.map((n) => tctx.graph.inputs.get(n)!), ...(sumRowsInGraph ? rows : gathered), ...(pooled ? [features!] : [])]
    const grads = gradients(loss, wrt)
    const outputs: Record<string, Tensor> = { loss }
    trainableNames.forEach((n, i) => (outputs[`grad.${n}`] = grads[i]!))
    groups.forEach((g, i) => (outputs[sumRowsInGraph ? `grad.${g.rowsInput}` : `grad.gathered.d${g.dim}`] = grads[trainableNames.length + i]!))
    if (pooled) outputs['grad.features'] = grads[trainableNames.length + groups.length]!
    for (const s of tctx.batchStats) {
      outputs[`stat.${s.name}.mean`] = s.mean
      outputs[`stat.${s.name}.var`] = s.variance
    }
    for (const task of model.tasks) outputs[`p.${task}`] = tout.probs[task]!
    const dense = new DenseOptimizer(options.optimizer ?? { kind: 'adam', lr: 1e-3 })
    const workers = options.workers ?? 1
    if (!Number.isInteger(workers) || workers < 1) throw new ConfigError(`workers must be a positive integer, got ${workers}`, { field: 'workers' })
    if (workers > 1 && options.workerThread === false) throw new ConfigError('workers > 1 runs each worker on its own thread: it cannot be combined with workerThread: false', { field: 'workers' })
    let trainProgram: StepProgram
    let onWorker: boolean
    if (workers === 1) {
      onWorker = options.workerThread ?? true
      const afterRun = onWorker ? { module: denseWorkerModule(), init: denseWorkerInit(dense, trainableNames.map((n) => params.entries.get(n)!)) } : undefined
      trainProgram = await compile(outputs, { threads: options.threads, worker: onWorker, afterRun })
    } else {
      // the workers reduce the dense gradients and update the parameters themselves, each a slice
      // (train/parallel-dense.ts); the main thread merges the rest and updates the embedding rows
      onWorker = true
      const trainable = trainableNames.map((n) => params.entries.get(n)!)
      const shared = { ...denseWorkerInit(dense, trainable), workers, ...parallelDenseBuffers(trainable, workers) }
      const programs = await Promise.all(
        Array.from({ length: workers }, (_, worker) =>
          compile(outputs, { threads: options.threads, worker: true, afterRun: { module: parallelDenseModule(), init: { ...shared, worker } satisfies ParallelDenseInit } }),
        ),
      )
      trainProgram = new DataParallelProgram(programs, mergePlan(outputs), new Set(trainableNames.map((n) => `grad.${n}`)))
    }

    // inference graph: forward only, BatchNorm with running statistics, no dropout
    const ictx = new BuildContext(params, false, 'float32', model.layers)
    const iout = model.forward(ictx, buildInputs(ictx, model, layout, groups).inputs)
    const probs: Record<string, Tensor> = {}
    for (const task of model.tasks) probs[`p.${task}`] = iout.probs[task]!
    const inferProgram = await compile(probs, { threads: options.threads })
    return new TrainSession(model, params, tables, trainProgram, inferProgram, trainableNames, tctx.batchStats, tctx.dropouts, layout, groups, options, dense, onWorker, sumRowsInGraph)
  }

  private buffer(key: string, size: number): Float32Array {
    let b = this.buffers.get(key)
    if (!b || b.length !== size) {
      b = new Float32Array(new SharedArrayBuffer(size * 4)) // shared: the worker thread reads it without a copy
      this.buffers.set(key, b)
    }
    return b
  }

  /** A batch's column for one table, checked: present and one row (or one list) per batch row. */
  private column(batch: Batch, name: string, table: EmbeddingTable): Int32Array | MultiColumn {
    if (table.spec.pooling) {
      const col = batch.multi[name]
      if (!col) throw new DataError(`batch has no multi-valued column "${name}"`, { field: name })
      if (col.offsets.length !== batch.size + 1) throw new DataError(`multi-valued column "${name}" has ${col.offsets.length - 1} rows, the batch has ${batch.size}`, { field: name })
      return col
    }
    const ids = batch.sparse[name]
    if (!ids) throw new DataError(`batch has no sparse column "${name}"`, { field: name })
    if (ids.length !== batch.size) throw new DataError(`sparse column "${name}" has ${ids.length} rows, the batch has ${batch.size}`, { field: name })
    return ids
  }

  /** A batch's label column for one task, checked. */
  private labelColumn(batch: Batch, task: string): Float32Array {
    const y = batch.labels[task]
    if (!y) throw new DataError(`batch has no label column "${task}"`, { field: task })
    if (y.length !== batch.size) throw new DataError(`label column "${task}" has ${y.length} rows, the batch has ${batch.size}`, { field: task })
    return y
  }

  /** Pools a batch's multi-valued features into their columns of the packed buffer. */
  private gatherPooled(batch: Batch, packed: Float32Array): void {
    const { width, offsets } = this.layout
    for (const [name, table] of this.tables) {
      if (table.spec.pooling) table.gatherPooled(this.column(batch, name, table) as MultiColumn, packed, width, offsets[name]!)
    }
  }

  /** A lookup group's buffers for one purpose (`prefix`), grown to the batch size. */
  private lookupBatch(prefix: string, i: number, size: number): LookupBatch {
    const key = `${prefix}${i}`
    let lb = this.lookupBuffers.get(key)
    if (!lb || lb.ids32.length < 2 * size * this.groups[i]!.names.length) {
      lb = this.groups[i]!.allocate(size)
      this.lookupBuffers.set(key, lb)
    }
    return lb
  }

  private readonly lookupBuffers = new Map<string, LookupBatch>()

  /**
   * Feeds common to both programs: each lookup group's unique rows and positions, the packed input
   * (pooled vectors, then dense values) and the parameters. Training (`mark`) keeps the unique rows
   * marked for the pipelined update and leaves the pooled vectors for later (gathered after the
   * previous step's update).
   */
  private feeds(batch: Batch, prefix: string, mark: boolean): Prepared {
    const dims: Record<string, number> = { B: batch.size }
    const feeds: Record<string, Feed> = {}
    const lookups: LookupBatch[] = []
    try {
      this.groups.forEach((g, i) => {
        const lb = this.lookupBatch(prefix, i, batch.size)
        g.prepare(g.names.map((name, k) => this.column(batch, name, g.tables[k]!) as Int32Array), lb, mark)
        lookups.push(lb)
        const f = g.feeds(lb, batch.size)
        feeds[g.rowsInput] = f.rows
        feeds[g.idsInput] = f.ids
        dims[g.uniqueDim] = lb.count
      })
      this.packedFeed(batch, prefix, mark, feeds)
    } catch (err) {
      // a bad batch must not leave the groups already prepared marked
      lookups.forEach((lb, i) => this.groups[i]!.unmark(lb))
      throw err
    }
    for (const e of this.params.entries.values()) feeds[e.name] = e.values
    return { batch, feeds, dims, lookups }
  }

  /** The packed input: pooled vectors (not when training: gathered after the previous step's update), then dense values. */
  private packedFeed(batch: Batch, prefix: string, training: boolean, feeds: Record<string, Feed>): void {
    const { width, denseOffset, denseWidth } = this.layout
    if (width > 0) {
      const packed = this.buffer(`${prefix}features`, batch.size * width)
      if (!training) this.gatherPooled(batch, packed)
      if (denseWidth > 0) {
        if (batch.dense.length !== batch.size * denseWidth) throw new DataError(`dense block has ${batch.dense.length} values, expected ${batch.size} rows × ${denseWidth} features`, { field: 'dense' })
        const src = batch.dense
        for (let b = 0; b < batch.size; b++) packed.set(src.subarray(b * denseWidth, (b + 1) * denseWidth), b * width + denseOffset)
      }
      feeds.features = packed
    }
  }

  /** Training feeds of a batch checked by `ownBatch`: lookups (marked), dense, labels, fresh dropout masks. */
  private trainFeeds(batch: Batch, prefix: string): Prepared {
    const prepared = this.feeds(batch, prefix, true)
    const feeds = prepared.feeds
    for (const task of this.model.tasks) feeds[`label.${task}`] = batch.labels[task]!
    for (const d of this.dropouts) {
      const size = batch.size * (d.shape.slice(1) as number[]).reduce((a, b) => a * b, 1)
      const mask = this.buffer(`${prefix}${d.name}`, size)
      this.rng.fillMask(mask, d.rate, 1 / (1 - d.rate))
      feeds[d.name] = mask
    }
    return prepared
  }

  /** One optimisation step on a batch. */
  async trainStep(batch: Batch): Promise<StepResult> {
    let result: StepResult = { loss: NaN, gradNorm: NaN }
    await this.trainBatches([batch], (r) => {
      result = r
    })
    return result
  }

  /**
   * Trains on a stream of batches, pipelined: while step t runs in onnxruntime, the JS side finishes
   * the embedding updates of step t−1 and gathers step t+1's rows; after step t, the rows that step
   * t+1 reads are updated first and re-gathered. The result equals running `trainStep` on each batch
   * in order, bit for bit. `onStep` may return false to stop early. Returns the number of steps.
   */
  async trainBatches(
    source: Iterable<Batch> | AsyncIterable<Batch>,
    onStep?: (result: StepResult, batch: Batch, step: number) => void | boolean | Promise<void | boolean>,
  ): Promise<number> {
    const iterator =
      Symbol.asyncIterator in source ? (source as AsyncIterable<Batch>)[Symbol.asyncIterator]() : (source as Iterable<Batch>)[Symbol.iterator]()
    let parity = 0
    // Each batch is validated and its ids and labels copied into buffers of its parity: the source may
    // reuse its buffers for the next batch, which is read while this one's step is still in flight.
    let exhausted = false
    const read = async (): Promise<Prepared | null> => {
      const t0 = performance.now()
      const r = await iterator.next()
      this.profile.sourceMs += performance.now() - t0
      if (r.done) {
        exhausted = true
        return null
      }
      return this.trainFeeds(this.ownBatch(r.value, `t${parity}.`), `t${parity}.`)
    }
    const applyDeferred = () => this.applyDeferred()
    const live: Prepared[] = []
    let steps = 0
    let failed = false
    try {
      let cur = await read()
      if (!cur) return 0
      live.push(cur)
      this.gatherPooled(cur.batch, cur.feeds.features as Float32Array)
      while (cur) {
        const prof = this.profile
        let t = performance.now()
        const running = this.trainProgram.run(cur.feeds, cur.dims, { step: this.dense.step + 1 } satisfies DenseStepArgs)
        // while step t runs: finish step t−1's other rows, then read step t+1 (its unique rows, marked).
        // A failure there is raised only after step t is fully applied, as step by step would.
        applyDeferred()
        this.groups.forEach((g, i) => g.unmark(cur!.lookups[i]!)) // step t's marks are not needed any more
        t = lap(t, (ms) => (prof.deferredMs += ms))
        parity ^= 1
        const rngBefore = this.rng.seedState
        let upcoming: Prepared | null = null
        let failure: unknown = null
        try {
          upcoming = await read()
          if (upcoming) live.push(upcoming)
        } catch (err) {
          failure = err
        }
        t = lap(t, (ms) => (prof.readMs += ms))
        const out = (await running) as Record<string, Float32Array>
        t = lap(t, (ms) => (prof.waitMs += ms))
        const loss = out.loss![0]!
        let gradNorm: number
        if (this.denseOnWorker) {
          // the worker is updating the dense parameters now; the next run starts after it has finished
          this.dense.step++
          gradNorm = out['after.gradNorm']![0]!
        } else {
          const grads = new Map<string, Float32Array>()
          for (const n of this.trainableNames) grads.set(n, out[`grad.${n}`]!)
          gradNorm = this.dense.apply(this.params.trainable(), grads)
        }
        t = lap(t, (ms) => (prof.denseMs += ms))
        this.updateRunningStats(out, cur.batch.size)
        // single-valued rows: those step t+1 reads now (and into its feed), the others while it runs
        this.deferred = this.groups.map((g, i) => {
          const lb = cur!.lookups[i]!
          const grad = this.sumRowsInGraph ? out[`grad.${g.rowsInput}`]! : g.sumOccurrences(lb, cur!.batch.size, out[`grad.gathered.d${g.dim}`]!)
          return { lb, grad, rows: g.applyStep(lb, grad, upcoming ? upcoming.lookups[i]! : null) }
        })
        const g = out['grad.features']
        const { width, offsets } = this.layout
        for (const [name, table] of this.tables) {
          if (table.spec.pooling) table.update(cur.batch.multi[name]!.ids, g!, cur.batch.multi[name]!.offsets, width, offsets[name]!)
        }
        // pooled vectors of step t+1 mix many rows: gathered once every table has step t's update
        if (upcoming) this.gatherPooled(upcoming.batch, upcoming.feeds.features as Float32Array)
        lap(t, (ms) => (prof.rowsMs += ms))
        prof.steps++
        live.shift()
        this.step++
        steps++
        if (failure !== null) throw failure
        const verdict = onStep ? await onStep({ loss, gradNorm }, cur.batch, this.step) : undefined
        if (verdict === false) {
          // the batch read ahead is dropped; its dropout masks are given back to the generator
          this.rng.seedState = rngBefore
          break
        }
        cur = upcoming
      }
    } catch (err) {
      failed = true
      throw err
    } finally {
      applyDeferred()
      for (const p of live) this.groups.forEach((g, i) => g.unmark(p.lookups[i]!))
      // the last dense update has landed before anything reads the parameters (a failure above wins)
      await this.trainProgram.sync().catch((err) => {
        if (!failed) throw err
      })
      if (!exhausted) await iterator.return?.() // stopped early or failed: let the source close what it holds
    }
    return steps
  }

  /** Where the training loop's time went on this thread, summed over steps (docs/parallel.md). */
  readonly profile: StepProfile = { steps: 0, deferredMs: 0, readMs: 0, sourceMs: 0, waitMs: 0, denseMs: 0, rowsMs: 0 }

  // rows of the last step not read by the next one: updated while the next step runs, or as soon as
  // anything else reads the tables (predict, trainingState)
  private deferred: { lb: LookupBatch; grad: Float32Array; rows: Int32Array }[] = []

  private applyDeferred(): void {
    this.deferred.forEach((d, i) => this.groups[i]!.applyDeferred(d.lb, d.grad, d.rows))
    this.deferred = []
  }

  /** A batch whose id, list and label columns are validated copies owned by the session. */
  private ownBatch(batch: Batch, prefix: string): Batch {
    const ints = (key: string, src: Int32Array): Int32Array => {
      let b = this.intBuffers.get(key)
      if (!b || b.length !== src.length) {
        b = new Int32Array(src.length)
        this.intBuffers.set(key, b)
      }
      b.set(src)
      return b
    }
    const sparse: Record<string, Int32Array> = {}
    const multi: Record<string, MultiColumn> = {}
    for (const [name, table] of this.tables) {
      const col = this.column(batch, name, table)
      if (col instanceof Int32Array) sparse[name] = ints(`${prefix}ids.${name}`, col)
      else multi[name] = { offsets: ints(`${prefix}off.${name}`, col.offsets), ids: ints(`${prefix}ids.${name}`, col.ids) }
    }
    const labels: Record<string, Float32Array> = {}
    for (const task of this.model.tasks) {
      const y = this.labelColumn(batch, task)
      const copy = this.buffer(`${prefix}label.${task}`, y.length)
      copy.set(y)
      labels[task] = copy
    }
    return { ...batch, sparse, multi, labels }
  }

  private updateRunningStats(out: Record<string, Float32Array>, batchSize: number): void {
    const unbias = batchSize > 1 ? batchSize / (batchSize - 1) : 1 // running variance is unbiased, as in PyTorch
    for (const s of this.batchStats) {
      const mean = out[`stat.${s.name}.mean`]!
      const variance = out[`stat.${s.name}.var`]!
      const rm = this.params.entries.get(`${s.name}.running_mean`)!.values
      const rv = this.params.entries.get(`${s.name}.running_var`)!.values
      for (let i = 0; i < rm.length; i++) {
        rm[i] = (1 - s.momentum) * rm[i]! + s.momentum * mean[i]!
        rv[i] = (1 - s.momentum) * rv[i]! + s.momentum * variance[i]! * unbias
      }
    }
  }

  /**
   * Task probabilities for a batch (inference mode), with the parameters as of the last finished step
   * (call it between training steps, e.g. from `onStep`, not concurrently with `trainBatches`).
   * Returned arrays are fresh copies.
   */
  async predict(batch: Batch): Promise<Record<string, Float32Array>> {
    // one prediction at a time: they share the packed input buffer
    const result = this.predictTail.then(async () => {
      await this.trainProgram.sync()
      this.applyDeferred()
      const { feeds, dims } = this.feeds(batch, 'i.', false)
      const out = await this.inferProgram.run(feeds, dims)
      const probs: Record<string, Float32Array> = {}
      for (const task of this.model.tasks) probs[task] = Float32Array.from(out[`p.${task}`]!)
      return probs
    })
    this.predictTail = result.catch(() => undefined)
    return result
  }

  private predictTail: Promise<unknown> = Promise.resolve()

  /**
   * Everything besides weights that a resumed run needs to continue exactly. Call it once
   * `trainBatches` / `trainStep` has resolved (not from `onStep`: the worker thread may still be
   * writing the dense optimizer's moments that this returns).
   */
  trainingState(): TrainingState {
    this.applyDeferred()
    return {
      step: this.step,
      rng: this.rng.seedState,
      dense: this.dense.state(),
      tableSteps: Object.fromEntries([...this.tables].map(([k, t]) => [k, t.step])),
    }
  }

  loadTrainingState(state: TrainingState): void {
    this.step = state.step
    this.rng.seedState = state.rng
    this.dense.load(state.dense)
    for (const [k, t] of this.tables) t.step = state.tableSteps[k] ?? 0
  }

  /** With workers > 1: time per phase of the parallel step so far (docs/parallel.md); else null. */
  get parallelProfile(): ParallelProfile | null {
    return this.trainProgram instanceof DataParallelProgram ? this.trainProgram.profile : null
  }

  /** Number of trainable scalars: dense parameters plus embedding rows. */
  parameterCount(): number {
    let n = this.params.count()
    for (const t of this.tables.values()) n += t.rows * t.spec.dim
    return n
  }

  async release(): Promise<void> {
    await this.trainProgram.release()
    await this.inferProgram.release()
  }
}

/**
 * How the step graph's outputs merge over shards: the loss and the gradients of parameters and unique
 * rows are weighted sums; per-row gradients (per occurrence, pooled features) and predictions are
 * concatenated; BatchNorm statistics are pooled.
 */
function mergePlan(outputs: Readonly<Record<string, Tensor>>): MergePlan {
  const plan = { averaged: [] as string[], rowGradients: [] as string[], rows: [] as string[], moments: [] as { mean: string; variance: string }[] }
  for (const [name, t] of Object.entries(outputs)) {
    if (name.startsWith('stat.')) {
      if (name.endsWith('.mean')) plan.moments.push({ mean: name, variance: `${name.slice(0, -'.mean'.length)}.var` })
    } else if (t.shape[0] === 'B') (name.startsWith('grad.') ? plan.rowGradients : plan.rows).push(name)
    else plan.averaged.push(name)
  }
  return plan
}

/** Loads weights saved by `saveWeights` into a session (dense parameters, buffers and tables). */
export function loadSessionWeights(session: TrainSession, weights: import('./checkpoint.js').WeightsFile): void {
  for (const [name, { values }] of weights.params) {
    const entry = session.params.entries.get(name)
    if (!entry) throw new DataError(`weights: parameter "${name}" does not exist in model "${session.model.name}"`, { field: name })
    if (entry.values.length !== values.length) throw new DataError(`weights: parameter "${name}" has ${values.length} values, the model expects ${entry.values.length}`, { field: name })
    entry.values.set(values)
  }
  for (const [name, table] of session.tables) {
    const state = weights.tableStates.get(name)
    const w = weights.tables.get(name)
    const expect = (got: readonly number[], rows: number, cols: number, what: string) => {
      if (got[0] !== rows || got[1] !== cols)
        throw new DataError(`weights: embedding table "${name}"${what ? ` ${what}` : ''} is [${got.join(', ')}], the model expects [${rows}, ${cols}]`, { field: name })
    }
    if (state) {
      expect(state.shape, table.rows, table.stride, 'with optimizer state')
      table.data.set(state.values)
    } else if (w) {
      expect(w.shape, table.rows, table.spec.dim, '')
      table.setWeights(w.values)
    } else throw new DataError(`weights: no embedding table "${name}"`, { field: name })
  }
}
