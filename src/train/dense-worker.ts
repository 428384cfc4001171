/**
 * The dense optimizer step, run on the onnxruntime worker thread right after each training step
 * (engine/runtime.ts, AfterRun): the worker posts the step's outputs back first, then updates the
 * dense parameters in shared memory while the main thread updates embedding rows, so the two
 * overlap instead of following each other. Parameters and Adam moments are SharedArrayBuffers
 * shared with the session's DenseOptimizer; the step number comes with each run.
 */
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type { AfterRun } from '../engine/runtime.js'
import { gradName } from '../nn/graph-names.js'
import type { ParamEntry } from '../nn/params.js'
import { DenseOptimizer, type DenseOptimizerConfig, gradientNorm } from './optim.js'

export interface DenseWorkerInit {
  config: DenseOptimizerConfig
  params: { name: string; values: Float32Array; m: Float32Array; v: Float32Array; decay: boolean }[]
}

/** What the session sends with each run. */
export interface DenseStepArgs {
  step: number
}

export function createAfterRun(init: DenseWorkerInit): AfterRun {
  const optimizer = new DenseOptimizer(init.config)
  optimizer.load({
    step: 0,
    m: Object.fromEntries(init.params.map((p) => [p.name, p.m])),
    v: Object.fromEntries(init.params.map((p) => [p.name, p.v])),
  })
  const params: ParamEntry[] = init.params.map((p) => ({
    name: p.name,
    shape: [p.values.length],
    values: p.values,
    trainable: true,
    decay: p.decay,
  }))
  const grads = (outputs: Readonly<Record<string, Float32Array>>) =>
    new Map(params.map((p) => [p.name, outputs[gradName(p.name)]]))
  let scale = 1
  return {
    consumes: new Set(params.map((p) => gradName(p.name))),
    report(outputs) {
      const norm = gradientNorm(grads(outputs).values())
      scale = optimizer.clipScale(norm)
      return { gradNorm: norm }
    },
    apply(outputs, args) {
      optimizer.update((args as DenseStepArgs).step, params, grads(outputs), scale)
    },
  }
}

/** The module's URL for the worker: compiled beside this file, or this source file when run through tsx. */
export function denseWorkerModule(): string {
  const js = new URL('./dense-worker.js', import.meta.url)
  return existsSync(fileURLToPath(js)) ? js.href : new URL('./dense-worker.ts', import.meta.url).href
}

/** The worker's init: the trainable parameters with their (shared) moments. */
export function denseWorkerInit(optimizer: DenseOptimizer, params: readonly ParamEntry[]): DenseWorkerInit {
  return {
    config: optimizer.config,
    params: params.map((p) => ({ name: p.name, values: p.values, ...optimizer.moments(p), decay: p.decay })),
  }
}
