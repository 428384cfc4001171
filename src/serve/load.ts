/**
 * What `resflow serve` loads, as a library call: the run's predictor and, when asked, the item store encoded
 * with that run's preprocessing (item-store.ts), attached to it. The ModelSlot calls this again on reload,
 * so the model and its items are always swapped together; a bad item file fails the reload (the old
 * model and items keep serving) as a bad run does.
 */
import { ConfigError } from '../errors.js'
import { type RunDeps, loadPredictor } from '../export/predictor.js'
import { compiledCodec } from './columnar.js'
import { type ItemStoreOptions, loadItemStore } from './item-store.js'
import type { Served } from './model-slot.js'

export interface ServedOptions {
  /** onnxruntime intra-op threads (default 1) */
  threads?: number
  /** an item file (CSV or Parquet) and its key column */
  items?: ItemStoreOptions & { file: string }
}

export async function loadServed(runDir: string, deps: RunDeps, opts: ServedOptions = {}): Promise<Served> {
  const p = await loadPredictor(runDir, deps, { threads: opts.threads })
  if (!opts.items) return p
  try {
    const compiled = compiledCodec(p.codec)
    if (!compiled) throw new ConfigError(`${opts.items.file}: an item store needs a codec compiled from a fitted preprocessing; this run's codec has none`, { file: opts.items.file })
    // the same model and codec, with its items (a new object: the slot tells versions apart by identity)
    return { ...p, items: await loadItemStore(opts.items.file, compiled, opts.items) }
  } catch (err) {
    await p.release()
    throw err
  }
}
