/**
 * Encoded data too large for memory: the first pass writes a cache entry piece by piece (never holding
 * more than one piece), and training reads row ranges of it back with positioned reads.
 *
 * The entry has the layout of cache.ts (one raw typed-array file per column, manifest.json written last),
 * so an entry written here can also be loaded whole with readEncodedCache when memory allows.
 */
import { DataError } from '../errors.js'
import { closeSync, existsSync, openSync, readFileSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import type { DuckDBConnection } from '@duckdb/node-api'
import {
  ARRAY,
  CACHE_VERSION,
  type ColumnEntry,
  type Manifest,
  ManifestSchema,
  commitEntry,
  dtypeOf,
  entryTmpDir,
  listColumns,
  readFully,
} from './cache.js'
import { type EncodedColumns, type EncodedDataset, type EncodeReport, makeEncodedDataset } from './dataset.js'
import { encodeToSink } from './encode.js'
import { type Preprocessing, inputSpecOf } from './preprocessing.js'
import type { InputSpec, MultiColumn } from './types.js'

/** A cache entry on disk, read by row range. */
export interface DiskTable {
  dir: string
  rows: number
  spec: InputSpec
  report: EncodeReport
  /** bytes one row takes in memory once read (multi-valued ids at their average count) */
  bytesPerRow: number
  /** share of positives per task over all rows (for ResFlow's taskOrder 'auto'), from the manifest */
  positiveRates: Record<string, number>
  /** rows [start, end) as an in-memory dataset */
  read(start: number, end: number): EncodedDataset
  /**
   * Rows [start, end) into preallocated columns at row `at` (no allocation; tables without multi-valued
   * features, whose rows have a fixed size).
   */
  readInto(start: number, end: number, into: EncodedColumns, at: number): void
}

type Typed = Int32Array | Float32Array | Float64Array

/** Writes `bytes` fully at the file's end. */
function append(fd: number, a: Typed): void {
  const bytes = new Uint8Array(a.buffer, a.byteOffset, a.byteLength)
  let at = 0
  while (at < bytes.length) at += writeSync(fd, bytes, at, bytes.length - at)
}

export interface StreamedEncodeResult {
  table: DiskTable
  /** true when the entry was already there (no encoding) */
  hit: boolean
  seconds: number
}

/**
 * Encodes `files` into the cache entry `dir` in pieces of `pieceRows` rows (or opens it when a complete entry
 * is there). Memory: one piece of encoded rows plus DuckDB's read buffers, whatever the file size.
 */
export async function encodeToDisk(
  prep: Preprocessing,
  files: string[],
  dir: string,
  opts: { pieceRows?: number; conn?: DuckDBConnection } = {},
): Promise<StreamedEncodeResult> {
  const t0 = performance.now()
  if (existsSync(join(dir, 'manifest.json'))) {
    const table = openDiskTable(dir, prep)
    if (table) return { table, hit: true, seconds: (performance.now() - t0) / 1000 }
  }
  const tmp = entryTmpDir(dir)
  type OpenColumn = { entry: ColumnEntry; fd: number; idsBase: number }
  let open: OpenColumn[] | null = null
  const positives: Record<string, number> = {}
  const write = (c: EncodedColumns, n: number) => {
    const cols = listColumns(c)
    open ??= cols.map((col, i) => {
      const file = `${i}-${col.role}.bin`
      return {
        entry: { role: col.role, name: col.name, dtype: dtypeOf(col.data), length: 0, file },
        fd: openSync(join(tmp, file), 'w'),
        idsBase: 0,
      }
    })
    cols.forEach((col, i) => {
      const o = open![i]
      if (col.role === 'multiOffsets') {
        // every piece's offsets start at 0: shift by the ids written before, and write the leading 0 once
        const ids = cols[i + 1].data
        const shifted = new Int32Array(n + 1)
        for (let r = 0; r <= n; r++) shifted[r] = col.data[r] + o.idsBase
        append(o.fd, o.entry.length === 0 ? shifted : shifted.subarray(1))
        o.entry.length += o.entry.length === 0 ? n + 1 : n
        o.idsBase += ids.length
        return
      }
      append(o.fd, col.data)
      o.entry.length += col.data.length
      if (col.role === 'label') {
        let s = 0
        for (let r = 0; r < col.data.length; r++) s += col.data[r]
        positives[col.name] = (positives[col.name] ?? 0) + s
      }
    })
  }
  let report: EncodeReport
  try {
    report = await encodeToSink(prep, files, { rows: opts.pieceRows ?? 65536, write }, opts.conn)
    // no rows at all (every one dropped): still one (empty) file per column
    if (!(open as OpenColumn[] | null))
      write(emptyColumns(inputSpecOf(prep), prep.schema.group !== undefined, prep.schema.extra), 0)
  } finally {
    for (const o of (open as OpenColumn[] | null) ?? []) closeSync(o.fd)
  }
  const manifest: Manifest & { positives: Record<string, number> } = {
    version: CACHE_VERSION,
    key: dir,
    report,
    columns: (open as OpenColumn[] | null)!.map((o) => o.entry),
    positives,
  }
  commitEntry(tmp, dir, manifest)
  const table = openDiskTable(dir, prep)
  if (!table) throw new DataError(`encodeToDisk: the entry just written to ${dir} does not read back`, { file: dir })
  return { table, hit: false, seconds: (performance.now() - t0) / 1000 }
}

function emptyColumns(spec: InputSpec, group: boolean, extra: string[]): EncodedColumns {
  return {
    sparse: Object.fromEntries(spec.sparse.map((f) => [f.name, new Int32Array(0)])),
    multi: Object.fromEntries(spec.multi.map((f) => [f.name, { offsets: new Int32Array(1), ids: new Int32Array(0) }])),
    dense: new Float32Array(0),
    labels: Object.fromEntries(spec.tasks.map((t) => [t, new Float32Array(0)])),
    ...(group ? { group: new Float64Array(0) } : {}),
    extra: Object.fromEntries(extra.map((x) => [x, new Float32Array(0)])),
  }
}

function readRange(fd: number, out: Typed, byteOffset: number): void {
  if (!readFully(fd, out, byteOffset))
    throw new DataError(`disk table: file ended before byte ${byteOffset + out.byteLength}`)
}

/** Opens a complete entry for range reads, or undefined when it is absent or incomplete. */
export function openDiskTable(dir: string, prep: Preprocessing): DiskTable | undefined {
  const file = join(dir, 'manifest.json')
  if (!existsSync(file)) return undefined
  const raw = JSON.parse(readFileSync(file, 'utf8')) as { positives?: Record<string, number> }
  const parsed = ManifestSchema.safeParse(raw)
  if (!parsed.success) return undefined
  const m = parsed.data
  const spec = inputSpecOf(prep)
  const rows = m.report.rows
  const nDense = spec.dense.length
  // one descriptor per column file, opened on each read (an epoch makes a few thousand reads; no fd is held)
  const cols = m.columns.map((c) => ({ ...c, path: join(dir, c.file), bytes: ARRAY[c.dtype].BYTES_PER_ELEMENT }))
  let bytesPerRow = 0
  for (const c of cols) bytesPerRow += (c.length / Math.max(1, rows)) * c.bytes
  const read = (start: number, end: number): EncodedDataset => {
    if (!(start >= 0 && end <= rows && start <= end))
      throw new DataError(`disk table ${dir}: rows [${start}, ${end}) outside [0, ${rows})`, { file: dir })
    const n = end - start
    const columns: EncodedColumns = { sparse: {}, multi: {}, dense: new Float32Array(0), labels: {}, extra: {} }
    let offsets: Int32Array | undefined
    for (const c of cols) {
      const fd = openSync(c.path, 'r')
      try {
        if (c.role === 'multiOffsets') {
          offsets = new Int32Array(n + 1)
          readRange(fd, offsets, start * 4)
          continue
        }
        if (c.role === 'multiIds') {
          const base = offsets![0]
          const ids = new Int32Array(offsets![n] - base)
          readRange(fd, ids, base * 4)
          for (let i = 0; i <= n; i++) offsets![i] -= base
          columns.multi[c.name] = { offsets: offsets!, ids } satisfies MultiColumn
          continue
        }
        const width = c.role === 'dense' ? nDense : 1
        const out = new ARRAY[c.dtype](n * width)
        readRange(fd, out, start * width * c.bytes)
        if (c.role === 'sparse') columns.sparse[c.name] = out as Int32Array
        else if (c.role === 'dense') columns.dense = out as Float32Array
        else if (c.role === 'label') columns.labels[c.name] = out as Float32Array
        else if (c.role === 'group') columns.group = out as Float64Array
        else columns.extra[c.name] = out as Float32Array
      } finally {
        closeSync(fd)
      }
    }
    return makeEncodedDataset(spec, columns, { ...m.report, rows: n })
  }
  const readInto = (start: number, end: number, into: EncodedColumns, at: number): void => {
    if (!(start >= 0 && end <= rows && start <= end))
      throw new DataError(`disk table ${dir}: rows [${start}, ${end}) outside [0, ${rows})`, { file: dir })
    const n = end - start
    for (const c of cols) {
      if (c.role === 'multiOffsets' || c.role === 'multiIds')
        throw new DataError(`disk table ${dir}: readInto does not take multi-valued features (${c.name})`, {
          file: dir,
          field: c.name,
        })
      const width = c.role === 'dense' ? nDense : 1
      const target =
        c.role === 'sparse'
          ? into.sparse[c.name]
          : c.role === 'dense'
            ? into.dense
            : c.role === 'label'
              ? into.labels[c.name]
              : c.role === 'group'
                ? into.group
                : into.extra[c.name]
      const fd = openSync(c.path, 'r')
      try {
        readRange(fd, target!.subarray(at * width, (at + n) * width), start * width * c.bytes)
      } finally {
        closeSync(fd)
      }
    }
  }
  const positives = raw.positives ?? {}
  const positiveRates = Object.fromEntries(spec.tasks.map((t) => [t, rows > 0 ? (positives[t] ?? 0) / rows : NaN]))
  return {
    dir,
    rows,
    spec,
    report: { ...m.report, cache: { dir, hit: true } },
    bytesPerRow,
    positiveRates,
    read,
    readInto,
  }
}
