/**
 * A batch turned into the feeds of the session's programs (step graph and inference graph,
 * train/step-graph.ts): each lookup group's unique rows and positions (nn/lookup.ts), the packed
 * input (pooled vectors, then dense values), labels, fresh dropout masks and the parameters. The
 * buffers are reused from step to step and are shared memory, so the onnxruntime worker thread reads
 * them without a copy; training keeps two sets (by `prefix`, one per step parity), as the next batch
 * is read while the current step still runs.
 */
import type { Rng } from '../engine/rng.js'
import type { Feed } from '../engine/runtime.js'
import type { Batch, MultiColumn } from '../data/types.js'
import { DataError } from '../errors.js'
import type { EmbeddingTable, PackedLayout } from '../nn/embedding.js'
import { DENSE_INPUT, FEATURES_INPUT, labelName } from '../nn/graph-names.js'
import type { LookupBatch, LookupGroup } from '../nn/lookup.js'
import type { DropoutMask, ParamStore } from '../nn/params.js'
import type { Model } from '../models/types.js'

/** A batch read for training: its checked copy and its feeds. */
export interface Prepared {
  batch: Batch
  feeds: Record<string, Feed>
  dims: Record<string, number>
  /** per lookup group (same order), the batch's unique rows */
  lookups: LookupBatch[]
}

export interface StepFeedsOptions {
  model: Model
  params: ParamStore
  tables: ReadonlyMap<string, EmbeddingTable>
  groups: readonly LookupGroup[]
  layout: PackedLayout
  /** the step graph's dropout inputs, filled from `rng` */
  dropouts: readonly DropoutMask[]
  rng: Rng
}

export class StepFeeds {
  private readonly buffers = new Map<string, Float32Array>()
  private readonly intBuffers = new Map<string, Int32Array>()
  private readonly lookupBuffers = new Map<string, LookupBatch>()

  constructor(private readonly o: StepFeedsOptions) {}

  private buffer(key: string, size: number): Float32Array {
    let b = this.buffers.get(key)
    if (!b || b.length !== size) {
      b = new Float32Array(new SharedArrayBuffer(size * 4)) // shared: the worker thread reads it without a copy
      this.buffers.set(key, b)
    }
    return b
  }

  /** A batch's column for one table, checked: present and one row (or one list) per batch row. */
  private column(batch: Batch, name: string, table: EmbeddingTable): Int32Array | MultiColumn {
    if (table.spec.pooling) {
      const col = batch.multi[name]
      if (!col) throw new DataError(`batch has no multi-valued column "${name}"`, { field: name })
      if (col.offsets.length !== batch.size + 1)
        throw new DataError(
          `multi-valued column "${name}" has ${col.offsets.length - 1} rows, the batch has ${batch.size}`,
          { field: name },
        )
      return col
    }
    const ids = batch.sparse[name]
    if (!ids) throw new DataError(`batch has no sparse column "${name}"`, { field: name })
    if (ids.length !== batch.size)
      throw new DataError(`sparse column "${name}" has ${ids.length} rows, the batch has ${batch.size}`, {
        field: name,
      })
    return ids
  }

  /** A batch's label column for one task, checked. */
  private labelColumn(batch: Batch, task: string): Float32Array {
    const y = batch.labels[task]
    if (!y) throw new DataError(`batch has no label column "${task}"`, { field: task })
    if (y.length !== batch.size)
      throw new DataError(`label column "${task}" has ${y.length} rows, the batch has ${batch.size}`, { field: task })
    return y
  }

  /**
   * Pools a training batch's multi-valued features into their columns of its packed input (a no-op
   * without any): called once every table has the previous step's update.
   */
  gatherPooled(prepared: Prepared): void {
    this.pool(prepared.batch, prepared.feeds[FEATURES_INPUT] as Float32Array)
  }

  private pool(batch: Batch, packed: Float32Array): void {
    const { width, offsets } = this.o.layout
    for (const [name, table] of this.o.tables) {
      if (table.spec.pooling)
        table.gatherPooled(this.column(batch, name, table) as MultiColumn, packed, width, offsets[name])
    }
  }

  /** A lookup group's buffers for one purpose (`prefix`), grown to the batch size. */
  private lookupBatch(prefix: string, i: number, size: number): LookupBatch {
    const key = `${prefix}${i}`
    let lb = this.lookupBuffers.get(key)
    if (!lb || lb.ids32.length < 2 * size * this.o.groups[i].names.length) {
      lb = this.o.groups[i].allocate(size)
      this.lookupBuffers.set(key, lb)
    }
    return lb
  }

  /**
   * Feeds common to both programs: each lookup group's unique rows and positions, the packed input
   * (pooled vectors, then dense values) and the parameters. Training (`mark`) keeps the unique rows
   * marked for the pipelined update and leaves the pooled vectors for later (gathered after the
   * previous step's update).
   */
  private feeds(batch: Batch, prefix: string, mark: boolean): Prepared {
    const dims: Record<string, number> = { B: batch.size }
    const feeds: Record<string, Feed> = {}
    const lookups: LookupBatch[] = []
    const groups = this.o.groups
    try {
      groups.forEach((g, i) => {
        const lb = this.lookupBatch(prefix, i, batch.size)
        g.prepare(
          g.names.map((name, k) => this.column(batch, name, g.tables[k]) as Int32Array),
          lb,
          mark,
        )
        lookups.push(lb)
        const f = g.feeds(lb, batch.size)
        feeds[g.rowsInput] = f.rows
        feeds[g.idsInput] = f.ids
        dims[g.uniqueDim] = lb.count
      })
      this.packedFeed(batch, prefix, mark, feeds)
    } catch (err) {
      // a bad batch must not leave the groups already prepared marked
      lookups.forEach((lb, i) => groups[i].unmark(lb))
      throw err
    }
    for (const e of this.o.params.entries.values()) feeds[e.name] = e.values
    return { batch, feeds, dims, lookups }
  }

  /** The packed input: pooled vectors (not when training: gathered after the previous step's update), then dense values. */
  private packedFeed(batch: Batch, prefix: string, training: boolean, feeds: Record<string, Feed>): void {
    const { width, denseOffset, denseWidth } = this.o.layout
    if (width > 0) {
      const packed = this.buffer(`${prefix}${FEATURES_INPUT}`, batch.size * width)
      if (!training) this.pool(batch, packed)
      if (denseWidth > 0) {
        if (batch.dense.length !== batch.size * denseWidth)
          throw new DataError(
            `dense block has ${batch.dense.length} values, expected ${batch.size} rows × ${denseWidth} features`,
            { field: DENSE_INPUT },
          )
        const src = batch.dense
        for (let b = 0; b < batch.size; b++)
          packed.set(src.subarray(b * denseWidth, (b + 1) * denseWidth), b * width + denseOffset)
      }
      feeds[FEATURES_INPUT] = packed
    }
  }

  /** Inference feeds of a batch: every occurrence its own row, pooled vectors gathered now. */
  inferFeeds(batch: Batch): Prepared {
    return this.feeds(batch, 'i.', false)
  }

  /**
   * Training feeds of a batch (`prefix`: which set of buffers): the batch is validated and its ids and
   * labels copied (`ownBatch`: the source may reuse its buffers for the next batch while this step is in
   * flight); lookups (marked), dense, labels, fresh dropout masks. Pooled vectors: `gatherPooled` later.
   */
  trainFeeds(source: Batch, prefix: string): Prepared {
    const batch = this.ownBatch(source, prefix)
    const prepared = this.feeds(batch, prefix, true)
    const feeds = prepared.feeds
    for (const task of this.o.model.tasks) feeds[labelName(task)] = batch.labels[task]
    for (const d of this.o.dropouts) {
      const size = batch.size * (d.shape.slice(1) as number[]).reduce((a, b) => a * b, 1)
      const mask = this.buffer(`${prefix}${d.name}`, size)
      this.o.rng.fillMask(mask, d.rate, 1 / (1 - d.rate))
      feeds[d.name] = mask
    }
    return prepared
  }

  /** A batch whose id, list and label columns are validated copies owned by the session. */
  private ownBatch(batch: Batch, prefix: string): Batch {
    const ints = (key: string, src: Int32Array): Int32Array => {
      let b = this.intBuffers.get(key)
      if (!b || b.length !== src.length) {
        b = new Int32Array(src.length)
        this.intBuffers.set(key, b)
      }
      b.set(src)
      return b
    }
    const sparse: Record<string, Int32Array> = {}
    const multi: Record<string, MultiColumn> = {}
    for (const [name, table] of this.o.tables) {
      const col = this.column(batch, name, table)
      if (col instanceof Int32Array) sparse[name] = ints(`${prefix}ids.${name}`, col)
      else
        multi[name] = { offsets: ints(`${prefix}off.${name}`, col.offsets), ids: ints(`${prefix}ids.${name}`, col.ids) }
    }
    const labels: Record<string, Float32Array> = {}
    for (const task of this.o.model.tasks) {
      const y = this.labelColumn(batch, task)
      const copy = this.buffer(`${prefix}${labelName(task)}`, y.length)
      copy.set(y)
      labels[task] = copy
    }
    return { ...batch, sparse, multi, labels }
  }
}
