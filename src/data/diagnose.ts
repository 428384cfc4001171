/**
 * Finding the first bad cell. The fast path lets DuckDB cast typed columns and fail; when it fails (or
 * when the encoder meets a bad label or number), this module rescans the files one by one, single-threaded and
 * as text, to name the file, the line (CSV) or row (Parquet), the column and the value. A CSV file that
 * cannot be read at all (short row, truncated gzip, not text) is named by csv-file.ts first.
 */
import { DataError } from '../errors.js'
import { connectOrdered, queryObjects, sqlString } from './duck.js'
import { columnOf, type DatasetSchema, type TaskSpec } from './schema.js'
import { cellExpr, findFilesFault, firstLine, formatOf, fromClause, listFiles, rowFilterSql } from './source.js'

interface Check {
  column: string
  /** SQL condition on the raw text cell `c` that marks a bad row */
  bad: (c: string) => string
  what: (got: unknown) => string
}

const num = (c: string) => `TRY_CAST(${c} AS DOUBLE)`
/** NaN, ±inf, and numbers beyond the double range such as 1e400 (read as inf) */
const nonFinite = (c: string) => `NOT isfinite(${num(c)})`

/** The checks that the encoder relies on: numbers parse and are finite, labels are 0/1, the funnel holds (if asked). */
export function dataChecks(schema: DatasetSchema, opts: { missingDense?: boolean } = {}): Check[] {
  const checks: Check[] = []
  for (const f of schema.dense) {
    checks.push({
      column: columnOf(f),
      bad: (c) => `${c} IS NOT NULL AND ${num(c)} IS NULL`,
      what: (got) => `expected a number, got ${JSON.stringify(got)}`,
    })
    checks.push({
      column: columnOf(f),
      bad: nonFinite,
      what: (got) => `expected a finite number, got ${JSON.stringify(got)}`,
    })
    if (opts.missingDense !== false && f.fillMissing === undefined && f.transform !== 'quantile') {
      checks.push({
        column: columnOf(f),
        bad: (c) => `${c} IS NULL`,
        what: () => `missing value (hint: set fillMissing for "${f.name}" in the schema)`,
      })
    }
  }
  for (const t of schema.tasks) checks.push(labelCheck(t))
  return checks
}

function labelCheck(t: TaskSpec): Check {
  const column = columnOf(t)
  if (t.positive) return { column, bad: (c) => `${c} IS NULL`, what: () => 'label is missing' }
  if (t.greaterThan !== undefined)
    return {
      column,
      bad: (c) => `${num(c)} IS NULL OR ${nonFinite(c)}`,
      what: (got) => `expected a finite number, got ${JSON.stringify(got)}`,
    }
  return {
    column,
    bad: (c) => `${num(c)} IS NULL OR ${num(c)} NOT IN (0, 1)`,
    what: (got) => `label must be 0 or 1, got ${got === null ? 'missing' : JSON.stringify(got)}`,
  }
}

/** Label value (0/1) as SQL over a cell expression; used by the encoder and the funnel check. */
export function labelSql(t: TaskSpec, cell: string): string {
  if (t.positive)
    return `(CAST(${cell} AS VARCHAR) IN (${t.positive.map((p) => sqlString(String(p))).join(', ')}))::DOUBLE`
  if (t.greaterThan !== undefined) return `(CAST(${cell} AS DOUBLE) > ${t.greaterThan})::DOUBLE`
  return `CAST(${cell} AS DOUBLE)`
}

export function funnelChecks(schema: DatasetSchema): Check[] {
  const out: Check[] = []
  for (let k = 1; k < schema.tasks.length; k++) {
    const t = schema.tasks[k]
    const p = schema.tasks[k - 1]
    out.push({
      column: columnOf(t),
      bad: () => `__label${k} > __label${k - 1}`,
      what: () =>
        `funnel broken: "${t.name}" is 1 but the earlier stage "${p.name}" is 0 (hint: set funnel to drop or keep)`,
    })
  }
  return out
}

/**
 * Scans file by file for the first row failing any check; returns a DataError or undefined. Lines are counted
 * over the whole file, but only rows the schema's filter keeps are checked (the others are never encoded).
 */
export async function findFirstBad(
  schema: DatasetSchema,
  files: string[],
  checks: Check[],
): Promise<DataError | undefined> {
  if (checks.length === 0) return undefined
  const format = formatOf(schema, files)
  const { conn, close } = await connectOrdered()
  try {
    for (const file of await listFiles(schema, files)) {
      const cells = checks.map((ch) => cellExpr(schema, ch.column, format))
      const labels = schema.tasks.map(
        (t, k) => `TRY_CAST(${labelSql(t, cellExpr(schema, columnOf(t), format))} AS DOUBLE) AS __label${k}`,
      )
      const rn = format === 'parquet' ? 'file_row_number + 1' : 'row_number() OVER ()'
      const inner = `SELECT ${rn} AS __rn, *, ${labels.join(', ')}, ${rowFilterSql(schema, format)} AS __keep FROM ${fromClause(schema, [file], { allVarchar: true, rowNumber: true, unfiltered: true })}`
      const firsts = checks.map((ch, i) => `min(__rn) FILTER (WHERE __keep AND (${ch.bad(cells[i])})) AS b${i}`)
      let row: Record<string, unknown>
      try {
        ;[row] = await queryObjects(conn, `SELECT ${firsts.join(', ')} FROM (${inner})`)
      } catch (cause) {
        return (
          (await findFilesFault(schema, [file])) ??
          new DataError(`${file}: ${firstLine((cause as Error).message)}`, { file, cause })
        )
      }
      let best = -1
      let bestRn = Infinity
      checks.forEach((_, i) => {
        const v = row[`b${i}`]
        if (v !== null && v !== undefined && Number(v) < bestRn) {
          bestRn = Number(v)
          best = i
        }
      })
      if (best < 0) continue
      // as text: a typed Parquet cell (BIGINT, DOUBLE NaN) is shown as it reads, never as a JS BigInt
      const [got] = await queryObjects(
        conn,
        `SELECT CAST(${cells[best]} AS VARCHAR) AS v FROM (${inner}) WHERE __rn = ${bestRn}`,
      )
      const line = format === 'csv' ? bestRn + (schema.csv.header ? 1 : 0) : bestRn
      const where = format === 'csv' ? `${file}:${line}` : `${file}: row ${line}`
      return new DataError(`${where}: column "${checks[best].column}": ${checks[best].what(got?.v ?? null)}`, {
        file,
        line,
        field: checks[best].column,
      })
    }
    return undefined
  } finally {
    close()
  }
}

/**
 * Runs `fn`; if DuckDB fails on the data, names the broken file (CSV structure) or rescans to report the first
 * bad cell with file, line and column.
 */
export async function withDiagnosis<T>(schema: DatasetSchema, files: string[], fn: () => Promise<T>): Promise<T> {
  try {
    return await fn()
  } catch (err) {
    if (err instanceof DataError) throw err
    // the rescan names a bad cell, or a file it cannot read either (then scanned for its fault, file by file)
    const found =
      (await findFirstBad(schema, files, dataChecks(schema, { missingDense: false }))) ??
      (await findFilesFault(schema, files))
    if (found) throw found
    throw new DataError(`${files.join(', ')}: ${firstLine((err as Error).message)}`, { file: files[0], cause: err })
  }
}
