/**
 * What `resflow serve` loads, as a library call: the run's predictor and, when asked, the item store encoded
 * with that run's preprocessing (item-store.ts), attached to it. The ModelSlot calls this again on reload,
 * so the model and its items are always swapped together; a bad item file fails the reload (the old
 * model and items keep serving) as a bad run does. For a resflow-twin run, the item vectors of the store
 * are computed here too (prerank.ts), so POST /v1/prerank scores candidates by dot products. For other runs the
 * item parts of the first layers are (item-split.ts), so by-id requests skip most of the model's work, and
 * the first layers' item halves are compiled into a second graph (row-split.ts), so full rows that repeat
 * the context run the first layers on the item columns only.
 */
import type { Preprocessing } from '../data/preprocessing.js'
import { ConfigError } from '../errors.js'
import { exportSplitGraph, featureLayout } from '../export/onnx.js'
import { exportRunAsync, predictorOf } from '../export/predictor.js'
import { twinOfRun } from '../export/twin.js'
import { type ItemSplit, createItemSplit } from './item-split.js'
import { prepareLayers } from './item-projection.js'
import { type ColumnPlan, compiledCodec } from './columnar.js'
import { type ItemStore, type ItemStoreOptions, loadItemStore } from './item-store.js'
import type { Served } from './model-slot.js'
import { type PreRanker, createPreRankerFromItems } from './prerank.js'
import { type RowSplit, createRowSplit } from './row-split.js'

export interface ServedOptions {
  /** onnxruntime intra-op threads (default 1) */
  threads?: number
  /** an item file (CSV or Parquet) and its key column */
  items?: ItemStoreOptions & { file: string }
  /** with items: precompute the item side of the first layers for by-id requests (item-split.ts); default true */
  itemSplit?: boolean
  /**
   * rows and columns requests whose context-side columns are the same in every row run the first layers on
   * the item columns only (row-split.ts); item-side: the item store's columns, else the schema's `side: item`
   * features. Default true
   */
  rowSplit?: boolean
}

export async function loadServed(runDir: string, opts: ServedOptions = {}): Promise<Served> {
  // the exported run is kept: the splits need its weights, the pre-ranker its towers
  const run = await exportRunAsync(runDir)
  const p = await predictorOf(run, { threads: opts.threads })
  let items: ItemStore | undefined
  let prerank: PreRanker | undefined
  let split: ItemSplit | null = null
  let rowSplit: RowSplit | null = null
  try {
    const compiled = compiledCodec(p.codec)
    if (opts.items) {
      if (!compiled)
        throw new ConfigError(
          `${opts.items.file}: an item store needs a codec compiled from a fitted preprocessing; this run's codec has none`,
          { file: opts.items.file },
        )
      items = await loadItemStore(opts.items.file, compiled, opts.items)
    }
    const store = items
    if (store && p.model === 'resflow-twin')
      prerank = await createPreRankerFromItems(twinOfRun(run), store, { threads: opts.threads })
    const isItem = store ? (c: ColumnPlan) => store.holds(c) : compiled && schemaItemSide(compiled.prep)
    const wantItemSplit = store && !prerank && opts.itemSplit !== false
    const wantRowSplit = compiled && isItem && p.model !== 'resflow-twin' && opts.rowSplit !== false
    const graph =
      wantItemSplit || wantRowSplit ? exportSplitGraph(run.model, run.weights, { fusion: run.manifest.fusion }) : null
    // both splits start from the same prepared first layers (one item side: the store's, else the schema's)
    const layers = graph && isItem ? await prepareLayers(graph.layers, run.model, run.weights, compiled!, isItem) : null
    if (graph && layers && store && wantItemSplit)
      split = await createItemSplit(graph, layers, run.model, store, compiled!, { threads: opts.threads })
    if (layers && wantRowSplit)
      rowSplit = await createRowSplit(layers, run.model, run.weights, compiled, featureLayout(run.model), {
        threads: opts.threads,
        fusion: run.manifest.fusion,
      })
    if (!items && !rowSplit) return p
    // the same model and codec, with its items and splits (a new object: the slot tells versions apart by identity)
    const ranker = prerank
    const itemSplit = split
    const rows = rowSplit
    const release = async () => {
      await p.release()
      await ranker?.release()
      await itemSplit?.release()
      await rows?.release()
    }
    return {
      ...p,
      ...(items ? { items } : {}),
      ...(ranker ? { prerank: ranker } : {}),
      ...(itemSplit ? { split: itemSplit } : {}),
      ...(rows ? { rowSplit: rows } : {}),
      release,
    }
  } catch (err) {
    await p.release()
    await prerank?.release()
    await split?.release()
    await rowSplit?.release()
    throw err
  }
}

/** The schema's item side: columns whose every feature is marked `side: item`; undefined when none is. */
function schemaItemSide(prep: Preprocessing): ((c: ColumnPlan) => boolean) | undefined {
  const item = new Map<string, boolean>()
  for (const f of [...prep.sparse, ...prep.multi, ...prep.buckets, ...prep.dense])
    item.set(f.column, (item.get(f.column) ?? true) && f.side === 'item')
  if (![...item.values()].some(Boolean)) return undefined
  return (c) => item.get(c.feature.name) === true
}
