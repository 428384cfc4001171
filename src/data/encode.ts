/**
 * The first pass: raw files → encoded typed columns. DuckDB casts and splits the cells; string vocabularies
 * map through ENUM types (hash lookups that keep row order), integer vocabularies through a JS lookup
 * table while every id is a safe integer (|id| < 2^53, exact as a double), otherwise through an ENUM of their
 * exact decimal text; numeric transforms run in JS with the same code that serving uses. Bad cells (a
 * non-finite number included) stop the pass with file, line and column (or are skipped and counted with
 * badRows: skip).
 */
import type { DuckDBConnection } from '@duckdb/node-api'
import { DataError } from '../errors.js'
import { connect, queryObjects, streamColumns, type ChunkColumn, type ListChunk } from './duck.js'
import { makeEncodedDataset, type EncodedColumns, type EncodedDataset, type EncodeReport } from './dataset.js'
import { dataChecks, findFirstBad, funnelChecks, withDiagnosis } from './diagnose.js'
import { bucketOf, inputSpecOf, type Preprocessing } from './preprocessing.js'
import { columnOf } from './schema.js'
import {
  Grow,
  copyF64,
  copyF64To64,
  copyI32,
  hashMisses,
  mapIds,
  mapIdsTable,
  transformColumn,
} from './encode-columns.js'
import { readQuery } from './encode-query.js'
import { encodedCacheDir, readEncodedCache, writeEncodedCache } from './cache.js'
import {
  describeColumns,
  describeFilter,
  filterColumns,
  formatOf,
  fromClause,
  requireColumns,
  rowFilterSql,
} from './source.js'

export interface EncodeOptions {
  conn?: DuckDBConnection
  /** read the encoded columns from (or write them to) an on-disk cache under this folder, e.g. .cache/resflow */
  cacheDir?: string
  /** carry each row's position in the read (EncodedColumns.readRow), e.g. to join source columns to predictions; bypasses the cache */
  rowIndex?: boolean
}

/**
 * Hands the encoded rows out in pieces of about `rows` rows instead of keeping them (writeStreamedCache), so
 * memory stays bounded whatever the file size. The columns passed are views, valid only during the call;
 * multi-valued offsets start at 0 in every piece.
 */
export interface EncodeSink {
  rows: number
  write(columns: EncodedColumns, rows: number): void
}

/** Encodes the files into `sink` piece by piece; returns the report (the dataset's columns are empty). */
export async function encodeToSink(
  prep: Preprocessing,
  files: string[],
  sink: EncodeSink,
  conn?: DuckDBConnection,
): Promise<EncodeReport> {
  return (await encodeFiles(prep, files, conn, false, sink)).report
}

/**
 * Encodes the files with the fitted preprocessing (the same mapping for train, val, test and serving). With
 * cacheDir, a previous pass over the same files (path, size, mtime) with the same preprocessing is read back
 * from the typed-array column files instead.
 */
export async function encodeDataset(
  prep: Preprocessing,
  files: string[],
  opts: EncodeOptions = {},
): Promise<EncodedDataset> {
  if (!opts.cacheDir || opts.rowIndex) return encodeFiles(prep, files, opts.conn, opts.rowIndex)
  const dir = await encodedCacheDir(prep, files, opts.cacheDir)
  const hit = readEncodedCache(dir, prep)
  if (hit) return hit
  const ds = await encodeFiles(prep, files, opts.conn)
  writeEncodedCache(dir, ds)
  ds.report.cache = { dir, hit: false }
  return ds
}

async function encodeFiles(
  prep: Preprocessing,
  files: string[],
  connection?: DuckDBConnection,
  rowIndex = false,
  sink?: EncodeSink,
): Promise<EncodedDataset> {
  const conn = connection ?? (await connect())
  const schema = prep.schema
  const format = formatOf(schema, files)
  const have = await describeColumns(conn, schema, files)
  requireColumns(
    have,
    [...prep.sparse, ...prep.multi, ...prep.dense, ...prep.buckets, ...schema.tasks]
      .map(columnOf)
      .concat(schema.group ? [schema.group] : [], schema.extra, filterColumns(schema)),
    files,
  )
  const { exprs, kinds, enums, lookups, tables } = await readQuery(conn, prep, files, format)
  const skip = schema.badRows === 'skip'
  const nS = prep.sparse.length
  const nB = prep.buckets.length
  const nD = prep.dense.length
  const nT = schema.tasks.length
  const spec = inputSpecOf(prep)
  const nDenseOut = spec.dense.length
  const cap = sink ? sink.rows + 4096 : 1 << 16
  const sparse = [...prep.sparse, ...prep.buckets].map(() => new Grow((n) => new Int32Array(n), cap))
  const multiOff = prep.multi.map(() => new Grow((n) => new Int32Array(n), cap))
  const multiIds = prep.multi.map(() => new Grow((n) => new Int32Array(n), cap))
  const dense = new Grow((n) => new Float32Array(n), cap * Math.max(1, nDenseOut))
  const labels = schema.tasks.map(() => new Grow((n) => new Float32Array(n), cap))
  const group = schema.group ? new Grow((n) => new Float64Array(n), cap) : undefined
  const extra = schema.extra.map(() => new Grow((n) => new Float32Array(n), cap))
  const readRow = rowIndex ? new Grow((n) => new Int32Array(n), cap) : undefined
  multiOff.forEach((g) => {
    g.data[0] = 0
  })

  let w = 0 // rows in the typed arrays
  let flushed = 0 // rows handed to the sink
  const hashed: Record<string, number> = {}
  let read = 0
  let droppedFunnel = 0
  let skippedBad = 0
  let problem: 'label' | 'dense' | 'funnel' | undefined

  // A chunk is encoded column by column: first the rows kept (labels, funnel, bad cells), then one tight loop
  // per column over them. Row by row across 80+ columns of mixed types the loads stayed megamorphic and the
  // pass ran at a quarter of the speed.
  let keep = new Int32Array(4096)
  const onChunk = (cols: ChunkColumn[], n: number) => {
    if (problem) return
    if (keep.length < n) keep = new Int32Array(n)
    const bad = skip ? (cols[cols.length - 1] as Int32Array) : undefined
    const labelBase = nS + prep.multi.length + nB + nD
    let kept = 0
    for (let i = 0; i < n; i++) {
      if (bad?.[i]) {
        skippedBad++
        continue
      }
      let ok = true
      let prev = 1
      for (let k = 0; k < nT; k++) {
        const v = (cols[labelBase + k] as Float64Array)[i]
        if (v !== 0 && v !== 1) {
          problem = 'label'
          return
        }
        if (v > prev) ok = false
        prev = v
      }
      if (!ok && schema.funnel === 'error') {
        problem = 'funnel'
        return
      }
      if (!ok && schema.funnel === 'drop') {
        droppedFunnel++
        continue
      }
      keep[kept++] = i
    }
    const need = w + kept
    sparse.forEach((g) => g.ensure(need))
    multiOff.forEach((g) => g.ensure(need + 1))
    dense.ensure(need * nDenseOut)
    labels.forEach((g) => g.ensure(need))
    group?.ensure(need)
    extra.forEach((g) => g.ensure(need))
    readRow?.ensure(need)
    let j = 0
    for (; j < nS; j++) {
      const c = cols[j]
      const lut = tables[j]
      if (c instanceof Float64Array && lut) mapIdsTable(c, keep, kept, sparse[j].data as Int32Array, w, lut)
      else if (c instanceof Float64Array) mapIds(c, keep, kept, sparse[j].data as Int32Array, w, lookups[j])
      else copyI32(c as Int32Array, keep, kept, sparse[j].data as Int32Array, w)
      const f = prep.sparse[j]
      if (f.hashBuckets && c instanceof Float64Array)
        hashed[f.name] =
          (hashed[f.name] ?? 0) +
          hashMisses(c, keep, kept, sparse[j].data as Int32Array, w, f.vocab.length + 1, f.hashBuckets)
    }
    prep.multi.forEach((_, m) => {
      const l = cols[j++] as ListChunk
      const off = multiOff[m]
      for (let r = 0; r < kept; r++) {
        const i = keep[r]
        const start = off.data[w + r]
        multiIds[m].ensure(start + l.lengths[i])
        multiIds[m].data.set(l.ids.subarray(l.starts[i], l.starts[i] + l.lengths[i]), start)
        off.data[w + r + 1] = start + l.lengths[i]
      }
    })
    for (let b = 0; b < nB; b++, j++) {
      const x = cols[j] as Float64Array
      const f = prep.buckets[b]
      const out = sparse[nS + b].data
      for (let r = 0; r < kept; r++) {
        const v0 = x[keep[r]]
        if (v0 === Infinity) {
          problem = 'dense'
          return
        }
        const v = Number.isNaN(v0) ? f.fill : v0
        out[w + r] = v === undefined || Number.isNaN(v) ? 0 : bucketOf(f.edges, v)
      }
    }
    for (let d = 0; d < nD; d++, j++) {
      if (
        !transformColumn(
          cols[j] as Float64Array,
          keep,
          kept,
          prep.dense[d],
          dense.data as Float32Array,
          w * nDenseOut + d,
          nDenseOut,
        )
      ) {
        problem = 'dense'
        return
      }
    }
    for (let k = 0; k < nT; k++, j++) copyF64(cols[j] as Float64Array, keep, kept, labels[k].data as Float32Array, w)
    if (group) copyF64To64(cols[j++] as Float64Array, keep, kept, group.data as Float64Array, w)
    for (let e = 0; e < extra.length; e++)
      copyF64(cols[j++] as Float64Array, keep, kept, extra[e].data as Float32Array, w)
    if (readRow) for (let r = 0; r < kept; r++) readRow.data[w + r] = read + keep[r]
    w += kept
    read += n
  }

  const names = [...prep.sparse, ...prep.buckets].map((f) => f.name)
  /** the first n rows as copies (slice) or views (subarray) */
  const columnsOf = (
    n: number,
    cut: <T extends Int32Array | Float32Array | Float64Array>(a: T, n: number) => T,
  ): EncodedColumns => ({
    sparse: Object.fromEntries(names.map((nm, s) => [nm, cut(sparse[s].data, n)])),
    multi: Object.fromEntries(
      prep.multi.map((f, m) => [
        f.name,
        { offsets: cut(multiOff[m].data, n + 1), ids: cut(multiIds[m].data, multiOff[m].data[n]) },
      ]),
    ),
    dense: cut(dense.data, n * nDenseOut),
    labels: Object.fromEntries(schema.tasks.map((t, k) => [t.name, cut(labels[k].data, n)])),
    ...(group ? { group: cut(group.data, n) } : {}),
    extra: Object.fromEntries(schema.extra.map((x, e) => [x, cut(extra[e].data, n)])),
    ...(readRow ? { readRow: cut(readRow.data, n) } : {}),
  })
  const flush = () => {
    if (!sink || w === 0) return
    sink.write(
      columnsOf(w, (a, n) => a.subarray(0, n) as typeof a),
      w,
    )
    flushed += w
    w = 0
    multiOff.forEach((g) => {
      g.data[0] = 0
    })
  }
  const sql = `SELECT ${exprs.join(', ')} FROM ${fromClause(schema, files)}`
  try {
    await withDiagnosis(schema, files, () =>
      streamColumns(conn, sql, kinds, (cols, n) => {
        onChunk(cols, n)
        if (sink && w >= sink.rows && !problem) flush()
      }),
    )
  } finally {
    for (const e of enums) {
      await conn.run(`DROP TYPE IF EXISTS ${e}`)
      await conn.run(`DROP TABLE IF EXISTS ${e}_t`)
    }
  }
  if (problem) {
    const checks = problem === 'funnel' ? funnelChecks(schema) : dataChecks(schema)
    throw (
      (await findFirstBad(schema, files, checks)) ??
      new DataError(`${files.join(', ')}: bad ${problem} value (row ${read + 1} or later); could not locate it`, {
        file: files[0],
      })
    )
  }
  const filtered = await countFilteredOut(conn, prep, files)
  if (read === 0 && w === 0) {
    const hint = filtered > 0 ? `: the schema's filter (${describeFilter(schema)}) left out all ${filtered}` : ''
    throw new DataError(`${files.join(', ')}: no data rows${hint}`, { file: files[0] })
  }

  const withBuckets = prep.sparse.filter((f) => f.hashBuckets)
  const hashedReport =
    withBuckets.length > 0 ? { hashed: Object.fromEntries(withBuckets.map((f) => [f.name, hashed[f.name] ?? 0])) } : {}
  if (sink) {
    flush()
    return makeEncodedDataset(
      spec,
      columnsOf(0, (a, n) => a.subarray(0, n) as typeof a),
      { files, read: read + filtered, rows: flushed, filtered, droppedFunnel, skippedBad, ...hashedReport },
    )
  }
  return makeEncodedDataset(
    spec,
    columnsOf(w, (a, n) => a.slice(0, n) as typeof a),
    { files, read: read + filtered, rows: w, filtered, droppedFunnel, skippedBad, ...hashedReport },
  )
}

/** Rows of the files the schema's filter leaves out (a second, light scan; 0 without a filter). */
async function countFilteredOut(conn: DuckDBConnection, prep: Preprocessing, files: string[]): Promise<number> {
  const schema = prep.schema
  if (schema.filter.length === 0) return 0
  const [row] = await queryObjects(
    conn,
    `SELECT count(*)::DOUBLE AS n FROM ${fromClause(schema, files, { unfiltered: true })} WHERE NOT (${rowFilterSql(schema, formatOf(schema, files))})`,
  )
  return Number(row?.n ?? 0)
}
