/**
 * The dense optimizer step of data-parallel training (train/parallel.ts), done by the workers
 * themselves: a reduce-scatter of the dense gradients and a sharded Adam (ZeRO-1's arrangement), so
 * neither the gradients' merge nor the update runs on the main thread.
 *
 * Each worker is an AfterRun (engine/runtime.ts) of its step program. After its shard's run it writes
 * its dense gradients into its slot of a shared buffer and waits at a barrier for the step's other
 * workers. Then worker k reduces slice k of the flattened parameters, Σ_j w_j · g_j in shard order in
 * float64 (the same sum as `weightedSum`), and adds up the slice's Σ g²; after a second barrier every
 * worker has the global gradient norm (partial sums added in shard order), which it reports with the
 * step's outputs. After posting them it runs Adam on its slice (parameters and moments are shared
 * memory) and waits at a third barrier, so no worker starts the next step before every slice is
 * updated. Only the workers that run a step take part in it (a batch smaller than N uses fewer; before
 * the next step, DataParallelProgram waits for them to finish, as the idle ones could not).
 */
import { RuntimeError } from '../errors.js'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type { AfterRun } from '../engine/runtime.js'
import { gradName } from '../nn/graph-names.js'
import type { ParamEntry } from '../nn/params.js'
import { DenseOptimizer, type DenseOptimizerConfig } from './optim.js'

export interface ParallelDenseInit {
  config: DenseOptimizerConfig
  /** the trainable parameters with their moments, all shared memory */
  params: { name: string; values: Float32Array; m: Float32Array; v: Float32Array; decay: boolean }[]
  /** this worker's index, and the number of workers */
  worker: number
  workers: number
  /** [workers × P] each worker's gradients, parameters flattened in order */
  slots: Float32Array
  /** [workers] each worker's Σ g² over its slice */
  partial: Float64Array
  /** [3] the barrier: arrivals, generation, and 1 once a participant's run has failed */
  control: Int32Array
}

/** What the session sends with each run: the optimizer step and the step's shard weights (their count is the number of workers taking part). */
export interface ParallelStepArgs {
  step: number
  weights: number[]
}

/** How long a worker waits at a barrier before giving up (another worker failed). */
const BARRIER_TIMEOUT_MS = 120_000

/** Shared buffers for `workers` workers over these parameters. */
export function parallelDenseBuffers(
  params: readonly Pick<ParamEntry, 'values'>[],
  workers: number,
): Pick<ParallelDenseInit, 'slots' | 'partial' | 'control'> {
  const total = params.reduce((a, p) => a + p.values.length, 0)
  return {
    slots: new Float32Array(new SharedArrayBuffer(Math.max(1, workers * total) * 4)),
    partial: new Float64Array(new SharedArrayBuffer(workers * 8)),
    control: new Int32Array(new SharedArrayBuffer(3 * 4)),
  }
}

/** The slice [lo, hi) of `total` values that worker k of n reduces and updates. */
export function sliceOf(total: number, k: number, n: number): { lo: number; hi: number } {
  return { lo: Math.floor((k * total) / n), hi: Math.floor(((k + 1) * total) / n) }
}

export function createAfterRun(init: ParallelDenseInit): AfterRun {
  const { worker: k, slots, partial, control } = init
  const offsets: number[] = []
  let total = 0
  for (const p of init.params) {
    offsets.push(total)
    total += p.values.length
  }
  const reduced = new Float32Array(total) // only this worker's slice is used

  // per number of workers taking part: this worker's pieces of the parameters, as entries of their own
  // (Adam is element-wise, so a piece updates exactly as its part of the whole tensor would)
  const pieces = new Map<
    number,
    { optimizer: DenseOptimizer; params: ParamEntry[]; grads: Map<string, Float32Array> }
  >()
  const piecesFor = (active: number) => {
    let got = pieces.get(active)
    if (got) return got
    const { lo, hi } = sliceOf(total, k, active)
    const params: ParamEntry[] = []
    const grads = new Map<string, Float32Array>()
    const m: Record<string, Float32Array> = {}
    const v: Record<string, Float32Array> = {}
    init.params.forEach((p, i) => {
      const a = Math.max(lo, offsets[i])
      const b = Math.min(hi, offsets[i] + p.values.length)
      if (a >= b) return
      const name = `${p.name}@${a - offsets[i]}`
      const from = a - offsets[i]
      const to = b - offsets[i]
      params.push({ name, shape: [to - from], values: p.values.subarray(from, to), trainable: true, decay: p.decay })
      grads.set(name, reduced.subarray(a, b))
      m[name] = p.m.subarray(from, to)
      v[name] = p.v.subarray(from, to)
    })
    const optimizer = new DenseOptimizer(init.config)
    optimizer.load({ step: 0, m, v })
    got = { optimizer, params, grads }
    pieces.set(active, got)
    return got
  }

  const barrier = (active: number) => {
    const generation = Atomics.load(control, 1)
    if (Atomics.add(control, 0, 1) === active - 1) {
      Atomics.store(control, 0, 0)
      Atomics.add(control, 1, 1)
      Atomics.notify(control, 1)
      return
    }
    const deadline = Date.now() + BARRIER_TIMEOUT_MS
    while (Atomics.load(control, 1) === generation) {
      // the main thread is one of the participants: it must not sit out the timeout for a run that failed
      if (Atomics.load(control, 2) !== 0)
        throw new RuntimeError(`data-parallel worker ${k}: another worker's run failed; this step is abandoned`)
      const left = deadline - Date.now()
      if (left <= 0)
        throw new RuntimeError(
          `data-parallel worker ${k}: waited ${BARRIER_TIMEOUT_MS / 1000} s for the step's other workers (did one fail?)`,
        )
      Atomics.wait(control, 1, generation, left)
    }
  }

  let scale = 1
  return {
    consumes: new Set(init.params.map((p) => gradName(p.name))),
    abort() {
      Atomics.store(control, 2, 1)
      Atomics.notify(control, 1) // wake whoever waits at a barrier: it sees the flag and stops
    },
    report(outputs, args) {
      const { weights } = args as ParallelStepArgs
      const active = weights.length
      init.params.forEach((p, i) => slots.set(outputs[gradName(p.name)], k * total + offsets[i]))
      barrier(active) // every worker's gradients are in their slots
      const { lo, hi } = sliceOf(total, k, active)
      let sq = 0
      for (let i = lo; i < hi; i++) {
        let acc = 0
        for (let j = 0; j < active; j++) acc += weights[j] * slots[j * total + i]
        reduced[i] = acc
        sq += reduced[i] * reduced[i]
      }
      partial[k] = sq
      barrier(active) // every slice's Σ g² is in
      let all = 0
      for (let j = 0; j < active; j++) all += partial[j]
      const norm = Math.sqrt(all)
      scale = piecesFor(active).optimizer.clipScale(norm)
      return { gradNorm: norm }
    },
    apply(_outputs, args) {
      const { step, weights } = args as ParallelStepArgs
      const { optimizer, params, grads } = piecesFor(weights.length)
      optimizer.update(step, params, grads, scale)
      barrier(weights.length) // every slice is updated before any worker reads the parameters again
    },
  }
}

/** The module's URL for the workers: compiled beside this file, or this source file when run through tsx. */
export function parallelDenseModule(): string {
  const js = new URL('./parallel-dense.js', import.meta.url)
  return existsSync(fileURLToPath(js)) ? js.href : new URL('./parallel-dense.ts', import.meta.url).href
}
