/**
 * The onnxruntime worker: onnxruntime-node's `run` blocks the thread that calls it, so training runs
 * each step's session here, on its own thread, while the main thread updates and gathers embedding
 * rows. Messages: {init} → {ready}; {run} → {result} with the outputs' buffers transferred back.
 */
import { parentPort } from 'node:worker_threads'
import * as ort from 'onnxruntime-node'
import { type AfterRun, type AfterRunSpec, PlainCopies, loadAfterRun } from './runtime.js'

type Init = { type: 'init'; bytes: Uint8Array; options: ort.InferenceSession.SessionOptions; afterRun?: AfterRunSpec }
type Run = {
  type: 'run'
  id: number
  feeds: Record<string, { type: ort.Tensor.Type; data: ort.Tensor.DataType; dims: number[] }>
  afterArgs?: unknown
}
type Sync = { type: 'sync'; id: number }
type Release = { type: 'release' }

let session: ort.InferenceSession | null = null
let afterRun: AfterRun | null = null
const copies = new PlainCopies()
const port = parentPort!

// one message at a time, in order: a run's after-run work finishes before the next run reads the parameters
let queue: Promise<void> = Promise.resolve()
port.on('message', (msg: Init | Run | Sync | Release) => {
  queue = queue.then(() => handle(msg))
})

async function handle(msg: Init | Run | Sync | Release): Promise<void> {
  try {
    if (msg.type === 'init') {
      session = await ort.InferenceSession.create(msg.bytes, msg.options)
      if (msg.afterRun) afterRun = await loadAfterRun(msg.afterRun)
      port.postMessage({ type: 'ready' })
    } else if (msg.type === 'run') {
      const feeds: Record<string, ort.Tensor> = {}
      for (const [name, f] of Object.entries(msg.feeds))
        feeds[name] = copies.tensor(name, f.type, f.data as never, f.dims)
      const out = await session!.run(feeds)
      const outputs: Record<string, Float32Array> = {}
      for (const [name, t] of Object.entries(out)) outputs[name] = t.data as Float32Array
      const reported = afterRun ? afterRun.report(outputs, msg.afterArgs) : {}
      const result: Record<string, ArrayBufferView> = {}
      const transfer: ArrayBuffer[] = []
      for (const [name, data] of Object.entries(outputs)) {
        if (afterRun?.consumes.has(name)) continue // read by the after-run work, not sent back
        const own =
          data.byteOffset === 0 &&
          data.byteLength === data.buffer.byteLength &&
          !(data.buffer instanceof SharedArrayBuffer)
            ? data
            : data.slice()
        result[name] = own
        if (!transfer.includes(own.buffer as ArrayBuffer)) transfer.push(own.buffer as ArrayBuffer)
      }
      for (const [k, v] of Object.entries(reported)) result[`after.${k}`] = Float64Array.of(v)
      port.postMessage({ type: 'result', id: msg.id, result }, transfer)
      try {
        afterRun?.apply(outputs, msg.afterArgs)
      } catch (err) {
        // the run has been answered already: the program cannot go on
        port.postMessage({
          type: 'fatal',
          message: `after-run work failed: ${err instanceof Error ? err.message : String(err)}`,
        })
      }
    } else if (msg.type === 'sync') {
      port.postMessage({ type: 'result', id: msg.id, result: {} })
    } else if (msg.type === 'release') {
      await session?.release()
      session = null
      port.postMessage({ type: 'released' })
    }
  } catch (err) {
    if (msg.type === 'run') afterRun?.abort?.() // the run or its report failed: others may be waiting for this one
    port.postMessage({ type: 'error', id: (msg as Run).id, message: err instanceof Error ? err.message : String(err) })
  }
}
