/**
 * An encoded dataset: typed columns in memory, ready to be cut into batches for many epochs.
 * Without shuffle a batch is made of subarray views (no copy); with shuffle the rows of a seeded
 * permutation are gathered with one copy per batch.
 */
import { Rng } from '../engine/rng.js'
import type { Batch, InputSpec, MultiColumn } from './types.js'

export interface EncodedColumns {
  sparse: Record<string, Int32Array> // each [N]
  multi: Record<string, MultiColumn> // offsets [N+1]
  dense: Float32Array // [N, nDense] row-major
  labels: Record<string, Float32Array> // each [N]
  group?: Float64Array // [N]
  extra: Record<string, Float32Array> // each [N]
}

export interface EncodeReport {
  files: string[]
  /** rows read from the files */
  read: number
  /** rows kept */
  rows: number
  /** rows dropped because a later stage was positive while an earlier one was not (funnel: drop) */
  droppedFunnel: number
  /** rows skipped for bad cells (badRows: skip) */
  skippedBad: number
  /** the on-disk cache entry used (hit: read from it; otherwise encoded and written to it) */
  cache?: { dir: string; hit: boolean }
}

export interface BatchOptions {
  shuffle?: boolean
  seed?: number
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
  const map = <T extends Float32Array | Int32Array>(r: Record<string, T>) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v.subarray(start, end) as T]))
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
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`batches: batchSize must be a positive integer, got ${batchSize}`)
  const n = ds.rows
  const stop = opts.dropLast ? n - (n % batchSize) : n
  if (!opts.shuffle) {
    for (let s = 0; s < stop; s += batchSize) yield sliceBatch(ds, s, Math.min(s + batchSize, n))
    return
  }
  const perm = permutation(n, opts.seed ?? 0)
  const gather = makeGatherer(ds, batchSize, opts.reuseBuffers ?? false)
  for (let s = 0; s < stop; s += batchSize) yield gather(perm.subarray(s, Math.min(s + batchSize, n)))
}

/** Seeded Fisher–Yates permutation of 0..n-1. */
export function permutation(n: number, seed: number): Int32Array {
  const rng = new Rng(seed)
  const p = new Int32Array(n)
  for (let i = 0; i < n; i++) p[i] = i
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng.next() * (i + 1))
    const t = p[i]
    p[i] = p[j]
    p[j] = t
  }
  return p
}

function makeGatherer(ds: EncodedDataset, batchSize: number, reuse: boolean): (idx: Int32Array) => Batch {
  const c = ds.columns
  const nDense = ds.spec.dense.length
  const alloc = () => ({
    sparse: Object.fromEntries(Object.keys(c.sparse).map((k) => [k, new Int32Array(batchSize)])),
    dense: new Float32Array(batchSize * nDense),
    labels: Object.fromEntries(Object.keys(c.labels).map((k) => [k, new Float32Array(batchSize)])),
    extra: Object.fromEntries(Object.keys(c.extra).map((k) => [k, new Float32Array(batchSize)])),
    group: c.group ? new Float64Array(batchSize) : undefined,
  })
  let buf = alloc()
  return (idx) => {
    if (!reuse) buf = alloc()
    const b = idx.length
    const take = <T extends Float32Array | Int32Array>(src: Record<string, T>, dst: Record<string, T>) => {
      const out: Record<string, T> = {}
      for (const k in src) {
        const s = src[k]
        const d = dst[k]
        for (let i = 0; i < b; i++) d[i] = s[idx[i]]
        out[k] = d.subarray(0, b) as T
      }
      return out
    }
    const dense = buf.dense
    for (let i = 0; i < b; i++) {
      const from = idx[i] * nDense
      for (let j = 0; j < nDense; j++) dense[i * nDense + j] = c.dense[from + j]
    }
    let group: Float64Array | undefined
    if (c.group && buf.group) {
      for (let i = 0; i < b; i++) buf.group[i] = c.group[idx[i]]
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
      sparse: take(c.sparse, buf.sparse),
      multi,
      dense: dense.subarray(0, b * nDense),
      labels: take(c.labels, buf.labels),
      ...(group ? { group } : {}),
      extra: take(c.extra, buf.extra),
    }
  }
}
