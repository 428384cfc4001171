/**
 * Parameters and the build context that layers receive.
 *
 * Dense parameters are graph inputs; their values live here in Float32Arrays and are created once,
 * with a seeded initialiser keyed by the parameter's name, so the training graph and the inference
 * graph built from the same model share them and a seed reproduces them bit for bit.
 */
import { ConfigError } from '../errors.js'
import { Graph, type Shape, type Tensor, numel } from '../engine/node.js'
import { Rng } from '../engine/rng.js'
import type { Init } from './init.js'

export interface ParamEntry {
  name: string
  shape: number[]
  values: Float32Array
  /** false for buffers such as BatchNorm running statistics */
  trainable: boolean
  /** whether weight decay applies (weights yes; biases, BN and PReLU slopes no) */
  decay: boolean
}

/** Hash of a string (FNV-1a), used to give each parameter its own seeded stream. */
function hashName(s: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193)
  return h >>> 0
}

export class ParamStore {
  readonly entries = new Map<string, ParamEntry>()
  constructor(readonly seed: number) {}

  /** Values of a parameter, created with `init` on first use. */
  ensure(name: string, shape: number[], init: Init, opts: { trainable?: boolean; decay?: boolean } = {}): ParamEntry {
    let entry = this.entries.get(name)
    if (entry) {
      if (entry.shape.join() !== shape.join())
        throw new ConfigError(`parameter "${name}" has shape [${entry.shape}] but is requested as [${shape}]`)
      return entry
    }
    const values = new Float32Array(new SharedArrayBuffer(numel(shape) * 4)) // read by the training worker without a copy
    init(values, shape, new Rng(hashName(name) ^ this.seed))
    entry = { name, shape, values, trainable: opts.trainable ?? true, decay: opts.decay ?? false }
    this.entries.set(name, entry)
    return entry
  }

  trainable(): ParamEntry[] {
    return [...this.entries.values()].filter((e) => e.trainable)
  }

  /** Number of trainable scalars (embedding tables are counted by the model, not here). */
  count(): number {
    return this.trainable().reduce((n, e) => n + e.values.length, 0)
  }

  /** Deep copy of all values (best-weights snapshots, checkpoints). */
  snapshot(): Map<string, Float32Array> {
    return new Map([...this.entries].map(([k, e]) => [k, e.values.slice()]))
  }

  restore(snapshot: ReadonlyMap<string, Float32Array>): void {
    for (const [k, v] of snapshot) {
      const e = this.entries.get(k)
      if (e) e.values.set(v)
    }
  }
}

/** A BatchNorm layer's batch statistics, returned by the training graph to update running averages. */
export interface BatchStat {
  name: string // prefix of "<name>.running_mean" / "<name>.running_var"
  mean: Tensor // [H]
  variance: Tensor // [H], biased (divides by B)
  momentum: number
}

/** A dropout mask input that the trainer fills each step from the seeded generator. */
export interface DropoutMask {
  name: string
  shape: Shape
  rate: number
}

/**
 * How the dense layers of a model are initialised and shaped. The defaults are PyTorch's, which the
 * independent reference (../shared/reference) uses and which train better than Xavier here (see
 * bench/results/quality.md):
 *   init 'torch':  Linear weights and biases U(±1/√fan_in)   (kaiming_uniform(a=√5), PyTorch's nn.Linear)
 *   init 'xavier': weights U(±√(6/(fan_in+fan_out))), biases 0
 *   preluSlopes 'shared': one learned slope per PReLU layer (nn.PReLU()); 'unit': one per unit
 *   blockBatchNorm: BatchNorm after each hidden block's PReLU (the paper's e-commerce towers); off for
 *   the paper's KuaiRand chain
 */
export interface LayerOptions {
  init: 'torch' | 'xavier'
  preluSlopes: 'shared' | 'unit'
  blockBatchNorm: boolean
}
export const DEFAULT_LAYERS: LayerOptions = { init: 'torch', preluSlopes: 'shared', blockBatchNorm: true }

/**
 * The build-time switch of the item split (serve/item-split.ts, export/onnx.ts `exportSplitGraph`). Off
 * (null) in every ordinary build. When set, `sharedInput` records the tensor x it returns and how its
 * columns are made, and `linear` replaces x·W + b, for an x recorded here, by what `output` returns for
 * the layer: graph inputs the caller computes itself (x·W + b is linear in x's columns, so item and
 * context columns can be summed apart). The layer is recorded; its weight and bias are left out of the graph.
 */
export interface SplitInput {
  /** the looked-up vectors x is made of, in column order: D columns each */
  embeddings: Tensor[]
  /** the dense input, and which of its columns follow the embeddings */
  dense: Tensor | null
  denseCols: number[]
  /** the BatchNorm applied to the concatenation (its parameter prefix), or null */
  batchNorm: { name: string; eps: number } | null
}
export interface SplitLayer {
  /** the Linear's name: its parameters are `<name>.weight` [I, O] and `<name>.bias` [O] */
  name: string
  input: SplitInput
  fanIn: number
  units: number
  bias: boolean
}
export class InputSplit {
  readonly inputs = new Map<Tensor, SplitInput>()
  readonly layers: SplitLayer[] = []
  /** the table each looked-up vector of x comes from (filled by the exporter before the model is built) */
  readonly tables = new Map<Tensor, string>()
  /** graph inputs `output` creates that are constants: baked into the graph as initializers */
  readonly constants = new Map<string, Float32Array>()
  /** `output(graph, layer, batch)`: the tensor [...batch, layer.units] standing for the layer's x·W + b */
  constructor(readonly output: (graph: Graph, layer: SplitLayer, batch: Shape) => Tensor) {}
}

/** What layers are built with: the graph, the mode, the parameter store and the layer options. */
export class BuildContext {
  readonly graph: Graph
  readonly batchStats: BatchStat[] = []
  readonly dropouts: DropoutMask[] = []
  /** the item split's switch (see InputSplit); null: an ordinary build */
  split: InputSplit | null = null
  /**
   * The parameters' values when they are known as the graph is built (an exported inference graph), so that
   * a layer may emit a cheaper form that gives the same numbers; null: not known (training, evaluation)
   */
  values: ReadonlyMap<string, Float32Array> | null = null
  private readonly used = new Set<string>()

  constructor(
    readonly params: ParamStore,
    readonly training: boolean,
    graph: Graph | 'float32' | 'float64' = 'float32',
    readonly layers: LayerOptions = DEFAULT_LAYERS,
  ) {
    this.graph = graph instanceof Graph ? graph : new Graph(graph)
  }

  /** A parameter as a graph input. */
  param(name: string, shape: number[], init: Init, opts: { trainable?: boolean; decay?: boolean } = {}): Tensor {
    if (this.used.has(name))
      throw new ConfigError(`parameter "${name}" is created twice in one model: layer names must be unique`)
    this.used.add(name)
    this.params.ensure(name, shape, init, opts)
    return this.graph.input(name, shape)
  }

  /** Names of the parameters used by this graph, in creation order. */
  paramNames(): string[] {
    return [...this.used]
  }
}
