/**
 * Where the training loop's time goes on the calling thread (TrainSession.profile, docs/parallel.md):
 * the phases of one pipelined step and the stopwatch that adds them up. Apart from the loop so that
 * the loop reads as the step, not as its accounting.
 */

/**
 * Time of the training loop on the calling thread, in milliseconds summed over steps. While step t runs:
 * step t−1's deferred row updates (`deferredMs`), reading step t+1 (`readMs`: the source's batch, its
 * validated copy, unique rows, packed dense values, dropout masks); then waiting for step t's outputs
 * (`waitMs`; with workers > 1, their merge included); the dense update when it runs on this thread
 * (`denseMs`: workerThread false); the row updates step t+1 needs and its pooled gather (`rowsMs`).
 * Otherwise the dense update runs on the worker threads, overlapping `rowsMs` and the next step's
 * `deferredMs`.
 */
export interface StepProfile {
  steps: number
  deferredMs: number
  readMs: number
  /** the part of `readMs` spent in the batch source (shuffled rows gathered from the encoded data) */
  sourceMs: number
  waitMs: number
  denseMs: number
  rowsMs: number
}

/** Adds the time since `t` through `add`; returns now. */
export function lap(t: number, add: (ms: number) => void): number {
  const now = performance.now()
  add(now - t)
  return now
}

export function newStepProfile(): StepProfile {
  return { steps: 0, deferredMs: 0, readMs: 0, sourceMs: 0, waitMs: 0, denseMs: 0, rowsMs: 0 }
}
