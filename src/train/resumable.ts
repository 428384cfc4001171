import type { Batch } from '../data/types.js'
import { ResflowError } from '../errors.js'

/**
 * An epoch's batches that training can stop reading and go on with later: `trainBatches` reads one
 * batch ahead and drops it when stopped, so the batches read but not trained are handed out again
 * first (the source is not advanced in between, so a reused buffer still holds them). The underlying
 * iterator is closed only by `close`.
 */
export class Resumable implements AsyncIterable<Batch> {
  private readonly it: Iterator<Batch> | AsyncIterator<Batch>
  private readonly held: Batch[] = []
  private handedOut: Batch[] = []
  private done = false

  /** nothing left to hand out */
  get exhausted(): boolean {
    return this.done && this.held.length === 0
  }

  constructor(source: AsyncIterable<Batch> | Iterable<Batch>) {
    this.it =
      Symbol.asyncIterator in source
        ? (source as AsyncIterable<Batch>)[Symbol.asyncIterator]()
        : (source as Iterable<Batch>)[Symbol.iterator]()
  }

  async skip(n: number): Promise<void> {
    for (let i = 0; i < n; i++)
      if ((await this.it.next()).done)
        throw new ResflowError(`resume: the epoch has fewer than ${n} batches (was the data changed?)`)
  }

  /** `n` of the batches handed out since the last call were trained; the rest are handed out again. */
  trained(n: number): void {
    this.held.unshift(...this.handedOut.slice(n))
    this.handedOut = []
  }

  [Symbol.asyncIterator](): AsyncIterator<Batch> {
    return {
      next: async () => {
        const b = this.held.shift() ?? (this.done ? undefined : await this.pull())
        if (!b) return { done: true, value: undefined }
        this.handedOut.push(b)
        return { done: false, value: b }
      },
      return: async () => ({ done: true, value: undefined }),
    }
  }

  private async pull(): Promise<Batch | undefined> {
    const r = await this.it.next()
    if (r.done) this.done = true
    return r.done ? undefined : r.value
  }

  async close(): Promise<void> {
    await this.it.return?.()
  }
}
