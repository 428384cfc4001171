/**
 * Writes a symbolic graph as an ONNX ModelProto (opset 17), using the onnx-proto typings over
 * protobufjs. Graph inputs become ONNX inputs, except those given as initializers (exported weights);
 * constants become initializers; each requested output is named by its key.
 */
import onnxProto from 'onnx-proto'
import { ExportError } from '../errors.js'
import { topoSort } from './autodiff.js'
import type { DType, Shape, Tensor } from './node.js'
import { type Emitter, OPS } from './op-table.js'

const { onnx } = onnxProto

export const OPSET = 17

const ELEM: Record<DType, number> = { float32: 1, float64: 11, int64: 7, bool: 9 }

export interface ModelOptions {
  /** graph inputs (by name) whose values are baked into the model as initializers */
  initializers?: ReadonlyMap<string, Float32Array | Float64Array>
  /** key/value strings stored in the model's metadata_props */
  metadata?: Readonly<Record<string, string>>
  /** names of graph inputs to declare even if no output depends on them */
  keepInputs?: readonly string[]
  docString?: string
}

function valueInfo(name: string, shape: Shape, dtype: DType) {
  return onnx.ValueInfoProto.create({
    name,
    type: {
      tensorType: {
        elemType: ELEM[dtype],
        shape: { dim: shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  })
}

function floatTensor(name: string, dims: readonly number[], values: ArrayLike<number>, dtype: DType) {
  const data =
    dtype === 'float64'
      ? Float64Array.from(values)
      : values instanceof Float32Array
        ? values
        : Float32Array.from(values)
  return onnx.TensorProto.create({
    name,
    dims: [...dims],
    dataType: ELEM[dtype],
    rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
  })
}

/** Serialises the graph that computes `outputs` to ONNX bytes. */
export function toOnnx(outputs: Readonly<Record<string, Tensor>>, options: ModelOptions = {}): Uint8Array {
  const roots = Object.values(outputs)
  if (roots.length === 0) throw new ExportError('toOnnx: no outputs requested')
  const graph = roots[0].graph
  const order = topoSort(roots)
  const nodes: ReturnType<typeof onnx.NodeProto.create>[] = []
  const initializers: ReturnType<typeof onnx.TensorProto.create>[] = []
  const inputs: ReturnType<typeof onnx.ValueInfoProto.create>[] = []
  let temps = 0
  const int64Cache = new Map<string, string>()

  // a computed tensor that is an output takes the output's name (no Identity node per output)
  const outputName = new Map<number, string>()
  for (const [key, t] of Object.entries(outputs))
    if (t.op !== 'input' && t.op !== 'const' && t.op !== 'part' && !outputName.has(t.id)) outputName.set(t.id, key)
  const emitter: Emitter = {
    name: (t) =>
      t.op === 'part'
        ? `${emitter.name(t.inputs[0])}__${t.attrs.part}`
        : (outputName.get(t.id) ?? t.name ?? `t${t.id}`),
    temp: (hint) => `${hint}_${temps++}`,
    int64(values) {
      const key = values.join(',')
      let name = int64Cache.get(key)
      if (!name) {
        name = `i64_${int64Cache.size}`
        int64Cache.set(key, name)
        const data = BigInt64Array.from(values.map((v) => BigInt(v)))
        initializers.push(
          onnx.TensorProto.create({
            name,
            dims: [values.length],
            dataType: ELEM.int64,
            rawData: new Uint8Array(data.buffer),
          }),
        )
      }
      return name
    },
    node(opType, ins, outs, attrs = {}) {
      const attribute = Object.entries(attrs)
        .filter(([k]) => k !== 'to_dtype')
        .map(([name, v]) => {
          if (name === 'value_float' || name === 'value_float1') {
            // a Constant scalar (value_float) or ConstantOfShape's one-element fill value (value_float1), of the graph's float dtype
            const dtype = (attrs.to_dtype as number) ?? 1
            const data = dtype === 11 ? Float64Array.of(v as number) : Float32Array.of(v as number)
            return onnx.AttributeProto.create({
              name: 'value',
              type: onnx.AttributeProto.AttributeType.TENSOR,
              t: { dims: name === 'value_float' ? [] : [1], dataType: dtype, rawData: new Uint8Array(data.buffer) },
            })
          }
          if (typeof v === 'string')
            return onnx.AttributeProto.create({
              name,
              type: onnx.AttributeProto.AttributeType.STRING,
              s: new TextEncoder().encode(v),
            })
          if (Array.isArray(v))
            return onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.INTS, ints: v })
          return onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.INT, i: v as number })
        })
      nodes.push(
        onnx.NodeProto.create({ opType, input: ins, output: outs, attribute, name: `${opType}_${nodes.length}` }),
      )
    },
  }

  const declared = new Set<string>()
  const declareInput = (t: Tensor) => {
    const name = t.name!
    if (declared.has(name)) return
    declared.add(name)
    const init = options.initializers?.get(name)
    if (init) {
      const dims = t.shape.map((d) => {
        if (typeof d !== 'number')
          throw new ExportError(`initializer "${name}" has a symbolic dim: [${t.shape.join(', ')}]`)
        return d
      })
      initializers.push(floatTensor(name, dims, init, t.dtype))
    } else {
      inputs.push(valueInfo(name, t.shape, t.dtype))
    }
  }

  for (const t of order) {
    if (t.op === 'input') declareInput(t)
    else if (t.op === 'const') {
      initializers.push(floatTensor(emitter.name(t), t.shape as number[], t.attrs.value as Float64Array, t.dtype))
    } else {
      const row = OPS[t.op]
      if (!row) throw new ExportError(`no ONNX emission for op "${t.op}"`)
      row.emit(t, emitter)
    }
  }
  for (const name of options.keepInputs ?? []) {
    const t = graph.inputs.get(name)
    if (t) declareInput(t)
  }

  const outputInfos = Object.entries(outputs).map(([key, t]) => {
    if (outputName.get(t.id) !== key)
      nodes.push(
        onnx.NodeProto.create({ opType: 'Identity', input: [emitter.name(t)], output: [key], name: `out_${key}` }),
      )
    return valueInfo(key, t.shape, t.dtype)
  })

  const model = onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'resflow',
    producerVersion: '0.1.0',
    docString: options.docString ?? '',
    opsetImport: [{ domain: '', version: OPSET }],
    metadataProps: Object.entries(options.metadata ?? {}).map(([key, value]) => ({ key, value })),
    graph: onnx.GraphProto.create({
      name: 'resflow',
      node: nodes,
      input: inputs,
      output: outputInfos,
      initializer: initializers,
    }),
  })
  return onnx.ModelProto.encode(model).finish()
}
