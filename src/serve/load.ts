/**
 * What `resflow serve` loads, as a library call: the run's predictor and, when asked, the item store encoded
 * with that run's preprocessing (item-store.ts), attached to it. The ModelSlot calls this again on reload,
 * so the model and its items are always swapped together; a bad item file fails the reload (the old
 * model and items keep serving) as a bad run does. For a resflow-twin run, the item vectors of the store
 * are computed here too (prerank.ts), so POST /v1/prerank scores candidates by dot products. For other runs the
 * item parts of the first layers are (item-split.ts), so by-id requests skip most of the model's work.
 */
import { ConfigError } from '../errors.js'
import { exportSplitGraph } from '../export/onnx.js'
import { exportRunAsync, loadPredictor, predictorOf } from '../export/predictor.js'
import { twinOfRun } from '../export/twin.js'
import { type ItemSplit, createItemSplit } from './item-split.js'
import { compiledCodec } from './columnar.js'
import { type ItemStoreOptions, loadItemStore } from './item-store.js'
import type { Served } from './model-slot.js'
import { type PreRanker, createPreRankerFromItems } from './prerank.js'

export interface ServedOptions {
  /** onnxruntime intra-op threads (default 1) */
  threads?: number
  /** an item file (CSV or Parquet) and its key column */
  items?: ItemStoreOptions & { file: string }
  /** with items: precompute the item side of the first layers for by-id requests (item-split.ts); default true */
  itemSplit?: boolean
}

export async function loadServed(runDir: string, opts: ServedOptions = {}): Promise<Served> {
  if (!opts.items) return loadPredictor(runDir, { threads: opts.threads })
  // the exported run is kept: the item split needs its weights, the pre-ranker its towers
  const run = await exportRunAsync(runDir)
  const p = await predictorOf(run, { threads: opts.threads })
  let prerank: PreRanker | undefined
  let split: ItemSplit | null = null
  try {
    const compiled = compiledCodec(p.codec)
    if (!compiled)
      throw new ConfigError(
        `${opts.items.file}: an item store needs a codec compiled from a fitted preprocessing; this run's codec has none`,
        { file: opts.items.file },
      )
    const items = await loadItemStore(opts.items.file, compiled, opts.items)
    if (p.model === 'resflow-twin')
      prerank = await createPreRankerFromItems(twinOfRun(run), items, {
        threads: opts.threads,
      })
    else if (opts.itemSplit !== false) {
      const graph = exportSplitGraph(run.model, run.weights, { fusion: run.manifest.fusion })
      if (graph)
        split = await createItemSplit(graph, run.model, run.weights, items, compiled, { threads: opts.threads })
    }
    // the same model and codec, with its items (a new object: the slot tells versions apart by identity)
    const ranker = prerank
    const itemSplit = split
    const release = async () => {
      await p.release()
      await ranker?.release()
      await itemSplit?.release()
    }
    return { ...p, items, ...(ranker ? { prerank: ranker } : {}), ...(itemSplit ? { split: itemSplit } : {}), release }
  } catch (err) {
    await p.release()
    await prerank?.release()
    await split?.release()
    throw err
  }
}
