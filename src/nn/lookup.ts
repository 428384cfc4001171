/**
 * Single-valued embedding lookups done inside the graph, on the batch's unique rows.
 *
 * The tables stay in typed arrays on the JS side (nn/embedding.ts). Per step, for each embedding dim D,
 * the rows the batch touches (over every single-valued table of that dim) are copied once into
 * `rows.d<D>` [U, D], and each id is replaced by its row's position in that list: `ids.d<D>` [B, F]
 * (int64, one column per feature). The graph gathers the vectors itself, and the gradient it returns,
 * `grad.rows.d<D>` [U, D], is already summed per row (Gather's gradient is a ScatterND add), so the JS
 * side runs the lazy optimizer on U rows instead of summing B·F gradients. On small vocabularies
 * (U ≪ B·F) that removes almost all per-step JS work; on large ones the summing moves into C++.
 */
import { DataError } from '../errors.js'
import type { Tensor } from '../engine/node.js'
import { gather, reshape, slice } from '../engine/ops.js'
import type { EmbeddingTable } from './embedding.js'
import { lookupIdsName, lookupRowsName, uniqueRowsDim } from './graph-names.js'
import type { BuildContext } from './params.js'

/** One batch's lookup feeds for a group, and the unique rows behind them. */
export interface LookupBatch {
  /** [U, D] the unique rows' current weights (capacity B·F rows; the feed is the first U) */
  rows: Float32Array
  /** [B, F] positions, int64; written through `ids32` (low words), the high words stay 0 */
  ids: BigInt64Array
  ids32: Int32Array
  /** table index and row of each unique position */
  table: Int32Array
  row: Int32Array
  count: number
  /** true while this batch's rows are marked in the group (see `prepare`) */
  marked: boolean
  /** [U, D] summed row gradients, when they are summed here (made on first use, capacity as `rows`) */
  grad: Float32Array | null
}

export class LookupGroup {
  readonly dim: number
  /** per table: row → 1 + position in the marked batch, 0 = not in it */
  private readonly marks: Int32Array[]

  constructor(
    readonly names: readonly string[],
    readonly tables: readonly EmbeddingTable[],
  ) {
    this.dim = tables[0].spec.dim
    this.marks = tables.map((t) => new Int32Array(t.rows))
  }

  get rowsInput(): string {
    return lookupRowsName(this.dim)
  }

  get idsInput(): string {
    return lookupIdsName(this.dim)
  }

  /** The symbolic dim of the unique-row count. */
  get uniqueDim(): string {
    return uniqueRowsDim(this.dim)
  }

  /**
   * Declares the group's inputs; returns each feature's looked-up vectors [B, D], and the gathered
   * [B, F, D] tensor itself (whose gradient `sumOccurrences` sums when the graph does not).
   */
  build(ctx: BuildContext): { vectors: Record<string, Tensor>; gathered: Tensor } {
    const d = this.dim
    const f = this.names.length
    const rows = ctx.graph.input(this.rowsInput, [this.uniqueDim, d])
    const ids = ctx.graph.input(this.idsInput, ['B', f], 'int64')
    const gathered = gather(rows, ids) // [B, F, D]
    const flat = reshape(gathered, ['B', f * d]) // features side by side
    const vectors: Record<string, Tensor> = {}
    this.names.forEach((name, i) => (vectors[name] = slice(flat, 1, i * d, (i + 1) * d)))
    return { vectors, gathered }
  }

  /**
   * Sums per unique row the gradient of the gathered vectors (`occ`, [B, F, D]) into `lb.grad` and
   * returns it ([U, D]): what the graph's ScatterND add computes, done here where that kernel would
   * run on several threads (its parallel loop adds into shared rows without synchronisation).
   */
  sumOccurrences(lb: LookupBatch, size: number, occ: Float32Array): Float32Array {
    const d = this.dim
    const out = (lb.grad ??= new Float32Array(lb.rows.length))
    out.fill(0, 0, lb.count * d)
    const n = size * this.names.length
    const ids32 = lb.ids32
    for (let k = 0; k < n; k++) {
      const dst = ids32[2 * k] * d
      const src = k * d
      for (let j = 0; j < d; j++) out[dst + j] += occ[src + j]
    }
    return out.subarray(0, lb.count * d)
  }

  /** Buffers for batches of up to `size` rows. Shared memory: the onnxruntime worker reads them in place. */
  allocate(size: number): LookupBatch {
    const f = this.names.length
    const ids = new BigInt64Array(new SharedArrayBuffer(size * f * 8))
    return {
      rows: new Float32Array(new SharedArrayBuffer(size * f * this.dim * 4)),
      ids,
      ids32: new Int32Array(ids.buffer),
      table: new Int32Array(size * f),
      row: new Int32Array(size * f),
      count: 0,
      marked: false,
      grad: null,
    }
  }

  /**
   * Fills `lb` from a batch's id columns (one per table, in order): unique rows, their current weights
   * and the positions. With `mark`, the unique rows stay marked (for `applyStep`) until `unmark(lb)`;
   * without, every occurrence gets its own row (no bookkeeping: inference).
   */
  prepare(cols: readonly Int32Array[], lb: LookupBatch, mark: boolean): void {
    const f = this.names.length
    const size = cols[0].length
    const { ids32, table: ut, row: ur } = lb
    let n = 0
    try {
      for (let t = 0; t < f; t++) {
        const ids = cols[t]
        const rows = this.tables[t].rows
        const m = this.marks[t]
        for (let b = 0; b < size; b++) {
          const r = ids[b]
          if (!(r >= 0 && r < rows))
            throw new DataError(
              `feature "${this.names[t]}": id ${r} at batch row ${b} is outside its embedding table (${rows} rows)`,
              { field: this.names[t] },
            )
          let p: number
          if (mark) {
            p = m[r] - 1
            if (p < 0) {
              p = n++
              m[r] = p + 1
              ut[p] = t
              ur[p] = r
            }
          } else {
            p = n++
            ut[p] = t
            ur[p] = r
          }
          ids32[2 * (b * f + t)] = p
        }
      }
    } catch (err) {
      // a bad id: the marks set so far must not outlive the failed batch
      if (mark) for (let u = 0; u < n; u++) this.marks[ut[u]][ur[u]] = 0
      throw err
    }
    lb.count = n
    lb.marked = mark
    const d = this.dim
    const out = lb.rows
    for (let u = 0; u < n; u++) {
      const tb = this.tables[ut[u]]
      const data = tb.data
      const src = ur[u] * tb.stride
      const dst = u * d
      for (let j = 0; j < d; j++) out[dst + j] = data[src + j]
    }
  }

  /** Clears the marks `prepare` left for `lb`. */
  unmark(lb: LookupBatch): void {
    if (!lb.marked) return
    for (let u = 0; u < lb.count; u++) this.marks[lb.table[u]][lb.row[u]] = 0
    lb.marked = false
  }

  /** The feeds of a prepared batch. */
  feeds(lb: LookupBatch, size: number): { rows: Float32Array; ids: BigInt64Array } {
    return { rows: lb.rows.subarray(0, lb.count * this.dim), ids: lb.ids.subarray(0, size * this.names.length) }
  }

  /**
   * One training step's update from `grad` [U, D] (the graph's `grad.rows.d<D>` for batch `lb`): every
   * table's optimizer step advances; the rows that the marked batch `next` reads are updated now and
   * copied into its feed; the others are returned, to be updated with `applyDeferred` while the next
   * step runs.
   */
  applyStep(lb: LookupBatch, grad: Float32Array, next: LookupBatch | null): Int32Array {
    for (const t of this.tables) t.advance()
    const d = this.dim
    const deferred: number[] = []
    for (let u = 0; u < lb.count; u++) {
      const ti = lb.table[u]
      const r = lb.row[u]
      const at = next ? this.marks[ti][r] - 1 : -1
      if (at < 0) {
        deferred.push(u)
        continue
      }
      const tb = this.tables[ti]
      tb.applyGradient(r, grad, u * d)
      const src = r * tb.stride
      const dst = at * d
      for (let j = 0; j < d; j++) next!.rows[dst + j] = tb.data[src + j]
    }
    return Int32Array.from(deferred)
  }

  /** Updates the rows `applyStep` deferred (same optimizer step: call before the next `applyStep`). */
  applyDeferred(lb: LookupBatch, grad: Float32Array, deferred: Int32Array): void {
    const d = this.dim
    for (let i = 0; i < deferred.length; i++) {
      const u = deferred[i]
      this.tables[lb.table[u]].applyGradient(lb.row[u], grad, u * d)
    }
  }
}

/** Groups the single-valued tables by dim, in the model's feature order. */
export function lookupGroups(tables: ReadonlyMap<string, EmbeddingTable>): LookupGroup[] {
  const byDim = new Map<number, { names: string[]; tables: EmbeddingTable[] }>()
  for (const [name, t] of tables) {
    if (t.spec.pooling) continue
    let g = byDim.get(t.spec.dim)
    if (!g) byDim.set(t.spec.dim, (g = { names: [], tables: [] }))
    g.names.push(name)
    g.tables.push(t)
  }
  return [...byDim.values()].map((g) => new LookupGroup(g.names, g.tables))
}
