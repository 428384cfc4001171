/**
 * The onnxruntime worker: onnxruntime-node's `run` blocks the thread that calls it, so training runs
 * each step's session here, on its own thread, while the main thread updates and gathers embedding
 * rows. Messages: {init} → {ready}; {run} → {result} with the outputs' buffers transferred back.
 */
import { parentPort } from 'node:worker_threads'
import * as ort from 'onnxruntime-node'
import { PlainCopies } from './runtime.js'

type Init = { type: 'init'; bytes: Uint8Array; options: ort.InferenceSession.SessionOptions }
type Run = { type: 'run'; id: number; feeds: Record<string, { type: ort.Tensor.Type; data: ort.Tensor.DataType; dims: number[] }> }
type Release = { type: 'release' }

let session: ort.InferenceSession | null = null
const copies = new PlainCopies()
const port = parentPort!

port.on('message', async (msg: Init | Run | Release) => {
  try {
    if (msg.type === 'init') {
      session = await ort.InferenceSession.create(msg.bytes, msg.options)
      port.postMessage({ type: 'ready' })
    } else if (msg.type === 'run') {
      const feeds: Record<string, ort.Tensor> = {}
      for (const [name, f] of Object.entries(msg.feeds)) feeds[name] = copies.tensor(name, f.type, f.data as never, f.dims)
      const out = await session!.run(feeds)
      const result: Record<string, ArrayBufferView> = {}
      const transfer: ArrayBuffer[] = []
      for (const [name, t] of Object.entries(out)) {
        const data = t.data as Float32Array
        const own = data.byteOffset === 0 && data.byteLength === data.buffer.byteLength && !(data.buffer instanceof SharedArrayBuffer) ? data : data.slice()
        result[name] = own
        if (!transfer.includes(own.buffer as ArrayBuffer)) transfer.push(own.buffer as ArrayBuffer)
      }
      port.postMessage({ type: 'result', id: msg.id, result }, transfer)
    } else if (msg.type === 'release') {
      await session?.release()
      session = null
      port.postMessage({ type: 'released' })
    }
  } catch (err) {
    port.postMessage({ type: 'error', id: (msg as Run).id, message: err instanceof Error ? err.message : String(err) })
  }
})
