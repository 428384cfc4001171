/**
 * DuckDB plumbing: one in-process database, SQL quoting, and a chunk-by-chunk reader that hands out the
 * raw typed column data of each result chunk (no per-row JS values). Every column of a streamed query
 * must be cast in SQL to the kind the caller asks for and must not be NULL (coalesce it).
 */
import { DataError } from '../errors.js'
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api'
// the raw bindings give zero-copy access to a vector's data; @duckdb/node-api itself is built on them
import duckdb from '@duckdb/node-bindings'

let instance: Promise<DuckDBInstance> | undefined

/** A new connection to the process-wide in-memory database. */
export async function connect(): Promise<DuckDBConnection> {
  instance ??= DuckDBInstance.create(':memory:')
  return (await instance).connect()
}

/** A connection to a fresh single-threaded database: results come back in file order (diagnostics). */
export async function connectOrdered(): Promise<{ conn: DuckDBConnection; close: () => void }> {
  const inst = await DuckDBInstance.create(':memory:', { threads: '1' })
  const conn = await inst.connect()
  return {
    conn,
    close: () => {
      conn.closeSync()
      inst.closeSync()
    },
  }
}

export function sqlString(s: string): string {
  return `'${s.replaceAll("'", "''")}'`
}

export function sqlIdent(s: string): string {
  return `"${s.replaceAll('"', '""')}"`
}

export function sqlList(items: string[]): string {
  return `[${items.map(sqlString).join(', ')}]`
}

/** Small results as plain objects (schema discovery, statistics); never on the hot path. */
export async function queryObjects(conn: DuckDBConnection, sql: string): Promise<Record<string, unknown>[]> {
  const reader = await conn.runAndReadAll(sql)
  return reader.getRowObjectsJS() as Record<string, unknown>[]
}

/** How a streamed column is cast in SQL and handed out: DOUBLE, FLOAT, INTEGER or INTEGER[] (CSR). */
export type ColumnKind = 'f64' | 'f32' | 'i32' | 'i32list'

export interface ListChunk {
  /** per row: start and length into ids */
  starts: Int32Array
  lengths: Int32Array
  ids: Int32Array
}
export type ChunkColumn = Float64Array | Float32Array | Int32Array | ListChunk

const BYTES: Record<Exclude<ColumnKind, 'i32list'>, number> = { f64: 8, f32: 4, i32: 4 }

function view(
  kind: Exclude<ColumnKind, 'i32list'>,
  u8: Uint8Array,
  n: number,
): Float64Array | Float32Array | Int32Array {
  // the bytes belong to the chunk; copy them out before the next fetch (views are aligned by DuckDB)
  const buf = u8.buffer
  if (kind === 'f64') return new Float64Array(buf, u8.byteOffset, n)
  if (kind === 'f32') return new Float32Array(buf, u8.byteOffset, n)
  return new Int32Array(buf, u8.byteOffset, n)
}

/**
 * Runs `sql` and calls `onChunk` with each chunk's columns (valid only during the call), `n` rows each.
 * Columns must be cast to their kinds in the SQL; NULLs are not allowed (their bytes are undefined).
 */
export async function streamColumns(
  conn: DuckDBConnection,
  sql: string,
  kinds: ColumnKind[],
  onChunk: (cols: ChunkColumn[], n: number) => void,
): Promise<number> {
  const result = await conn.stream(sql)
  if (result.columnCount !== kinds.length)
    throw new DataError(`streamColumns: query has ${result.columnCount} columns, ${kinds.length} kinds given`)
  let rows = 0
  for (;;) {
    const chunk = await result.fetchChunk()
    if (!chunk || chunk.rowCount === 0) break
    const n = chunk.rowCount
    const cols: ChunkColumn[] = kinds.map((kind, j) => {
      const vec = duckdb.data_chunk_get_vector(chunk.chunk, j)
      if (kind !== 'i32list') return view(kind, duckdb.vector_get_data(vec, n * BYTES[kind]), n)
      const entries = duckdb.vector_get_data(vec, n * 16)
      const pairs = new BigUint64Array(entries.buffer, entries.byteOffset, n * 2)
      const starts = new Int32Array(n)
      const lengths = new Int32Array(n)
      for (let i = 0; i < n; i++) {
        starts[i] = Number(pairs[2 * i])
        lengths[i] = Number(pairs[2 * i + 1])
      }
      const child = duckdb.list_vector_get_child(vec)
      const size = duckdb.list_vector_get_size(vec)
      const ids =
        size === 0 ? new Int32Array(0) : (view('i32', duckdb.vector_get_data(child, size * 4), size) as Int32Array)
      return { starts, lengths, ids }
    })
    onChunk(cols, n)
    rows += n
  }
  return rows
}
