/**
 * The loaded model, swappable while requests run. A request acquires the current predictor and
 * releases it when done; a reload loads the new version first (the old one keeps serving), swaps,
 * and frees the old session once its last in-flight request has finished. Reloads are serialised, and
 * a failed reload leaves the old version in place.
 */
import type { Predictor } from '../export/predictor.js'
import type { ItemStore } from './item-store.js'
import type { ItemSplit } from './item-split.js'
import type { PreRanker } from './prerank.js'
import type { RowSplit } from './row-split.js'

/**
 * A predictor as served: with the item store loaded with it (serve --items), which reloads with it, and
 * for a resflow-twin run the pre-ranker over the store's item vectors; for other runs, the item split
 * that serves by-id requests (item-split.ts).
 */
export type Served = Predictor & {
  readonly items?: ItemStore
  readonly prerank?: PreRanker
  readonly split?: ItemSplit
  /** rows whose context-side columns repeat: the first layers on the item columns only (row-split.ts) */
  readonly rowSplit?: RowSplit
}

export class ModelSlot {
  private current: Served
  private readonly users = new Map<Served, number>()
  private readonly retired = new Set<Served>()
  private pending: Promise<unknown> = Promise.resolve()

  constructor(
    initial: Served,
    private readonly load: () => Promise<Served>,
  ) {
    this.current = initial
  }

  get predictor(): Served {
    return this.current
  }

  acquire(): Served {
    const p = this.current
    this.users.set(p, (this.users.get(p) ?? 0) + 1)
    return p
  }

  release(p: Served): void {
    const n = (this.users.get(p) ?? 1) - 1
    if (n > 0) {
      this.users.set(p, n)
      return
    }
    this.users.delete(p)
    if (this.retired.delete(p)) void p.release()
  }

  /** Loads a new version and swaps it in; resolves with it (rejects, keeping the old one, on failure). */
  reload(): Promise<Served> {
    const next = this.pending.then(async () => {
      const fresh = await this.load()
      const old = this.current
      this.current = fresh
      if (this.users.has(old)) this.retired.add(old)
      else await old.release()
      return fresh
    })
    this.pending = next.catch(() => undefined)
    return next
  }

  /** Waits for a running reload, then frees the current predictor (shutdown). */
  async close(): Promise<void> {
    await this.pending
    await this.current.release()
  }
}
