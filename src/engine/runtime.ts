/**
 * Runs compiled graphs with onnxruntime-node on the CPU.
 *
 * Measured on this 2-core machine (issue 3): onnxruntime's thread spinning slows every step, so it is
 * off; one intra-op thread is the default since a second one did not speed up `run` for our sizes.
 * `run` is asynchronous: the caller may do embedding work in JS while a step runs.
 */
import { RuntimeError, ShapeError } from '../errors.js'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { Worker } from 'node:worker_threads'
import * as ort from 'onnxruntime-node'
import type { DType, Shape } from './node.js'

export interface RuntimeOptions {
  /** intra-op threads for onnxruntime (default 1) */
  threads?: number
  /**
   * Run the session on a worker thread (default false). onnxruntime-node's `run` blocks the calling
   * thread; on a worker, the main thread can do embedding work while a training step runs.
   */
  worker?: boolean
  /** execution providers, default ['cpu']; users with a GPU may pass ['cuda', 'cpu'] */
  providers?: string[]
  /** work done after each run (see AfterRun): on the worker thread, or with `worker: false` on this one */
  afterRun?: AfterRunSpec
}

/**
 * Work a worker-thread program does after each run, on shared memory, in two parts: `report` runs
 * before the outputs are posted back (its numbers are added to them), `apply` right after, so it
 * overlaps whatever the main thread does with the outputs. The next run starts only after `apply`
 * has finished (the worker handles one message at a time). The training session uses it for the
 * dense optimizer step (train/dense-worker.ts).
 */
export interface AfterRun {
  /** outputs only the after-run work reads: they are not sent back to the main thread */
  readonly consumes: ReadonlySet<string>
  report(outputs: Readonly<Record<string, Float32Array>>, args: unknown): Record<string, number>
  apply(outputs: Readonly<Record<string, Float32Array>>, args: unknown): void
  /** called when a run failed before its after-run work: lets other threads waiting for that work stop */
  abort?(): void
}

/** A module (by URL) whose `createAfterRun(init)` makes the AfterRun, and its init data (cloneable; SharedArrayBuffers are shared). */
export interface AfterRunSpec {
  module: string
  init: unknown
}

export type Feed = Float32Array | Float64Array | BigInt64Array | Uint8Array
export interface IOInfo {
  name: string
  shape: Shape
  dtype: DType
}

const ORT_TYPE: Record<DType, ort.Tensor.Type> = {
  float32: 'float32',
  float64: 'float64',
  int64: 'int64',
  bool: 'bool',
}

/** Where a program runs: in this thread, or on a worker thread. */
interface Backend {
  run(feeds: Record<string, ort.Tensor>, afterArgs?: unknown): Promise<Record<string, Float32Array | Float64Array>>
  /** resolves once every earlier run, and its after-run work, has finished */
  sync(): Promise<void>
  release(): Promise<void>
}

/**
 * onnxruntime-node rejects views of a SharedArrayBuffer ("Invalid argument"): such feeds are copied
 * into a plain buffer kept per input name.
 */
export class PlainCopies {
  private readonly scratch = new Map<string, Float32Array | Float64Array | BigInt64Array | Uint8Array>()
  tensor(name: string, type: ort.Tensor.Type, data: Feed, dims: readonly number[]): ort.Tensor {
    if (!(data.buffer instanceof SharedArrayBuffer)) return new ort.Tensor(type, data as never, dims)
    let plain = this.scratch.get(name)
    if (!plain || plain.length !== data.length || plain.constructor !== data.constructor) {
      plain = new (data.constructor as new (n: number) => Float32Array)(data.length)
      this.scratch.set(name, plain)
    }
    ;(plain as Float32Array).set(data as Float32Array)
    return new ort.Tensor(type, plain as never, dims)
  }
}

/** Makes the AfterRun of a spec (in a worker thread, or in this one). */
export async function loadAfterRun(spec: AfterRunSpec): Promise<AfterRun> {
  const mod = (await import(spec.module)) as { createAfterRun(init: unknown): AfterRun }
  return mod.createAfterRun(spec.init)
}

class LocalBackend implements Backend {
  private readonly copies = new PlainCopies()
  constructor(
    private readonly session: ort.InferenceSession,
    private readonly afterRun: AfterRun | null = null,
  ) {}
  async run(feeds: Record<string, ort.Tensor>, afterArgs?: unknown) {
    for (const [k, t] of Object.entries(feeds)) feeds[k] = this.copies.tensor(k, t.type, t.data as Feed, t.dims)
    let out: ort.InferenceSession.OnnxValueMapType
    try {
      out = await this.session.run(feeds)
    } catch (err) {
      this.afterRun?.abort?.()
      throw err
    }
    const outputs: Record<string, Float32Array> = {}
    for (const [k, t] of Object.entries(out)) outputs[k] = t.data as Float32Array
    const after = this.afterRun
    if (!after) return outputs
    // as on a worker (ort-worker.ts): report, the outputs without what the after-run work consumes, then
    // apply; here all on this thread, before the run's promise resolves
    const result: Record<string, Float32Array | Float64Array> = {}
    for (const [k, v] of Object.entries(after.report(outputs, afterArgs))) result[`after.${k}`] = Float64Array.of(v)
    for (const [k, v] of Object.entries(outputs)) if (!after.consumes.has(k)) result[k] = v
    after.apply(outputs, afterArgs)
    return result
  }
  async sync() {}
  release() {
    return this.session.release()
  }
}

function workerUrl(): URL {
  // compiled: ort-worker.js beside this file; from sources (tsx): ort-worker.ts
  const js = new URL('./ort-worker.js', import.meta.url)
  return existsSync(fileURLToPath(js)) ? js : new URL('./ort-worker.ts', import.meta.url)
}

class WorkerBackend implements Backend {
  private nextId = 0
  private readonly waiting = new Map<
    number,
    { resolve: (r: Record<string, Float32Array | Float64Array>) => void; reject: (e: Error) => void }
  >()

  private constructor(private readonly worker: Worker) {
    worker.on(
      'message',
      (msg: { type: string; id: number; result?: Record<string, Float32Array | Float64Array>; message?: string }) => {
        if (msg.type === 'fatal') return this.fail(new RuntimeError(`onnxruntime worker: ${msg.message}`))
        const w = this.waiting.get(msg.id)
        if (!w) return
        this.waiting.delete(msg.id)
        if (this.waiting.size === 0) worker.unref() // idle: must not keep the process alive
        if (msg.type === 'error') w.reject(new RuntimeError(`onnxruntime worker: ${msg.message}`))
        else w.resolve(msg.result!)
      },
    )
    worker.on('error', (err) => this.fail(err))
    worker.on('exit', (code) => this.fail(new RuntimeError(`onnxruntime worker exited (code ${code})`)))
  }

  private dead: Error | null = null

  /** Rejects every pending run; later runs fail at once. */
  private fail(err: Error): void {
    this.dead ??= err
    for (const w of this.waiting.values()) w.reject(err)
    this.waiting.clear()
    this.worker.unref() // nothing can run any more: the worker must not keep the process alive
  }

  static async create(
    bytes: Uint8Array,
    options: ort.InferenceSession.SessionOptions,
    afterRun?: AfterRunSpec,
  ): Promise<WorkerBackend> {
    const url = workerUrl()
    // run from sources (tsx): register the TypeScript loader inside the worker before loading it
    // tsx resolved from this module, not from the working directory (an eval worker resolves bare names
    // against the cwd: running the checkout's CLI from another folder failed with "Cannot find package 'tsx'")
    const tsx = url.pathname.endsWith('.ts') ? resolveFromHere('tsx/esm/api') : null
    const worker = tsx
      ? new Worker(
          `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(url.href)}) })`,
          { eval: true },
        )
      : new Worker(url)
    await new Promise<void>((resolve, reject) => {
      const onMessage = (msg: { type: string; message?: string }) => {
        worker.off('message', onMessage)
        if (msg.type === 'ready') resolve()
        else reject(new RuntimeError(`onnxruntime worker: ${msg.message}`))
      }
      worker.on('message', onMessage)
      worker.once('error', reject)
      worker.postMessage({ type: 'init', bytes, options, afterRun })
    })
    const backend = new WorkerBackend(worker)
    worker.unref() // an idle training worker must not keep the process alive
    return backend
  }

  run(feeds: Record<string, ort.Tensor>, afterArgs?: unknown) {
    const id = this.nextId++
    const plain: Record<string, { type: string; data: unknown; dims: readonly number[] }> = {}
    for (const [k, t] of Object.entries(feeds)) plain[k] = { type: t.type, data: t.data, dims: t.dims }
    return new Promise<Record<string, Float32Array | Float64Array>>((resolve, reject) => {
      if (this.dead) return reject(this.dead)
      if (this.waiting.size === 0) this.worker.ref() // a step is running: keep the process alive until it returns
      this.waiting.set(id, { resolve, reject })
      this.worker.postMessage({ type: 'run', id, feeds: plain, afterArgs })
    })
  }

  sync() {
    const id = this.nextId++
    return new Promise<void>((resolve, reject) => {
      if (this.dead) return reject(this.dead)
      if (this.waiting.size === 0) this.worker.ref()
      this.waiting.set(id, { resolve: () => resolve(), reject })
      this.worker.postMessage({ type: 'sync', id })
    })
  }

  async release() {
    this.fail(new RuntimeError('onnxruntime worker: the program was released'))
    await this.worker.terminate()
  }
}

/** A compiled ONNX model with its declared inputs and outputs. */
export class Program {
  private constructor(
    private readonly backend: Backend,
    readonly inputs: readonly IOInfo[],
    readonly outputs: readonly IOInfo[],
  ) {}

  static async create(
    bytes: Uint8Array,
    inputs: readonly IOInfo[],
    outputs: readonly IOInfo[],
    options: RuntimeOptions = {},
  ): Promise<Program> {
    const backend = options.worker
      ? await WorkerBackend.create(bytes, sessionOptions(options), options.afterRun)
      : new LocalBackend(
          await ort.InferenceSession.create(bytes, sessionOptions(options)),
          options.afterRun ? await loadAfterRun(options.afterRun) : null,
        )
    return new Program(backend, inputs, outputs)
  }

  private pending = 0
  private tail: Promise<unknown> = Promise.resolve()

  /**
   * Runs the model. `feeds` holds one array per input; `dims` gives the value of each symbolic dim
   * (e.g. { B: 2048 }). Extra feeds are ignored. Runs of one program are serialised: a run's scratch
   * buffers are not touched by the next until it has finished.
   */
  run(
    feeds: Readonly<Record<string, Feed>>,
    dims: Readonly<Record<string, number>>,
    afterArgs?: unknown,
  ): Promise<Record<string, Float32Array | Float64Array>> {
    // an idle program starts at once (synchronously), so a pipelined caller overlaps from here on
    const start = () => this.runNow(feeds, dims, afterArgs)
    const result = this.pending === 0 ? start() : this.tail.then(start)
    this.pending++
    this.tail = result.finally(() => this.pending--).catch(() => undefined)
    return result
  }

  private async runNow(
    feeds: Readonly<Record<string, Feed>>,
    dims: Readonly<Record<string, number>>,
    afterArgs?: unknown,
  ): Promise<Record<string, Float32Array | Float64Array>> {
    const ortFeeds: Record<string, ort.Tensor> = {}
    for (const io of this.inputs) {
      const data = feeds[io.name]
      if (!data) throw new ShapeError(`Program.run: missing feed "${io.name}"`)
      const shape = io.shape.map((d) => (typeof d === 'number' ? d : (dims[d] ?? NaN)))
      if (shape.some((d) => Number.isNaN(d)))
        throw new ShapeError(`Program.run: no value for a symbolic dim of "${io.name}" [${io.shape.join(', ')}]`)
      const size = shape.reduce((a, b) => a * b, 1)
      if (data.length !== size)
        throw new ShapeError(
          `Program.run: feed "${io.name}" has ${data.length} values, expected ${size} for [${shape.join(', ')}]`,
        )
      ortFeeds[io.name] = { type: ORT_TYPE[io.dtype], data, dims: shape } as unknown as ort.Tensor
    }
    const result = await this.backend.run(ortFeeds, afterArgs)
    const out: Record<string, Float32Array | Float64Array> = {}
    for (const io of this.outputs) if (result[io.name]) out[io.name] = result[io.name]
    for (const k of Object.keys(result)) if (k.startsWith('after.')) out[k] = result[k]
    return out
  }

  /** Resolves once every run so far, and the after-run work of a worker program, has finished. */
  async sync(): Promise<void> {
    await this.tail
    await this.backend.sync()
  }

  async release(): Promise<void> {
    await this.backend.release()
  }
}

export function sessionOptions(options: RuntimeOptions = {}): ort.InferenceSession.SessionOptions {
  return {
    executionProviders: options.providers ?? ['cpu'],
    intraOpNumThreads: options.threads ?? 1,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    extra: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } },
    // developer aid: RESFLOW_ORT_PROFILE=/tmp/prefix writes onnxruntime's per-node timings (JSON)
    ...(process.env.RESFLOW_ORT_PROFILE
      ? { enableProfiling: true, profileFilePrefix: process.env.RESFLOW_ORT_PROFILE }
      : {}),
  }
}

/** A package's URL resolved from this module's location (the bare name when it cannot be resolved). */
function resolveFromHere(specifier: string): string {
  try {
    return import.meta.resolve(specifier)
  } catch {
    return specifier
  }
}
