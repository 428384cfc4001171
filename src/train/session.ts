/**
 * A model compiled for training and inference, and the pipelined training loop. The two graphs are
 * built in train/step-graph.ts and compiled in train/step-program.ts; a batch becomes their feeds in
 * train/step-feeds.ts. What lives here is the step itself: embedding tables in typed arrays
 * (single-valued features looked up in the graph from the batch's unique rows, nn/lookup.ts;
 * multi-valued ones pooled into the packed input), their sparse row updates, overlapped with the next
 * step; the dense update by our Adam/AdamW (on the worker thread(s) after each run, or here); the
 * BatchNorm running statistics; predictions; the state a resumed run needs.
 */
import { compile } from '../engine/compile.js'
import { Rng } from '../engine/rng.js'
import type { Program } from '../engine/runtime.js'
import type { Batch } from '../data/types.js'
import { EmbeddingTable, type PackedLayout, type SparseOptimizerConfig, packedLayout } from '../nn/embedding.js'
import {
  FEATURES_INPUT,
  LOSS_OUTPUT,
  afterName,
  gradName,
  probName,
  runningMeanName,
  runningVarName,
  statMeanName,
  statVarName,
} from '../nn/graph-names.js'
import { type LookupBatch, type LookupGroup, lookupGroups } from '../nn/lookup.js'
import { ParamStore } from '../nn/params.js'
import type { Model } from '../models/types.js'
import type { DenseStepArgs } from './dense-worker.js'
import { DenseOptimizer, type DenseOptimizerConfig } from './optim.js'
import { DataParallelProgram, type ParallelProfile } from './parallel.js'
import { type Prepared, StepFeeds } from './step-feeds.js'
import { type StepGraph, buildInferenceGraph, buildStepGraph, lookupGradName } from './step-graph.js'
import { type StepProfile, lap, newStepProfile } from './step-profile.js'
import { type StepProgram, compileStepProgram } from './step-program.js'

export type { StepProfile } from './step-profile.js'
// loading saved weights into a session (its own file; re-exported for the callers that import it from here)

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
   * Data-parallel workers (default 1): N threads, each running the step graph on its shard of the batch
   * (with N > 1 this thread runs the smallest shard itself, N − 1 worker threads the others), outputs merged
   * in shard order (train/parallel.ts, docs/parallel.md); they reduce the dense gradients and update the
   * parameters themselves (train/parallel-dense.ts).
   */
  workers?: number
}

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

/** What `TrainSession.create` assembles. */
interface SessionParts {
  model: Model
  params: ParamStore
  tables: Map<string, EmbeddingTable>
  groups: readonly LookupGroup[]
  layout: PackedLayout
  /** the training step graph's bookkeeping (its outputs are compiled into `trainProgram`) */
  graph: StepGraph
  trainProgram: StepProgram
  inferProgram: Program
  options: SessionOptions
  dense: DenseOptimizer
  /** the dense optimizer step runs on the worker thread(s), after each training run */
  denseOnWorker: boolean
}

export class TrainSession {
  readonly model: Model
  readonly params: ParamStore
  readonly tables: Map<string, EmbeddingTable>
  readonly options: SessionOptions
  readonly dense: DenseOptimizer
  step = 0
  private readonly rng: Rng
  private readonly feeds: StepFeeds
  private readonly parts: SessionParts

  private constructor(parts: SessionParts) {
    this.parts = parts
    this.model = parts.model
    this.params = parts.params
    this.tables = parts.tables
    this.options = parts.options
    this.dense = parts.dense
    this.rng = new Rng(parts.options.seed ^ 0x5eed)
    const { model, params, tables, groups, layout } = parts
    this.feeds = new StepFeeds({ model, params, tables, groups, layout, dropouts: parts.graph.dropouts, rng: this.rng })
  }

  static async create(model: Model, options: SessionOptions): Promise<TrainSession> {
    const params = new ParamStore(options.seed)
    const sparse = options.sparseOptimizer ?? {}
    const tables = new Map<string, EmbeddingTable>()
    model.embeddings.forEach((spec, i) => {
      tables.set(
        spec.name,
        new EmbeddingTable(spec, sparse, (options.seed * 7919 + i * 104729) >>> 0, options.embeddingInitStd ?? 0.01),
      )
    })
    const groups = lookupGroups(tables)
    const layout = packedLayout(
      model.embeddings.filter((e) => e.pooling),
      model.spec.dense.length,
    )
    // the lookups' row gradients are summed in the graph (ScatterND add) on one onnxruntime thread; on
    // several, its kernel adds into shared rows without synchronisation, so the graph returns the
    // per-occurrence gradients and the session sums them (LookupGroup.sumOccurrences)
    const sumRowsInGraph = (options.threads ?? 1) <= 1
    const graph = buildStepGraph(model, params, layout, groups, sumRowsInGraph)
    const dense = new DenseOptimizer(options.optimizer)
    const trainable = graph.trainableNames.map((n) => params.entries.get(n)!)
    const { program: trainProgram, denseOnWorker } = await compileStepProgram(graph, trainable, dense, options)
    const inferProgram = await compile(buildInferenceGraph(model, params, layout, groups), { threads: options.threads })
    return new TrainSession({
      model,
      params,
      tables,
      groups,
      layout,
      graph,
      trainProgram,
      inferProgram,
      options,
      dense,
      denseOnWorker,
    })
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
    // biome-ignore lint/suspicious/noConfusingVoidType: a callback may return nothing, or false to stop
    onStep?: (result: StepResult, batch: Batch, step: number) => void | boolean | Promise<void | boolean>,
  ): Promise<number> {
    const iterator =
      Symbol.asyncIterator in source
        ? (source as AsyncIterable<Batch>)[Symbol.asyncIterator]()
        : (source as Iterable<Batch>)[Symbol.iterator]()
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
      return this.feeds.trainFeeds(r.value, `t${parity}.`)
    }
    const applyDeferred = () => this.applyDeferred()
    const live: Prepared[] = []
    let steps = 0
    let failed = false
    const { groups, graph, trainProgram } = this.parts
    try {
      let cur = await read()
      if (!cur) return 0
      live.push(cur)
      this.feeds.gatherPooled(cur)
      while (cur) {
        const prof = this.profile
        let t = performance.now()
        const running = trainProgram.run(cur.feeds, cur.dims, { step: this.dense.step + 1 } satisfies DenseStepArgs)
        // while step t runs: finish step t−1's other rows, then read step t+1 (its unique rows, marked).
        // A failure there is raised only after step t is fully applied, as step by step would.
        applyDeferred()
        groups.forEach((g, i) => g.unmark(cur!.lookups[i])) // step t's marks are not needed any more
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
        const loss = out[LOSS_OUTPUT][0]
        let gradNorm: number
        if (this.parts.denseOnWorker) {
          // the worker is updating the dense parameters now; the next run starts after it has finished
          this.dense.step++
          gradNorm = out[afterName('gradNorm')][0]
        } else {
          const grads = new Map<string, Float32Array>()
          for (const n of graph.trainableNames) grads.set(n, out[gradName(n)])
          gradNorm = this.dense.apply(this.params.trainable(), grads)
        }
        t = lap(t, (ms) => (prof.denseMs += ms))
        this.updateRunningStats(out, cur.batch.size)
        // single-valued rows: those step t+1 reads now (and into its feed), the others while it runs
        this.deferred = groups.map((g, i) => {
          const lb = cur!.lookups[i]
          const rowGrad = out[lookupGradName(g, graph.sumRowsInGraph)]
          const grad = graph.sumRowsInGraph ? rowGrad : g.sumOccurrences(lb, cur!.batch.size, rowGrad)
          return { lb, grad, rows: g.applyStep(lb, grad, upcoming ? upcoming.lookups[i] : null) }
        })
        const g = out[gradName(FEATURES_INPUT)]
        const { width, offsets } = this.parts.layout
        for (const [name, table] of this.tables) {
          if (table.spec.pooling)
            table.update(cur.batch.multi[name].ids, g, cur.batch.multi[name].offsets, width, offsets[name])
        }
        // pooled vectors of step t+1 mix many rows: gathered once every table has step t's update
        if (upcoming) this.feeds.gatherPooled(upcoming)
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
      for (const p of live) groups.forEach((g, i) => g.unmark(p.lookups[i]))
      // the last dense update has landed before anything reads the parameters (a failure above wins)
      await trainProgram.sync().catch((err) => {
        if (!failed) throw err
      })
      if (!exhausted) await iterator.return?.() // stopped early or failed: let the source close what it holds
    }
    return steps
  }

  /** Where the training loop's time went on this thread, summed over steps (docs/parallel.md). */
  readonly profile: StepProfile = newStepProfile()

  // rows of the last step not read by the next one: updated while the next step runs, or as soon as
  // anything else reads the tables (predict, trainingState)
  private deferred: { lb: LookupBatch; grad: Float32Array; rows: Int32Array }[] = []

  private applyDeferred(): void {
    this.deferred.forEach((d, i) => this.parts.groups[i].applyDeferred(d.lb, d.grad, d.rows))
    this.deferred = []
  }

  private updateRunningStats(out: Record<string, Float32Array>, batchSize: number): void {
    const unbias = batchSize > 1 ? batchSize / (batchSize - 1) : 1 // running variance is unbiased, as in PyTorch
    for (const s of this.parts.graph.batchStats) {
      const mean = out[statMeanName(s.name)]
      const variance = out[statVarName(s.name)]
      const rm = this.params.entries.get(runningMeanName(s.name))!.values
      const rv = this.params.entries.get(runningVarName(s.name))!.values
      for (let i = 0; i < rm.length; i++) {
        rm[i] = (1 - s.momentum) * rm[i] + s.momentum * mean[i]
        rv[i] = (1 - s.momentum) * rv[i] + s.momentum * variance[i] * unbias
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
      await this.parts.trainProgram.sync()
      this.applyDeferred()
      const { feeds, dims } = this.feeds.inferFeeds(batch)
      const out = await this.parts.inferProgram.run(feeds, dims)
      const probs: Record<string, Float32Array> = {}
      for (const task of this.model.tasks) probs[task] = Float32Array.from(out[probName(task)])
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
    const program = this.parts.trainProgram
    return program instanceof DataParallelProgram ? program.profile : null
  }

  /** Number of trainable scalars: dense parameters plus embedding rows. */
  parameterCount(): number {
    let n = this.params.count()
    for (const t of this.tables.values()) n += t.rows * t.spec.dim
    return n
  }

  async release(): Promise<void> {
    await this.parts.trainProgram.release()
    await this.parts.inferProgram.release()
  }
}
