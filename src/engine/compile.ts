/**
 * Graph → runnable Program: the one call that everything above the engine uses.
 */
import { writeFileSync } from 'node:fs'
import { topoSort } from './autodiff.js'
import type { Tensor } from './node.js'
import { type ModelOptions, toOnnx } from './onnx-graph.js'
import { type IOInfo, Program, type RuntimeOptions } from './runtime.js'

let dumped = 0

export async function compile(
  outputs: Readonly<Record<string, Tensor>>,
  options: ModelOptions & RuntimeOptions = {},
): Promise<Program> {
  const bytes = toOnnx(outputs, options)
  // developer aid: RESFLOW_DUMP_ONNX=/tmp/dir writes every compiled model there (model-<n>.onnx)
  if (process.env.RESFLOW_DUMP_ONNX) writeFileSync(`${process.env.RESFLOW_DUMP_ONNX}/model-${dumped++}.onnx`, bytes)
  const inputs: IOInfo[] = []
  const seen = new Set<string>()
  const keep = new Set(options.keepInputs ?? [])
  const roots = Object.values(outputs)
  for (const t of topoSort(roots)) {
    if (t.op === 'input' && !seen.has(t.name!) && !options.initializers?.has(t.name!)) {
      seen.add(t.name!)
      inputs.push({ name: t.name!, shape: t.shape, dtype: t.dtype })
    }
  }
  const graph = roots[0].graph
  for (const name of keep) {
    const t = graph.inputs.get(name)
    if (t && !seen.has(name) && !options.initializers?.has(name)) inputs.push({ name, shape: t.shape, dtype: t.dtype })
  }
  const outs = Object.entries(outputs).map(([name, t]) => ({ name, shape: t.shape, dtype: t.dtype }))
  return Program.create(bytes, inputs, outs, options)
}
