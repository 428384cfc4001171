/**
 * Running an exported ONNX graph the way a consumer outside resflow would: a fresh onnxruntime session on the
 * bytes or the file alone, fed by the input list the export describes (ExportedGraph.inputs, or the
 * `resflow.inputs` metadata), symbolic dims resolved from the feeds' dims.
 */
import assert from 'node:assert/strict'
import * as ort from 'onnxruntime-node'

/** One graph input: its name, element type and shape (numbers, or names of dims such as "B"). */
export interface GraphInput {
  name: string
  dtype: string
  shape: readonly (number | string)[]
}

/** The graph's outputs by name; with `checkInputs`, first asserts that `inputs` are the session's inputs. */
export async function runFresh(
  model: Uint8Array | string,
  inputs: readonly GraphInput[],
  feeds: Record<string, unknown>,
  dims: Record<string, number>,
  opts: { checkInputs?: boolean } = {},
): Promise<Record<string, Float32Array>> {
  // a path or bytes: two overloads of create, hence the two calls
  const session = await (typeof model === 'string'
    ? ort.InferenceSession.create(model)
    : ort.InferenceSession.create(model))
  if (opts.checkInputs) assert.deepEqual(inputs.map((i) => i.name).sort(), [...session.inputNames].sort())
  const ortFeeds: Record<string, ort.Tensor> = {}
  for (const io of inputs)
    ortFeeds[io.name] = new ort.Tensor(
      io.dtype as 'float32',
      feeds[io.name] as Float32Array,
      io.shape.map((d) => (typeof d === 'number' ? d : dims[d])),
    )
  const out = await session.run(ortFeeds)
  await session.release()
  return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, v.data as Float32Array]))
}
