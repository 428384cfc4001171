/**
 * An encoded dataset: typed columns in memory, ready to be cut into batches for many epochs.
 * Without shuffle a batch is made of subarray views (no copy); with shuffle the rows of a seeded
 * permutation are gathered with one copy per batch.
 */
import { ConfigError } from '../errors.js'
import { Rng } from '../engine/rng.js'
import type { Batch, InputSpec, MultiColumn } from './types.js'

export interface EncodedColumns {
  sparse: Record<string, Int32Array> // each [N]
  multi: Record<string, MultiColumn> // offsets [N+1]
  dense: Float32Array // [N, nDense] row-major
  labels: Record<string, Float32Array> // each [N]
  group?: Float64Array // [N]
  extra: Record<string, Float32Array> // each [N]
  /**
   * [N] where each encoded row came from: its position among the rows the read query returns (the files in
   * order, after the schema's filter), so rows dropped later (funnel: drop, badRows: skip) keep the others
   * aligned with the source. Only when asked for (EncodeOptions.rowIndex).
   */
  readRow?: Int32Array
}

export interface EncodeReport {
  files: string[]
  /** rows read from the files */
  read: number
  /** rows kept */
  rows: number
  /** rows left out by the schema's row filter (DatasetSchema.filter) */
  filtered: number
  /** rows dropped because a later stage was positive while an earlier one was not (funnel: drop) */
  droppedFunnel: number
  /** rows skipped for bad cells (badRows: skip) */
  skippedBad: number
  /** per sparse feature with hashBuckets: rows whose id was beyond the capacity and went to a hash bucket */
  hashed?: Record<string, number>
  /** the on-disk cache entry used (hit: read from it; otherwise encoded and written to it) */
  cache?: { dir: string; hit: boolean }
}

export interface BatchOptions {
  shuffle?: boolean
  seed?: number
  /**
   * Block shuffle (with shuffle): permute blocks of this many consecutive rows, then the rows inside each
   * block. 1 (default) is a full Fisher–Yates shuffle. Larger blocks make the gather read memory nearly in
   * order (several times faster), at a statistical cost: a batch of B rows then holds rows from only about
   * B / blockSize places in the file, so when the file order is correlated (sorted by time, user or query)
   * batches are less like independent samples and gradients noisier or biased within an epoch. Each row is
   * still seen once per epoch and block order changes every epoch. 64–256 keeps ≥ 8 blocks in a batch of
   * 2048; use 1 for files sorted by something the model should not see batch by batch.
   */
  blockSize?: number
  dropLast?: boolean
  /** gather shuffled batches into buffers reused from batch to batch (do not keep a batch past its step) */
  reuseBuffers?: boolean
}

export interface EncodedDataset {
  rows: number
  spec: InputSpec
  columns: EncodedColumns
  report: EncodeReport
  batches(batchSize: number, opts?: BatchOptions): Iterable<Batch>
  /** all rows as one batch (views, no copy) */
  all(): Batch
}

export function makeEncodedDataset(spec: InputSpec, columns: EncodedColumns, report: EncodeReport): EncodedDataset {
  const rows = report.rows
  const ds: EncodedDataset = {
    rows,
    spec,
    columns,
    report,
    batches: (batchSize, opts = {}) => iterateBatches(ds, batchSize, opts),
    all: () => sliceBatch(ds, 0, rows),
  }
  return ds
}

/** Rows [start, end) as views into the columns. */
export function sliceBatch(ds: EncodedDataset, start: number, end: number): Batch {
  const c = ds.columns
  const nDense = ds.spec.dense.length
  const map = <T extends Float32Array | Int32Array>(r: Record<string, T>) =>
    Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v.subarray(start, end) as T]))
  const multi: Record<string, MultiColumn> = {}
  for (const [k, m] of Object.entries(c.multi)) {
    const base = m.offsets[start]
    const offsets = new Int32Array(end - start + 1)
    for (let i = 0; i <= end - start; i++) offsets[i] = m.offsets[start + i] - base
    multi[k] = { offsets, ids: m.ids.subarray(base, m.offsets[end]) }
  }
  return {
    size: end - start,
    sparse: map(c.sparse),
    multi,
    dense: c.dense.subarray(start * nDense, end * nDense),
    labels: map(c.labels),
    ...(c.group ? { group: c.group.subarray(start, end) } : {}),
    extra: map(c.extra),
  }
}

function* iterateBatches(ds: EncodedDataset, batchSize: number, opts: BatchOptions): Generator<Batch> {
  if (!Number.isInteger(batchSize) || batchSize < 1)
    throw new ConfigError(`batches: batchSize must be a positive integer, got ${batchSize}`, { field: 'batchSize' })
  const n = ds.rows
  const stop = opts.dropLast ? n - (n % batchSize) : n
  if (!opts.shuffle) {
    for (let s = 0; s < stop; s += batchSize) yield sliceBatch(ds, s, Math.min(s + batchSize, n))
    return
  }
  const blockSize = opts.blockSize ?? 1
  if (!Number.isInteger(blockSize) || blockSize < 1)
    throw new ConfigError(`batches: blockSize must be a positive integer, got ${blockSize}`, { field: 'blockSize' })
  const perm = blockSize === 1 ? permutation(n, opts.seed ?? 0) : blockPermutation(n, blockSize, opts.seed ?? 0)
  const gather = makeGatherer(ds, batchSize, opts.reuseBuffers ?? false)
  for (let s = 0; s < stop; s += batchSize) yield gather(perm.subarray(s, Math.min(s + batchSize, n)))
}

/** Seeded Fisher–Yates permutation of 0..n-1. */
export function permutation(n: number, seed: number): Int32Array {
  const p = new Int32Array(n)
  for (let i = 0; i < n; i++) p[i] = i
  return new Rng(seed).shuffle(p)
}

/**
 * Seeded block permutation of 0..n-1: blocks [b·size, (b+1)·size) in a Fisher–Yates order, the rows of each
 * block in a Fisher–Yates order of their own (the last block may be shorter).
 */
export function blockPermutation(n: number, blockSize: number, seed: number): Int32Array {
  const rng = new Rng(seed)
  const blocks = Math.ceil(n / blockSize)
  const order = new Int32Array(blocks)
  for (let b = 0; b < blocks; b++) order[b] = b
  rng.shuffle(order)
  const p = new Int32Array(n)
  let w = 0
  for (let b = 0; b < blocks; b++) {
    const start = order[b] * blockSize
    const len = Math.min(blockSize, n - start)
    for (let i = 0; i < len; i++) p[w + i] = start + i
    rng.shuffle(p.subarray(w, w + len))
    w += len
  }
  return p
}

// Monomorphic gather loops: one element type per function keeps V8's loads and stores specialized (a shared
// generic loop over Int32Array | Float32Array ran several times slower).
function gatherI32(src: Int32Array, dst: Int32Array, idx: Int32Array, b: number): void {
  for (let i = 0; i < b; i++) dst[i] = src[idx[i]]
}
function gatherF32(src: Float32Array, dst: Float32Array, idx: Int32Array, b: number): void {
  for (let i = 0; i < b; i++) dst[i] = src[idx[i]]
}
function gatherF64(src: Float64Array, dst: Float64Array, idx: Int32Array, b: number): void {
  for (let i = 0; i < b; i++) dst[i] = src[idx[i]]
}
/** rows of a row-major [N, width] matrix */
function gatherRows(src: Float32Array, width: number, dst: Float32Array, idx: Int32Array, b: number): void {
  for (let i = 0; i < b; i++) {
    const from = idx[i] * width
    const to = i * width
    for (let j = 0; j < width; j++) dst[to + j] = src[from + j]
  }
}

function makeGatherer(ds: EncodedDataset, batchSize: number, reuse: boolean): (idx: Int32Array) => Batch {
  const c = ds.columns
  const nDense = ds.spec.dense.length
  const sparseKeys = Object.keys(c.sparse)
  const labelKeys = Object.keys(c.labels)
  const extraKeys = Object.keys(c.extra)
  const alloc = () => ({
    sparse: sparseKeys.map(() => new Int32Array(batchSize)),
    dense: new Float32Array(batchSize * nDense),
    labels: labelKeys.map(() => new Float32Array(batchSize)),
    extra: extraKeys.map(() => new Float32Array(batchSize)),
    group: c.group ? new Float64Array(batchSize) : undefined,
  })
  let buf = alloc()
  return (idx) => {
    if (!reuse) buf = alloc()
    const b = idx.length
    const sparse: Record<string, Int32Array> = {}
    sparseKeys.forEach((k, j) => {
      gatherI32(c.sparse[k], buf.sparse[j], idx, b)
      sparse[k] = buf.sparse[j].subarray(0, b)
    })
    const labels: Record<string, Float32Array> = {}
    labelKeys.forEach((k, j) => {
      gatherF32(c.labels[k], buf.labels[j], idx, b)
      labels[k] = buf.labels[j].subarray(0, b)
    })
    const extra: Record<string, Float32Array> = {}
    extraKeys.forEach((k, j) => {
      gatherF32(c.extra[k], buf.extra[j], idx, b)
      extra[k] = buf.extra[j].subarray(0, b)
    })
    gatherRows(c.dense, nDense, buf.dense, idx, b)
    let group: Float64Array | undefined
    if (c.group && buf.group) {
      gatherF64(c.group, buf.group, idx, b)
      group = buf.group.subarray(0, b)
    }
    const multi: Record<string, MultiColumn> = {}
    for (const [k, m] of Object.entries(c.multi)) {
      const offsets = new Int32Array(b + 1)
      for (let i = 0; i < b; i++) offsets[i + 1] = offsets[i] + m.offsets[idx[i] + 1] - m.offsets[idx[i]]
      const ids = new Int32Array(offsets[b])
      for (let i = 0; i < b; i++) ids.set(m.ids.subarray(m.offsets[idx[i]], m.offsets[idx[i] + 1]), offsets[i])
      multi[k] = { offsets, ids }
    }
    return {
      size: b,
      sparse,
      multi,
      dense: buf.dense.subarray(0, b * nDense),
      labels,
      ...(group ? { group } : {}),
      extra,
    }
  }
}
