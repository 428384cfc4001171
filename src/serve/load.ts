/**
 * What `resflow serve` loads, as a library call: the run's predictor and, when asked, the item store encoded
 * with that run's preprocessing (item-store.ts), attached to it. The ModelSlot calls this again on reload,
 * so the model and its items are always swapped together; a bad item file fails the reload (the old
 * model and items keep serving) as a bad run does. For a resflow-twin run, the item vectors of the store
 * are computed here too (prerank.ts), so POST /v1/prerank scores candidates by dot products.
 */
import { ConfigError } from '../errors.js'
import { type RunDeps, loadPredictor } from '../export/predictor.js'
import { exportTwinRun } from '../export/twin.js'
import { compiledCodec } from './columnar.js'
import { type ItemStoreOptions, loadItemStore } from './item-store.js'
import type { Served } from './model-slot.js'
import { type PreRanker, createPreRankerFromItems } from './prerank.js'

export interface ServedOptions {
  /** onnxruntime intra-op threads (default 1) */
  threads?: number
  /** an item file (CSV or Parquet) and its key column */
  items?: ItemStoreOptions & { file: string }
}

export async function loadServed(runDir: string, deps: RunDeps, opts: ServedOptions = {}): Promise<Served> {
  const p = await loadPredictor(runDir, deps, { threads: opts.threads })
  if (!opts.items) return p
  let prerank: PreRanker | undefined
  try {
    const compiled = compiledCodec(p.codec)
    if (!compiled) throw new ConfigError(`${opts.items.file}: an item store needs a codec compiled from a fitted preprocessing; this run's codec has none`, { file: opts.items.file })
    const items = await loadItemStore(opts.items.file, compiled, opts.items)
    if (p.model === 'resflow-twin') prerank = await createPreRankerFromItems(exportTwinRun(runDir, deps), items, { threads: opts.threads })
    // the same model and codec, with its items (a new object: the slot tells versions apart by identity)
    const ranker = prerank
    const release = async () => {
      await p.release()
      await ranker?.release()
    }
    return { ...p, items, ...(ranker ? { prerank: ranker } : {}), release }
  } catch (err) {
    await p.release()
    await prerank?.release()
    throw err
  }
}
