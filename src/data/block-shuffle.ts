/**
 * Block + buffer shuffle: the epoch order for data streamed from disk (DiskTable), where a full permutation
 * would read rows one by one from all over the file.
 *
 * The rows are cut into blocks of `blockRows` consecutive rows. Each epoch:
 *   1. the blocks are put in a seeded Fisher–Yates order;
 *   2. consecutive runs of `bufferBlocks` blocks of that order form a buffer (a window), read into memory;
 *   3. the rows of a buffer are put in a seeded Fisher–Yates order of their own, and batches are cut from the
 *      buffers one after the other (a batch may span two buffers).
 * Every row is visited exactly once per epoch, and the order depends only on the seed (the trainer passes
 * one per epoch). Two rows of the same block always land in the same buffer, so rows far apart in the file
 * are mixed only through the block order; with buffers of millions of rows built from hundreds of blocks
 * taken anywhere in the file, a batch is a near-uniform sample unless the file is sorted on a scale larger
 * than a buffer. When the buffer holds every block this is a full shuffle of the rows (in another order
 * than dataset.ts's permutation, which it is not meant to reproduce).
 */
import { ConfigError } from '../errors.js'
import { Rng } from '../engine/rng.js'
import { type EncodedColumns, type EncodedDataset, makeEncodedDataset, sliceBatch } from './dataset.js'
import type { DiskTable } from './disk-table.js'
import type { Batch, InputSpec, MultiColumn } from './types.js'

export interface BlockShuffleOptions {
  /** rows per block (consecutive in the file) */
  blockRows: number
  /** blocks per in-memory buffer */
  bufferBlocks: number
  seed: number
}

/** One buffer of an epoch: its blocks in load order, and the order of its rows (indexes into the loaded rows). */
export interface ShuffleWindow {
  blocks: Int32Array
  order: Int32Array
}

/** The buffers of one epoch over `rows` rows, in order. */
export function* shuffleWindows(rows: number, opts: BlockShuffleOptions): Generator<ShuffleWindow> {
  check(opts)
  const rng = new Rng(opts.seed)
  const nBlocks = Math.ceil(rows / opts.blockRows)
  const blocks = new Int32Array(nBlocks)
  for (let b = 0; b < nBlocks; b++) blocks[b] = b
  rng.shuffle(blocks)
  for (let w = 0; w < nBlocks; w += opts.bufferBlocks) {
    const mine = blocks.slice(w, Math.min(nBlocks, w + opts.bufferBlocks))
    let n = 0
    for (const b of mine) n += Math.min(opts.blockRows, rows - b * opts.blockRows)
    const order = new Int32Array(n)
    for (let i = 0; i < n; i++) order[i] = i
    rng.shuffle(order)
    yield { blocks: mine, order }
  }
}

/** The whole epoch order as row numbers of the file (tests and small data; streaming never builds it). */
export function blockBufferOrder(rows: number, opts: BlockShuffleOptions): Int32Array {
  const out = new Int32Array(rows)
  let w = 0
  for (const win of shuffleWindows(rows, opts)) {
    const loaded: number[] = []
    for (const b of win.blocks)
      for (let r = b * opts.blockRows; r < Math.min(rows, (b + 1) * opts.blockRows); r++) loaded.push(r)
    for (const i of win.order) out[w++] = loaded[i]
  }
  return out
}

function check(opts: BlockShuffleOptions): void {
  for (const k of ['blockRows', 'bufferBlocks'] as const) {
    if (!Number.isInteger(opts[k]) || opts[k] < 1)
      throw new ConfigError(`block shuffle: ${k} must be a positive integer, got ${opts[k]}`, { field: k })
  }
}

export interface StreamBatchOptions {
  batchSize: number
  /** block + buffer shuffle; without it the rows come in file order, a buffer at a time */
  shuffle?: BlockShuffleOptions
  /** rows read per buffer without shuffle (default 1M) */
  bufferRows?: number
}

/**
 * Batches of a DiskTable. Shuffled, a table of fixed-size rows (no multi-valued feature) holds two buffers,
 * allocated once and reused every window: the blocks as read, and the same rows in the shuffled order, which
 * batches are copied out of. With multi-valued features each buffer is new and batches are views into it.
 * Either way a batch stays valid after the next one is made.
 */
export function* streamBatches(table: DiskTable, opts: StreamBatchOptions): Generator<Batch> {
  const B = opts.batchSize
  if (!Number.isInteger(B) || B < 1)
    throw new ConfigError(`batches: batchSize must be a positive integer, got ${B}`, { field: 'batchSize' })
  let carry: EncodedDataset | null = null
  // reused: cur is a buffer that will be overwritten, so each batch is copied out of it (a batch is ~0.7 MB at the
  // AliExpress width, B = 2048: a copy costs far less than the step, and the batch stays valid however long it is kept)
  const emit = function* (cur: EncodedDataset, reused = false): Generator<Batch> {
    let p = 0
    if (carry) {
      const take = Math.min(B - carry.rows, cur.rows)
      const joined = concatDatasets(table.spec, [carry, sliceDataset(cur, 0, take)])
      p = take
      if (joined.rows < B) {
        carry = joined
        return
      }
      carry = null
      yield joined.all()
    }
    for (; p + B <= cur.rows; p += B)
      yield reused ? concatDatasets(table.spec, [sliceDataset(cur, p, p + B)]).all() : sliceBatch(cur, p, p + B)
    // the rest is copied so the buffer can go
    if (p < cur.rows) carry = concatDatasets(table.spec, [sliceDataset(cur, p, cur.rows)])
  }
  if (opts.shuffle && table.spec.multi.length === 0) {
    // fixed-size rows: one buffer to read the blocks into and one to gather into, allocated once and reused
    // (a new buffer a window left the old ones to the GC, and the process grew to about twice the budget)
    const { blockRows, bufferBlocks } = opts.shuffle
    const capacity = Math.min(table.rows, blockRows * bufferBlocks)
    const loaded = allocColumns(table, capacity)
    const ordered = allocColumns(table, capacity)
    for (const win of shuffleWindows(table.rows, opts.shuffle)) {
      let at = 0
      for (const b of win.blocks) {
        const end = Math.min(table.rows, (b + 1) * blockRows)
        table.readInto(b * blockRows, end, loaded, at)
        at += end - b * blockRows
      }
      gatherInto(loaded, ordered, win.order, table.spec.dense.length)
      yield* emit(
        makeEncodedDataset(table.spec, viewColumns(ordered, at, table.spec.dense.length), {
          ...table.report,
          rows: at,
        }),
        true,
      )
    }
  } else if (opts.shuffle) {
    const { blockRows } = opts.shuffle
    for (const win of shuffleWindows(table.rows, opts.shuffle)) {
      // the blocks are garbage once joined, the joined rows once gathered: at most two copies of a buffer at a
      // time, plus the previous buffer while the trainer still holds its last batch
      const loaded = concatDatasets(
        table.spec,
        Array.from(win.blocks, (b) => table.read(b * blockRows, Math.min(table.rows, (b + 1) * blockRows))),
      )
      yield* emit(gatherDataset(loaded, win.order))
    }
  } else {
    const step = opts.bufferRows ?? 1 << 20
    for (let s = 0; s < table.rows; s += step) yield* emit(table.read(s, Math.min(table.rows, s + step)))
  }
  const last = carry as EncodedDataset | null // assigned inside emit
  if (last && last.rows > 0) yield last.all()
}

function allocColumns(table: DiskTable, rows: number): EncodedColumns {
  const probe = table.read(0, 0).columns
  const make = <T extends Typed>(a: T, width = 1): T => new (a.constructor as new (n: number) => T)(rows * width)
  const map = <T extends Typed>(r: Record<string, T>) =>
    Object.fromEntries(Object.entries(r).map(([k, v]) => [k, make(v)]))
  return {
    sparse: map(probe.sparse),
    multi: {},
    dense: make(probe.dense, table.spec.dense.length),
    labels: map(probe.labels),
    ...(probe.group ? { group: make(probe.group) } : {}),
    extra: map(probe.extra),
  }
}

/** The first n rows of preallocated columns, as views. */
function viewColumns(c: EncodedColumns, n: number, width: number): EncodedColumns {
  const map = <T extends Typed>(r: Record<string, T>) =>
    Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v.subarray(0, n) as T]))
  return {
    sparse: map(c.sparse),
    multi: {},
    dense: c.dense.subarray(0, n * width),
    labels: map(c.labels),
    ...(c.group ? { group: c.group.subarray(0, n) } : {}),
    extra: map(c.extra),
  }
}

function gatherIntoI32(src: Int32Array, dst: Int32Array, idx: Int32Array): void {
  for (let i = 0; i < idx.length; i++) dst[i] = src[idx[i]]
}
function gatherIntoF32(src: Float32Array, dst: Float32Array, idx: Int32Array): void {
  for (let i = 0; i < idx.length; i++) dst[i] = src[idx[i]]
}
function gatherIntoF64(src: Float64Array, dst: Float64Array, idx: Int32Array): void {
  for (let i = 0; i < idx.length; i++) dst[i] = src[idx[i]]
}

/** dst's first idx.length rows = src's rows idx (preallocated columns without multi-valued features) */
function gatherInto(src: EncodedColumns, dst: EncodedColumns, idx: Int32Array, width: number): void {
  for (const k of Object.keys(src.sparse)) gatherIntoI32(src.sparse[k], dst.sparse[k], idx)
  for (const k of Object.keys(src.labels)) gatherIntoF32(src.labels[k], dst.labels[k], idx)
  for (const k of Object.keys(src.extra)) gatherIntoF32(src.extra[k], dst.extra[k], idx)
  if (src.group && dst.group) gatherIntoF64(src.group, dst.group, idx)
  const a = src.dense
  const b = dst.dense
  for (let i = 0; i < idx.length; i++) {
    const from = idx[i] * width
    const to = i * width
    for (let j = 0; j < width; j++) b[to + j] = a[from + j]
  }
}

/** rows [start, end) as a dataset of views */
function sliceDataset(ds: EncodedDataset, start: number, end: number): EncodedDataset {
  const b = sliceBatch(ds, start, end)
  return makeEncodedDataset(
    ds.spec,
    {
      sparse: b.sparse,
      multi: b.multi,
      dense: b.dense,
      labels: b.labels,
      extra: b.extra ?? {},
      ...(b.group ? { group: b.group as Float64Array } : {}),
    },
    { ...ds.report, rows: end - start },
  )
}

type Typed = Int32Array | Float32Array | Float64Array

function concatTyped<T extends Typed>(parts: T[]): T {
  let n = 0
  for (const p of parts) n += p.length
  const out = new (parts[0].constructor as new (n: number) => T)(n)
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}

/** The rows of the datasets one after the other (copies). */
export function concatDatasets(spec: InputSpec, parts: EncodedDataset[]): EncodedDataset {
  const first = parts[0].columns
  const keys = <T>(r: Record<string, T>) => Object.keys(r)
  const each = <T extends Typed>(pick: (c: EncodedColumns) => T) => concatTyped(parts.map((p) => pick(p.columns)))
  const multi: Record<string, MultiColumn> = {}
  for (const k of keys(first.multi)) {
    let rows = 0
    for (const p of parts) rows += p.rows
    const offsets = new Int32Array(rows + 1)
    let r = 0
    let base = 0
    for (const p of parts) {
      const m = p.columns.multi[k]
      for (let i = 1; i <= p.rows; i++) offsets[r + i] = base + m.offsets[i] - m.offsets[0]
      r += p.rows
      base = offsets[r]
    }
    multi[k] = {
      offsets,
      ids: concatTyped(
        parts.map((p) =>
          p.columns.multi[k].ids.subarray(p.columns.multi[k].offsets[0], p.columns.multi[k].offsets[p.rows]),
        ),
      ),
    }
  }
  const columns: EncodedColumns = {
    sparse: Object.fromEntries(keys(first.sparse).map((k) => [k, each((c) => c.sparse[k])])),
    multi,
    dense: each((c) => c.dense),
    labels: Object.fromEntries(keys(first.labels).map((k) => [k, each((c) => c.labels[k])])),
    ...(first.group ? { group: each((c) => c.group!) } : {}),
    extra: Object.fromEntries(keys(first.extra).map((k) => [k, each((c) => c.extra[k])])),
  }
  let rows = 0
  for (const p of parts) rows += p.rows
  return makeEncodedDataset(spec, columns, { ...parts[0].report, rows })
}

// one loop per element type keeps V8's loads and stores monomorphic (see dataset.ts)
function gatherI32(src: Int32Array, idx: Int32Array): Int32Array {
  const out = new Int32Array(idx.length)
  for (let i = 0; i < idx.length; i++) out[i] = src[idx[i]]
  return out
}
function gatherF32(src: Float32Array, idx: Int32Array): Float32Array {
  const out = new Float32Array(idx.length)
  for (let i = 0; i < idx.length; i++) out[i] = src[idx[i]]
  return out
}
function gatherF64(src: Float64Array, idx: Int32Array): Float64Array {
  const out = new Float64Array(idx.length)
  for (let i = 0; i < idx.length; i++) out[i] = src[idx[i]]
  return out
}

/** The rows of `ds` in the order `idx` (copies). */
export function gatherDataset(ds: EncodedDataset, idx: Int32Array): EncodedDataset {
  const c = ds.columns
  const width = ds.spec.dense.length
  const dense = new Float32Array(idx.length * width)
  for (let i = 0; i < idx.length; i++) {
    const from = idx[i] * width
    for (let j = 0; j < width; j++) dense[i * width + j] = c.dense[from + j]
  }
  const multi: Record<string, MultiColumn> = {}
  for (const [k, m] of Object.entries(c.multi)) {
    const offsets = new Int32Array(idx.length + 1)
    for (let i = 0; i < idx.length; i++) offsets[i + 1] = offsets[i] + m.offsets[idx[i] + 1] - m.offsets[idx[i]]
    const ids = new Int32Array(offsets[idx.length])
    for (let i = 0; i < idx.length; i++) ids.set(m.ids.subarray(m.offsets[idx[i]], m.offsets[idx[i] + 1]), offsets[i])
    multi[k] = { offsets, ids }
  }
  const map = <T extends Float32Array | Int32Array>(r: Record<string, T>, g: (a: T, idx: Int32Array) => T) =>
    Object.fromEntries(Object.entries(r).map(([k, v]) => [k, g(v, idx)]))
  const columns: EncodedColumns = {
    sparse: map(c.sparse, gatherI32),
    multi,
    dense,
    labels: map(c.labels, gatherF32),
    ...(c.group ? { group: gatherF64(c.group, idx) } : {}),
    extra: map(c.extra, gatherF32),
  }
  return makeEncodedDataset(ds.spec, columns, { ...ds.report, rows: idx.length })
}
