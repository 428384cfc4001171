/**
 * From files to a DuckDB relation: CSV (header or not, any delimiter, gzip) or Parquet, single files,
 * globs and hive-partitioned folders, and the SQL expression of one raw cell (trimmed, nulls applied).
 *
 * CSV files given by name are read with the schema's dialect and their header's column names, every cell as
 * text (auto_detect off): DuckDB's sniffer never guesses, so a short row or a broken file fails with a line
 * that csv-file.ts can name, and a column never changes type between files. Globs, folders and hive layouts
 * (expanded by DuckDB) are still sniffed.
 */
import { closeSync, openSync, readSync, statSync } from 'node:fs'
import { extname, join } from 'node:path'
import type { DuckDBConnection } from '@duckdb/node-api'
import { DataError } from '../errors.js'
import { findCsvFault, isPlainFile, sharedColumnNames } from './csv-file.js'
import { connectOrdered, queryObjects, sqlIdent, sqlList, sqlString } from './duck.js'
import type { DatasetSchema, RowCondition } from './schema.js'

export type Format = 'csv' | 'parquet'

/** A folder becomes a recursive glob of its data files; globs and files pass through. */
export function expandPath(path: string, format?: Format): string {
  let isDir = false
  try {
    isDir = statSync(path).isDirectory()
  } catch {
    isDir = false // a glob or a missing file; DuckDB reports the latter with its name
  }
  if (!isDir) return path
  return join(path, '**', format === 'csv' ? '*.csv*' : '*.parquet')
}

/** Expands globs and folders to the concrete files, in name order. */
export async function listFiles(schema: DatasetSchema, files: string[]): Promise<string[]> {
  const { conn, close } = await connectOrdered()
  try {
    const out: string[] = []
    for (const f of files) {
      const rows = await queryObjects(
        conn,
        `SELECT file FROM glob(${sqlString(expandPath(f, formatOf(schema, files)))}) ORDER BY file`,
      )
      out.push(...(rows.length > 0 ? rows.map((r) => String(r.file)) : [f]))
    }
    return out
  } finally {
    close()
  }
}

/**
 * The first structural fault of the files behind paths, globs and folders, or undefined: for CSV see
 * csv-file.ts; a Parquet file must be non-empty and start and end with its magic bytes PAR1.
 */
export async function findFilesFault(schema: DatasetSchema, files: string[]): Promise<DataError | undefined> {
  const format = formatOf(schema, files)
  for (const file of await listFiles(schema, files)) {
    if (!isPlainFile(file) || OTHER_COMPRESSION.test(file)) continue
    const fault = format === 'csv' ? await findCsvFault(file, schema.csv) : parquetFault(file)
    if (fault) return fault
  }
  return undefined
}

function parquetFault(file: string): DataError | undefined {
  const size = statSync(file).size
  if (size === 0) return new DataError(`${file}: empty file (0 bytes); expected a Parquet file`, { file })
  const fd = openSync(file, 'r')
  try {
    const head = Buffer.alloc(4)
    const tail = Buffer.alloc(4)
    readSync(fd, head, 0, 4, 0)
    readSync(fd, tail, 0, 4, Math.max(0, size - 4))
    if (head.toString('latin1') !== 'PAR1')
      return new DataError(`${file}: not a Parquet file (it does not start with the bytes PAR1)`, { file })
    if (size < 12 || tail.toString('latin1') !== 'PAR1')
      return new DataError(
        `${file}: truncated Parquet file: it does not end with the bytes PAR1, so its footer (the column index) is missing`,
        { file },
      )
    return undefined
  } finally {
    closeSync(fd)
  }
}

export function formatOf(schema: DatasetSchema, files: string[]): Format {
  if (schema.format) return schema.format
  const f = files[0] ?? ''
  return /\.parquet$/i.test(f) || extname(f) === '' ? 'parquet' : 'csv'
}

/**
 * The rows of the files as a FROM item: `read_csv(...)` / `read_parquet(...)`, wrapped in a subquery that keeps
 * only the rows passing the schema's filter when it has one. allVarchar reads every CSV cell as text; unfiltered
 * reads every row (column discovery, and diagnostics, which number the lines of the file itself).
 */
export function fromClause(
  schema: DatasetSchema,
  files: string[],
  opts: { allVarchar?: boolean; rowNumber?: boolean; unfiltered?: boolean } = {},
): string {
  const format = formatOf(schema, files)
  const read = readClause(schema, files, format, opts)
  return schema.filter.length === 0 || opts.unfiltered
    ? read
    : `(SELECT * FROM ${read} WHERE ${rowFilterSql(schema, format)})`
}

function readClause(
  schema: DatasetSchema,
  files: string[],
  format: Format,
  opts: { allVarchar?: boolean; rowNumber?: boolean },
): string {
  const list = sqlList(files.map((f) => expandPath(f, format)))
  if (format === 'parquet') {
    return `read_parquet(${list}, union_by_name=true, hive_partitioning=${schema.hivePartitioning}${opts.rowNumber ? ', file_row_number=true' : ''})`
  }
  const c = schema.csv
  const args = [
    `header=${c.header}`,
    `delim=${sqlString(c.delimiter)}`,
    `quote=${sqlString(c.quote)}`,
    `hive_partitioning=${schema.hivePartitioning}`,
  ]
  if (!c.trim) args.push(`nullstr=${sqlList(c.nullValues)}`)
  if (isExplicitCsv(schema, files)) {
    // the dialect as the schema gives it and the columns as the header names them, all text
    const names = sharedColumnNames(files, c)
    args.push(
      'auto_detect=false',
      `escape=${sqlString(c.quote)}`,
      `columns={${names.map((n) => `${sqlString(n)}: 'VARCHAR'`).join(', ')}}`,
    )
    return `read_csv(${list}, ${args.join(', ')})`
  }
  if (c.names) args.push(`names=${sqlList(c.names)}`)
  if (opts.allVarchar || c.trim) args.push('all_varchar=true')
  return `read_csv(${list}, ${args.join(', ')})`
}

/** compressions DuckDB reads that csv-file.ts does not (it reads plain text and gzip) */
const OTHER_COMPRESSION = /\.(zst|zstd|bz2|xz|lz4|snappy)$/i

/** CSV files named one by one (no glob, folder or hive layout): read with an explicit dialect, never sniffed. */
function isExplicitCsv(schema: DatasetSchema, files: string[]): boolean {
  return (
    !schema.hivePartitioning && files.length > 0 && files.every((f) => isPlainFile(f) && !OTHER_COMPRESSION.test(f))
  )
}

/** SQL for one raw cell of `column`: trimmed and with the schema's null values as NULL (CSV with trim). */
export function cellExpr(schema: DatasetSchema, column: string, format: Format): string {
  const col = sqlIdent(column)
  if (format !== 'csv' || !schema.csv.trim) return col
  const nulls = schema.csv.nullValues.map(sqlString).join(', ')
  return `(CASE WHEN trim(${col}) IN (${nulls}) THEN NULL ELSE trim(${col}) END)`
}

/**
 * The schema's row filter as one SQL condition over raw cells, true or false for every row (never NULL): a
 * missing cell fails its condition. 'true' without a filter. The same text serves fitting, encoding and diagnostics.
 */
export function rowFilterSql(schema: DatasetSchema, format: Format): string {
  if (schema.filter.length === 0) return 'true'
  return schema.filter
    .map((f) => `coalesce(${conditionSql(f, cellExpr(schema, f.column, format))}, false)`)
    .join(' AND ')
}

function conditionSql(f: RowCondition, cell: string): string {
  const asNumber = `TRY_CAST(${cell} AS DOUBLE)`
  if (f.greaterThan !== undefined) return `(${asNumber} > ${sqlNumber(f.greaterThan)})`
  const numbers = (f.oneOf ?? []).filter((v): v is number => typeof v === 'number')
  const strings = (f.oneOf ?? []).filter((v): v is string => typeof v === 'string')
  const parts: string[] = []
  if (numbers.length > 0) parts.push(`${asNumber} IN (${numbers.map(sqlNumber).join(', ')})`)
  if (strings.length > 0) parts.push(`CAST(${cell} AS VARCHAR) IN (${strings.map(sqlString).join(', ')})`)
  return `(${parts.join(' OR ')})`
}

/** A finite number as a DOUBLE literal (zod's z.number() has already rejected NaN and ±Infinity). */
function sqlNumber(x: number): string {
  return `CAST(${sqlString(String(x))} AS DOUBLE)`
}

/** The filter as text for messages, e.g. `play_time_ms > 0, tab in [1]`. */
export function describeFilter(schema: DatasetSchema): string {
  return schema.filter
    .map((f) =>
      f.greaterThan !== undefined ? `${f.column} > ${f.greaterThan}` : `${f.column} in ${JSON.stringify(f.oneOf)}`,
    )
    .join(', ')
}

/** The columns the row filter reads (they must exist like feature and label columns). */
export function filterColumns(schema: DatasetSchema): string[] {
  return schema.filter.map((f) => f.column)
}

export interface ColumnInfo {
  name: string
  type: string
}

/** Column names and DuckDB types of the files (reads only the header / footer). */
export async function describeColumns(
  conn: DuckDBConnection,
  schema: DatasetSchema,
  files: string[],
): Promise<ColumnInfo[]> {
  const from = fromClause(schema, files, { unfiltered: true }) // a CSV file's header is checked here
  try {
    const rows = await queryObjects(conn, `DESCRIBE SELECT * FROM ${from}`)
    return rows.map((r) => ({ name: String(r.column_name), type: String(r.column_type) }))
  } catch (cause) {
    // a file DuckDB cannot make sense of (a sniffed CSV, a broken Parquet file): name its fault when it has one
    const fault = await findFilesFault(schema, files)
    if (fault) throw fault
    throw new DataError(`${files.join(', ')}: cannot read: ${firstLine((cause as Error).message)}`, {
      file: files[0],
      cause,
    })
  }
}

/** Checks that every column the schema uses exists; names the file and lists what is there. */
export function requireColumns(have: ColumnInfo[], needed: string[], files: string[]): void {
  const names = new Set(have.map((c) => c.name))
  for (const col of needed) {
    if (!names.has(col)) {
      const list = have.map((c) => c.name)
      const shown = list.length > 12 ? `${list.slice(0, 12).join(', ')}, ... (${list.length} in all)` : list.join(', ')
      throw new DataError(`${files.join(', ')}: missing column "${col}" (columns: ${shown})`, {
        file: files[0],
        field: col,
      })
    }
  }
}

/** The gist of a DuckDB message: its first lines, without the echo of our SQL ("LINE 1: ..." and its caret). */
export function firstLine(message: string): string {
  return message
    .split('\n')
    .filter((l) => !/^LINE \d+:/.test(l) && !/^\s*\^\s*$/.test(l))
    .slice(0, 3)
    .join(' ')
    .trim()
}

export function isIntegerType(type: string): boolean {
  return /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT)$/.test(type)
}
