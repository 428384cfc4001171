import type { Batch } from '../data/types.js'
import { ResflowError } from '../errors.js'

/**
 * Batches `trainBatches` may have read without training them: it reads one batch ahead of the step it
 * trains. Only this many of the last handed-out batches are kept: keeping them all held every batch of
 * the epoch until its end (or a checkpoint), and a 20M-row streamed epoch grew by its whole encoded size.
 */
const KEPT = 4

/**
 * An epoch's batches that training can stop reading and go on with later: `trainBatches` reads one
 * batch ahead and drops it when stopped, so the batches read but not trained are handed out again
 * first (the source is not advanced in between, so a reused buffer still holds them). The underlying
 * iterator is closed only by `close`.
 */
export class Resumable implements AsyncIterable<Batch> {
  private readonly it: Iterator<Batch> | AsyncIterator<Batch>
  private readonly held: Batch[] = []
  /** the last (at most KEPT) batches handed out since the last `trained` */
  private handedOut: Batch[] = []
  /** batches handed out since the last `trained` and let go of (older than the KEPT ones) */
  private dropped = 0
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
    const untrained = this.dropped + this.handedOut.length - n
    if (untrained < 0 || untrained > this.handedOut.length)
      throw new ResflowError(
        `resume: ${n} of ${this.dropped + this.handedOut.length} batches handed out were trained; only the last ${KEPT} are kept to hand out again`,
      )
    this.held.unshift(...this.handedOut.slice(this.handedOut.length - untrained))
    this.handedOut = []
    this.dropped = 0
  }

  [Symbol.asyncIterator](): AsyncIterator<Batch> {
    return {
      next: async () => {
        const b = this.held.shift() ?? (this.done ? undefined : await this.pull())
        if (!b) return { done: true, value: undefined }
        this.handedOut.push(b)
        if (this.handedOut.length > KEPT) {
          this.handedOut.shift()
          this.dropped++
        }
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
