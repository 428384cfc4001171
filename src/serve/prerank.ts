/**
 * Twin-tower pre-ranking (resflow-twin runs, see models/resflow-twin.ts and export/twin.ts): thousands
 * of candidates named by id, scored per request with one user-tower run and dot products in JS.
 *
 * At load: every item row goes through the item tower once (in batches); its vectors are stored
 * contiguously, one row per item in build order of the tasks, [v_1 ‖ … ‖ v_K] (K tasks, V = vectorDim):
 *   vectors  float32 [N_items, K·V]
 * Per request: the context (user-side features) is encoded once and the user tower run once → u, [K·V]
 * in the same order; then for each candidate, with its row r of `vectors`,
 *   d_k = ⟨u_k, v_k(r)⟩,  z_k composed along the task graph exactly as training (TwinComposition),
 *   p_k = σ(z_k),  score = the run's fusion of the p_k,
 * and the top K by score are selected with a size-K heap (O(N log K), no full sort). For a chain with
 * logit residuals, z_K = [u_1 ‖ … ‖ u_K] · [v_1 ‖ … ‖ v_K]: the cumulative sum of the d_k.
 *
 * No HTTP here: a route parses its body into (context, ids, k) with prerank-request.ts and calls `rank`
 * (see docs/prerank.md).
 */
import { DataError, RequestError } from '../errors.js'
import { Program } from '../engine/runtime.js'
import type { Fusion } from '../metrics/fusion.js'
import type { RawRow } from '../export/codec.js'
import { exportRunAsync } from '../export/predictor.js'
import type { Batch } from '../data/types.js'
import {
  type SideFeeds,
  type TwinComposition,
  type TwinExport,
  sideEncoder,
  sideFeedsOfBatch,
  twinOfRun,
} from '../export/twin.js'
import { type ItemId, buildIndex } from './prerank-index.js'
import { scoreCandidates, scorePlan } from './prerank-score.js'
import { topK } from './top-k.js'

export { topK }

export type { ItemId }

export interface PreRankOptions {
  /** the column of the item rows that identifies an item, e.g. "item_id" */
  itemKey: string
  /** onnxruntime intra-op threads of each tower (default 1) */
  threads?: number
  /** rows per item-tower run at load (default 4096) */
  loadBatchRows?: number
}

export interface PrerankHit {
  id: ItemId
  /** the candidate's position in the request's id list */
  position: number
  /** fused score (the run's fusion of the task probabilities) */
  score: number
  /** p_k per task, funnel order */
  probs: Record<string, number>
}

export interface PrerankResult {
  /** best first; ties keep request order */
  hits: PrerankHit[]
  /** how many candidates were scored */
  candidates: number
}

/** Every candidate's scores, in request order. */
export interface CandidateScores {
  /** per task, [N] */
  probs: Record<string, Float32Array>
  /** fused score, [N] (float64: a multiplicative fusion of small probabilities) */
  score: Float64Array
}

export interface PreRanker {
  readonly model: string
  readonly tasks: readonly string[]
  readonly fusion: Fusion
  readonly composition: TwinComposition
  /** content hash of the run (as Predictor.version) */
  readonly version: string
  readonly itemKey: string
  readonly itemCount: number
  /** item vectors, [N_items, K·V], tasks in composition.nodes order */
  readonly vectors: Float32Array
  /** row of `vectors` for an item id, or -1 */
  itemIndex(id: ItemId): number
  /** u = [u_1 ‖ … ‖ u_K] of a context (user-side raw features), tasks in composition.nodes order */
  userVectors(context: RawRow): Promise<Float32Array>
  /** scores of every candidate; unknown ids → RequestError naming them */
  scoreIds(context: RawRow, ids: readonly ItemId[]): Promise<CandidateScores>
  /** the `k` best candidates by fused score; unknown ids → RequestError naming them */
  rank(context: RawRow, ids: readonly ItemId[], k: number): Promise<PrerankResult>
  release(): Promise<void>
}

const MAX_NAMED = 10

/**
 * Builds the pre-ranker of a twin export over `items` (raw item rows: the item key and every item-side
 * feature; other columns are ignored). Item vectors are computed here, once.
 */
export async function createPreRanker(
  twin: TwinExport,
  items: readonly RawRow[],
  opts: PreRankOptions,
): Promise<PreRanker> {
  const index = buildIndex(items, opts.itemKey)
  const encodeItem = sideEncoder(twin, 'item')
  const itemFeeds = (lo: number, hi: number): SideFeeds => {
    try {
      return encodeItem(items.slice(lo, hi), 'items')
    } catch (err) {
      // encodeRows names rows of this batch: items[i] → items[lo + i]
      const at = (s: string) => s.replace(/^items\[(\d+)\]/, (_, i: string) => `items[${lo + Number(i)}]`)
      if (err instanceof DataError)
        throw new DataError(at(err.message), { field: err.field && at(err.field), cause: err })
      throw err
    }
  }
  return buildPreRanker(twin, { size: items.length, key: opts.itemKey, row: index.lookup, feeds: itemFeeds }, opts)
}

/**
 * Items already encoded in the full model's layout, e.g. an item store's table (serve/item-store.ts
 * `ItemTable` has this shape): its rows, how an id finds its row, and the encoded batch of all rows.
 */
export interface EncodedItems {
  /** the key column */
  readonly key: string
  readonly size: number
  /** the row of an id, or -1 */
  row(id: unknown): number
  /** rows 0..size-1, every feature encoded (columns of the other side may hold anything) */
  batch(): Batch
}

/** Builds the pre-ranker of a twin export over items already encoded (an item store): their item vectors, once. */
export async function createPreRankerFromItems(
  twin: TwinExport,
  items: EncodedItems,
  opts: Omit<PreRankOptions, 'itemKey'> = {},
): Promise<PreRanker> {
  const batch = items.batch()
  const feeds = (lo: number, hi: number) => sideFeedsOfBatch(twin, 'item', batch, lo, hi)
  return buildPreRanker(twin, { size: items.size, key: items.key, row: (id) => items.row(id), feeds }, opts)
}

/** Where the item vectors come from: n items, the row of an id, and the item tower's feeds of rows [lo, hi). */
interface ItemSource {
  size: number
  key: string
  row(id: ItemId): number
  feeds(lo: number, hi: number): SideFeeds
}

async function buildPreRanker(
  twin: TwinExport,
  source: ItemSource,
  opts: Omit<PreRankOptions, 'itemKey'>,
): Promise<PreRanker> {
  const { composition, run } = twin
  const K = composition.nodes.length
  const V = composition.vectorDim
  const KV = K * V
  const order = composition.nodes.map((n) => n.task)
  const threads = opts.threads ?? 1
  const encodeUser = sideEncoder(twin, 'user')
  const encodeContext = (context: RawRow): SideFeeds => {
    try {
      return encodeUser([context], 'body.context')
    } catch (err) {
      // a bad context is the request's fault
      const at = (s: string) => s.replace('body.context[0]', 'body.context')
      if (err instanceof DataError)
        throw new RequestError(at(err.message), { field: err.field ? at(err.field) : 'body.context', cause: err })
      throw err
    }
  }

  // item vectors, batch by batch through the item tower
  const N = source.size
  const vectors = new Float32Array(N * KV)
  const step = opts.loadBatchRows ?? 4096
  const itemProgram = await Program.create(twin.item.graph.bytes, twin.item.graph.inputs, twin.item.graph.outputs, {
    threads,
  })
  try {
    for (let lo = 0; lo < N; lo += step) {
      const { feeds, dims, size } = source.feeds(lo, Math.min(N, lo + step))
      const out = await itemProgram.run(feeds, dims)
      order.forEach((task, k) => {
        const v = out[`item.${task}`]
        for (let b = 0; b < size; b++) vectors.set(v.subarray(b * V, (b + 1) * V), (lo + b) * KV + k * V)
      })
    }
  } finally {
    await itemProgram.release()
  }
  // compiled after the item vectors, so a bad item row leaves nothing to release
  const userProgram = await Program.create(twin.user.graph.bytes, twin.user.graph.inputs, twin.user.graph.outputs, {
    threads,
  })

  const plan = scorePlan(composition)
  const at = new Map(order.map((t, k) => [t, k]))

  const userVectors = async (context: RawRow): Promise<Float32Array> => {
    const encoded = encodeContext(context)
    const out = await userProgram.run(encoded.feeds, encoded.dims)
    const u = new Float32Array(KV)
    order.forEach((task, k) => {
      u.set(out[`user.${task}`].subarray(0, V), k * V)
    })
    return u
  }

  // Scratch buffers shared by all requests: filled and read only in the synchronous part of a request
  // (after its user-tower run), so two requests never use them at once. They grow to the largest request.
  let rowsBuf = new Int32Array(0)
  let zBuf = new Float64Array(0)
  let scoreBuf = new Float64Array(0)

  /** The store rows of the ids, in scratch; unknown ids → RequestError naming them. */
  const rowsOf = (ids: readonly ItemId[]): Int32Array => {
    const n = ids.length
    if (rowsBuf.length < n) {
      rowsBuf = new Int32Array(n)
      zBuf = new Float64Array(K * n)
      scoreBuf = new Float64Array(n)
    }
    const rows = rowsBuf.subarray(0, n)
    const unknown: string[] = []
    let missing = 0
    for (let i = 0; i < n; i++) {
      const id = ids[i]
      const r = source.row(id)
      if (r < 0) {
        if (unknown.length < MAX_NAMED) unknown.push(JSON.stringify(id))
        missing++
      } else rows[i] = r
    }
    if (missing > 0) {
      const more = missing > unknown.length ? ` and ${missing - unknown.length} more` : ''
      throw new RequestError(
        `body.item_ids: ${missing} unknown item id(s): ${unknown.join(', ')}${more} (the item store holds ${N} items keyed by ${source.key})`,
        { field: 'body.item_ids', status: 422 },
      )
    }
    return rows
  }

  const scoreRows = (u: Float32Array, rows: Int32Array, probs: Float32Array[] | null): void =>
    scoreCandidates(plan, u, vectors, rows, zBuf, scoreBuf, probs)

  return {
    model: run.model.name,
    tasks: composition.tasks,
    fusion: composition.fusion,
    composition,
    version: run.version,
    itemKey: source.key,
    itemCount: N,
    vectors,
    itemIndex: (id) => source.row(id),
    userVectors,
    async scoreIds(context, ids) {
      const u = await userVectors(context)
      const rows = rowsOf(ids)
      const probs = order.map(() => new Float32Array(ids.length))
      scoreRows(u, rows, probs)
      return {
        probs: Object.fromEntries(composition.tasks.map((t) => [t, probs[at.get(t)!]])),
        score: scoreBuf.slice(0, ids.length),
      }
    },
    async rank(context, ids, k) {
      if (!Number.isInteger(k) || k < 1)
        throw new RequestError(`body.k: expected a positive integer, got ${JSON.stringify(k)}`, { field: 'body.k' })
      const u = await userVectors(context)
      const rows = rowsOf(ids)
      scoreRows(u, rows, null) // probabilities only for the hits, below, from z
      const n = ids.length
      const hits = Array.from(topK(scoreBuf.subarray(0, n), k), (pos) => ({
        id: ids[pos],
        position: pos,
        score: scoreBuf[pos],
        probs: Object.fromEntries(composition.tasks.map((t) => [t, 1 / (1 + Math.exp(-zBuf[at.get(t)! * n + pos]))])),
      }))
      return { hits, candidates: n }
    },
    release: () => userProgram.release(),
  }
}

/**
 * Reads a resflow-twin run directory and builds its pre-ranker over `items`. As loadPredictor, the run's
 * files are read and checked asynchronously first, so a server keeps answering while a reload reads them.
 */
export async function loadPreRanker(
  runDir: string,
  items: readonly RawRow[],
  opts: PreRankOptions,
): Promise<PreRanker> {
  return createPreRanker(twinOfRun(await exportRunAsync(runDir)), items, opts)
}
