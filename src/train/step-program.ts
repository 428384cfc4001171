/**
 * Compiling the training step graph into what runs it: one onnxruntime program (on a worker thread
 * that also runs the dense optimizer after each step, train/dense-worker.ts, or on the calling thread),
 * or N data-parallel programs merged as one (train/parallel.ts) whose workers reduce the dense
 * gradients and update the parameters themselves (train/parallel-dense.ts). Which one is chosen, and
 * whether the dense update then happens off the main thread, is decided here and nowhere else.
 */
import { compile } from '../engine/compile.js'
import type { Program } from '../engine/runtime.js'
import { ConfigError } from '../errors.js'
import { gradName } from '../nn/graph-names.js'
import type { ParamEntry } from '../nn/params.js'
import { denseWorkerInit, denseWorkerModule } from './dense-worker.js'
import type { DenseOptimizer } from './optim.js'
import { DataParallelProgram } from './parallel.js'
import { type ParallelDenseInit, parallelDenseBuffers, parallelDenseModule } from './parallel-dense.js'
import { type StepGraph, mergePlan } from './step-graph.js'

/** What runs the training step: one program, or N merged as one (train/parallel.ts). */
export type StepProgram = Pick<Program, 'run' | 'sync' | 'release'>

export interface StepProgramOptions {
  /** onnxruntime intra-op threads per program */
  threads?: number
  /** run the step on a worker thread (default true); must not be false with workers > 1 */
  workerThread?: boolean
  /** data-parallel workers, the calling thread included (default 1) */
  workers?: number
}

/**
 * The program of the step graph, and whether the dense optimizer step runs on its worker thread(s)
 * after each run (then the session only counts the step and reads `after.gradNorm`).
 */
export async function compileStepProgram(
  graph: StepGraph,
  trainable: readonly ParamEntry[],
  dense: DenseOptimizer,
  options: StepProgramOptions,
): Promise<{ program: StepProgram; denseOnWorker: boolean }> {
  const workers = options.workers ?? 1
  if (!Number.isInteger(workers) || workers < 1)
    throw new ConfigError(`workers must be a positive integer, got ${workers}`, { field: 'workers' })
  if (workers > 1 && options.workerThread === false)
    throw new ConfigError(
      'workers > 1 runs shards 1 to N − 1 on worker threads: it cannot be combined with workerThread: false',
      { field: 'workers' },
    )
  if (workers === 1) {
    const onWorker = options.workerThread ?? true
    const afterRun = onWorker ? { module: denseWorkerModule(), init: denseWorkerInit(dense, trainable) } : undefined
    return {
      program: await compile(graph.outputs, { threads: options.threads, worker: onWorker, afterRun }),
      denseOnWorker: onWorker,
    }
  }
  // N threads in all: the calling thread runs shard 0 itself (the smaller one: it also reads the batches and
  // updates the embedding rows), N − 1 worker threads the others. All N reduce the dense gradients and update
  // the parameters, each a slice (train/parallel-dense.ts); the calling thread also merges the rest.
  const shared = { ...denseWorkerInit(dense, trainable), workers, ...parallelDenseBuffers(trainable, workers) }
  const programs = await Promise.all(
    Array.from({ length: workers }, (_, worker) =>
      compile(graph.outputs, {
        threads: options.threads,
        worker: worker > 0,
        afterRun: { module: parallelDenseModule(), init: { ...shared, worker } satisfies ParallelDenseInit },
      }),
    ),
  )
  const consumed = new Set(graph.trainableNames.map(gradName))
  return {
    program: new DataParallelProgram(programs, mergePlan(graph.outputs), consumed, true),
    denseOnWorker: true,
  }
}
