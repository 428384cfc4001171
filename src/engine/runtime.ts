/**
 * Runs compiled graphs with onnxruntime-node on the CPU.
 *
 * Measured on this 2-core machine (issue 3): onnxruntime's thread spinning slows every step, so it is
 * off; one intra-op thread is the default since a second one did not speed up `run` for our sizes.
 * `run` is asynchronous: the caller may do embedding work in JS while a step runs.
 */
import * as ort from 'onnxruntime-node'
import type { DType, Shape } from './node.js'

export interface RuntimeOptions {
  /** intra-op threads for onnxruntime (default 1) */
  threads?: number
  /** execution providers, default ['cpu']; users with a GPU may pass ['cuda', 'cpu'] */
  providers?: string[]
}

export type Feed = Float32Array | Float64Array | BigInt64Array | Uint8Array
export interface IOInfo {
  name: string
  shape: Shape
  dtype: DType
}

const ORT_TYPE: Record<DType, ort.Tensor.Type> = { float32: 'float32', float64: 'float64', int64: 'int64', bool: 'bool' }

/** A compiled ONNX model with its declared inputs and outputs. */
export class Program {
  private constructor(
    readonly session: ort.InferenceSession,
    readonly inputs: readonly IOInfo[],
    readonly outputs: readonly IOInfo[],
  ) {}

  static async create(bytes: Uint8Array, inputs: readonly IOInfo[], outputs: readonly IOInfo[], options: RuntimeOptions = {}): Promise<Program> {
    const session = await ort.InferenceSession.create(bytes, sessionOptions(options))
    return new Program(session, inputs, outputs)
  }

  /**
   * Runs the model. `feeds` holds one array per input; `dims` gives the value of each symbolic dim
   * (e.g. { B: 2048 }). Extra feeds are ignored.
   */
  async run(feeds: Readonly<Record<string, Feed>>, dims: Readonly<Record<string, number>>): Promise<Record<string, Float32Array | Float64Array>> {
    const ortFeeds: Record<string, ort.Tensor> = {}
    for (const io of this.inputs) {
      const data = feeds[io.name]
      if (!data) throw new Error(`Program.run: missing feed "${io.name}"`)
      const shape = io.shape.map((d) => (typeof d === 'number' ? d : dims[d] ?? NaN))
      if (shape.some((d) => Number.isNaN(d))) throw new Error(`Program.run: no value for a symbolic dim of "${io.name}" [${io.shape.join(', ')}]`)
      const size = shape.reduce((a, b) => a * b, 1)
      if (data.length !== size) throw new Error(`Program.run: feed "${io.name}" has ${data.length} values, expected ${size} for [${shape.join(', ')}]`)
      ortFeeds[io.name] = new ort.Tensor(ORT_TYPE[io.dtype], data as never, shape)
    }
    const result = await this.session.run(ortFeeds)
    const out: Record<string, Float32Array | Float64Array> = {}
    for (const io of this.outputs) out[io.name] = result[io.name]!.data as Float32Array | Float64Array
    return out
  }

  async release(): Promise<void> {
    await this.session.release()
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
  }
}
