/**
 * Symbolic tensors and the graph that owns them.
 *
 * A Tensor is a node of a computation graph: the op that makes it, its inputs, attributes, shape and
 * dtype. Nothing is computed here; `onnx-graph.ts` turns a graph into an ONNX model that
 * onnxruntime runs, and `autodiff.ts` adds the backward pass as more nodes of the same graph.
 *
 * Shape notation used in comments across the project:
 *   B batch, F fields, D embedding dim, K tasks, H hidden units, E experts.
 * A dimension is a number, or a string for a dimension known only at run time (usually 'B').
 */
import { ShapeError } from '../errors.js'

export type Dim = number | string
export type Shape = readonly Dim[]
export type DType = 'float32' | 'float64' | 'int64' | 'bool'
export type FloatDType = 'float32' | 'float64'
export type AttrValue = number | string | readonly number[] | Float64Array
export type Attrs = Readonly<Record<string, AttrValue>>

/**
 * The primitive ops, one row each in op-table.ts's table (which must have exactly these rows), plus the two
 * leaf kinds: graph inputs and constants. A typo in an op name is a compile error, not a node that
 * autodiff or the ONNX writer meets at run time.
 */
export type OpName =
  | 'add'
  | 'sub'
  | 'mul'
  | 'div'
  | 'neg'
  | 'exp'
  | 'log'
  | 'sqrt'
  | 'abs'
  | 'sign'
  | 'relu'
  | 'sigmoid'
  | 'tanh'
  | 'greater'
  | 'maximum'
  | 'where'
  | 'matmul'
  | 'reduceSum'
  | 'reduceMean'
  | 'countRecip'
  | 'expandAs'
  | 'concat'
  | 'slice'
  | 'padAxis'
  | 'reshape'
  | 'transpose'
  | 'softmax'
  | 'identity'
  | 'batchNormTrain'
  | 'prelu'
  | 'part'
  | 'gather'
  | 'scatterAddRows'
export type LeafKind = 'input' | 'const'

let nextId = 0

export class Tensor {
  readonly id = nextId++
  constructor(
    readonly graph: Graph,
    readonly op: OpName | LeafKind,
    readonly inputs: readonly Tensor[],
    readonly attrs: Attrs,
    readonly shape: Shape,
    readonly dtype: DType,
    /** graph inputs carry their feed name */
    readonly name?: string,
  ) {}

  get rank(): number {
    return this.shape.length
  }

  toString(): string {
    return `${this.name ?? this.op}#${this.id}[${this.shape.join(', ')}]`
  }
}

/**
 * A graph: the inputs it declares and the float dtype its constants take. Training graphs use float32;
 * gradient checks build the same functions in float64.
 */
export class Graph {
  readonly inputs = new Map<string, Tensor>()

  constructor(readonly dtype: FloatDType = 'float32') {}

  /** Declares a graph input (a batch column, a parameter, a mask). Names are unique. */
  input(name: string, shape: Shape, dtype: DType = this.dtype): Tensor {
    if (this.inputs.has(name)) throw new ShapeError(`graph input "${name}" is declared twice`)
    const t = new Tensor(this, 'input', [], {}, [...shape], dtype, name)
    this.inputs.set(name, t)
    return t
  }

  /** A constant of the graph's float dtype: a scalar, or values with a shape. */
  constant(value: number | readonly number[], shape: Shape = []): Tensor {
    const values = typeof value === 'number' ? [value] : value
    const size = shape.reduce<number>((n, d) => n * (typeof d === 'number' ? d : NaN), 1)
    if (size !== values.length)
      throw new ShapeError(`constant of shape [${shape.join(', ')}] needs ${size} values, got ${values.length}`)
    return new Tensor(this, 'const', [], { value: Float64Array.from(values) }, [...shape], this.dtype)
  }
}

/** Creates a tensor node. Used by the op table; shapes are checked there. */
export function makeTensor(
  graph: Graph,
  op: OpName | 'const',
  inputs: readonly Tensor[],
  attrs: Attrs,
  shape: Shape,
  dtype: DType,
): Tensor {
  return new Tensor(graph, op, inputs, attrs, shape, dtype)
}

export function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i])
}

/** Number of elements, or NaN if any dimension is symbolic. */
export function numel(shape: Shape): number {
  return shape.reduce<number>((n, d) => n * (typeof d === 'number' ? d : NaN), 1)
}

export function formatShape(shape: Shape): string {
  return `[${shape.join(', ')}]`
}
