/**
 * From files to a DuckDB relation: CSV (header or not, any delimiter, gzip) or Parquet, single files,
 * globs and hive-partitioned folders, and the SQL expression of one raw cell (trimmed, nulls applied).
 */
import { statSync } from 'node:fs'
import { extname, join } from 'node:path'
import type { DuckDBConnection } from '@duckdb/node-api'
import { DataError } from '../errors.js'
import { queryObjects, sqlIdent, sqlList, sqlString } from './duck.js'
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
export function fromClause(schema: DatasetSchema, files: string[], opts: { allVarchar?: boolean; rowNumber?: boolean; unfiltered?: boolean } = {}): string {
  const format = formatOf(schema, files)
  const read = readClause(schema, files, format, opts)
  return schema.filter.length === 0 || opts.unfiltered ? read : `(SELECT * FROM ${read} WHERE ${rowFilterSql(schema, format)})`
}

function readClause(schema: DatasetSchema, files: string[], format: Format, opts: { allVarchar?: boolean; rowNumber?: boolean }): string {
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
  if (c.names) args.push(`names=${sqlList(c.names)}`)
  if (!c.trim) args.push(`nullstr=${sqlList(c.nullValues)}`)
  if (opts.allVarchar || c.trim) args.push('all_varchar=true')
  return `read_csv(${list}, ${args.join(', ')})`
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
  return schema.filter.map((f) => `coalesce(${conditionSql(f, cellExpr(schema, f.column, format))}, false)`).join(' AND ')
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
  return schema.filter.map((f) => (f.greaterThan !== undefined ? `${f.column} > ${f.greaterThan}` : `${f.column} in ${JSON.stringify(f.oneOf)}`)).join(', ')
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
export async function describeColumns(conn: DuckDBConnection, schema: DatasetSchema, files: string[]): Promise<ColumnInfo[]> {
  try {
    const rows = await queryObjects(conn, `DESCRIBE SELECT * FROM ${fromClause(schema, files, { unfiltered: true })}`)
    return rows.map((r) => ({ name: String(r.column_name), type: String(r.column_type) }))
  } catch (cause) {
    throw new DataError(`${files.join(', ')}: cannot read: ${firstLine((cause as Error).message)}`, { file: files[0], cause })
  }
}

/** Checks that every column the schema uses exists; names the file and lists what is there. */
export function requireColumns(have: ColumnInfo[], needed: string[], files: string[]): void {
  const names = new Set(have.map((c) => c.name))
  for (const col of needed) {
    if (!names.has(col)) {
      const list = have.map((c) => c.name)
      const shown = list.length > 12 ? `${list.slice(0, 12).join(', ')}, ... (${list.length} in all)` : list.join(', ')
      throw new DataError(`${files.join(', ')}: missing column "${col}" (columns: ${shown})`, { file: files[0], field: col })
    }
  }
}

export function firstLine(message: string): string {
  return message.split('\n').slice(0, 3).join(' ').trim()
}

export function isIntegerType(type: string): boolean {
  return /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT)$/.test(type)
}
