/**
 * The read query of the first pass (encode.ts): one SQL expression per encoded column, so DuckDB casts,
 * splits and maps the cells. String vocabularies map through ENUM types (hash lookups that keep row order);
 * integer vocabularies come back as doubles for a JS lookup table while every id is a safe integer
 * (|id| < 2^53), otherwise through an ENUM of their exact decimal text. Missing numbers are NaN and
 * non-finite ones +inf, so the column loops (encode-columns.ts) tell them apart.
 */
import type { DuckDBConnection } from '@duckdb/node-api'
import { DataError } from '../errors.js'
import { type ColumnKind, sqlString } from './duck.js'
import { dataChecks, labelSql } from './diagnose.js'
import type { Preprocessing } from './preprocessing.js'
import { columnOf } from './schema.js'
import { cellExpr, type formatOf } from './source.js'

let enumCounter = 0

/** Creates an ENUM type holding the vocabulary (position = id - 1); returns its name. */
async function createVocabEnum(conn: DuckDBConnection, vocab: string[]): Promise<string> {
  const name = `resflow_vocab_${process.pid}_${enumCounter++}`
  await conn.run(`CREATE TABLE ${name}_t (i INTEGER, v VARCHAR)`)
  const app = await conn.createAppender(`${name}_t`)
  vocab.forEach((v, i) => {
    app.appendInteger(i)
    app.appendVarchar(v)
    app.endRow()
  })
  app.closeSync()
  await conn.run(`CREATE TYPE ${name} AS ENUM (SELECT v FROM ${name}_t ORDER BY i)`)
  return name
}

/** 2^53: from here on a double no longer holds every integer (2^53 + 1 reads as 2^53) */
const EXACT_DOUBLE = '9007199254740992'

/** Whether every id of an integer vocabulary is exact as a double, so the JS lookup table can map it. */
function safeIntVocab(vocab: string[]): boolean {
  return vocab.every((v) => Number.isSafeInteger(Number(v)))
}

/**
 * SQL for the id of an integer cell through an ENUM of the vocabulary's exact decimal text: an integer written
 * as digits (with sign, leading zeros or a .0 tail) becomes its canonical text; anything else misses (id 0).
 */
function exactIntText(cell: string): string {
  const text = `trim(CAST(${cell} AS VARCHAR))`
  return `CASE WHEN regexp_full_match(${text}, '[+-]?[0-9]+([.]0*)?') THEN CAST(TRY_CAST(${text} AS HUGEINT) AS VARCHAR) END`
}

/** id lookup for integer-valued vocabularies of safe integers: a dense table when the values are small, a Map otherwise. */
export function intLookup(vocab: string[]): (x: number) => number {
  const lut = intTable(vocab)
  if (lut) return (x) => (x >= 0 && x < lut.length && Number.isInteger(x) ? lut[x] : 0)
  const map = new Map(vocab.map((v, i) => [Number(v), i + 1]))
  return (x) => map.get(x) ?? 0
}

/** The dense table of intLookup (value → id) when the values are small non-negative integers, else undefined. */
function intTable(vocab: string[]): Int32Array | undefined {
  const values = vocab.map(Number)
  const max = values.reduce((a, b) => Math.max(a, b), -1)
  const min = values.reduce((a, b) => Math.min(a, b), 0)
  if (!(min >= 0 && max < 1 << 24 && max < 64 * values.length + 1024)) return undefined
  const lut = new Int32Array(max + 1)
  values.forEach((v, i) => {
    lut[v] = i + 1
  })
  return lut
}

// Per-column loops of the first pass, one element type each (monomorphic loads and stores).

/** The read query's columns: SQL and kind per encoded column, the ENUM types to drop afterwards, and the integer lookups per sparse feature. */
export interface ReadQuery {
  exprs: string[]
  kinds: ColumnKind[]
  /** ENUM types created for the query (dropped by the caller when the pass ends) */
  enums: string[]
  /** per sparse feature: id of an integer cell read as a double */
  lookups: ((x: number) => number)[]
  /** per sparse feature: a dense lookup table when the integer ids are small enough */
  tables: (Int32Array | undefined)[]
}

/** Builds the read query's column expressions for `prep` over `files` (creating the vocabularies' ENUM types on `conn`). */
export async function readQuery(
  conn: DuckDBConnection,
  prep: Preprocessing,
  files: string[],
  format: ReturnType<typeof formatOf>,
): Promise<ReadQuery> {
  const schema = prep.schema
  const cell = (col: string) => cellExpr(schema, col, format)
  const skip = schema.badRows === 'skip'
  const cast = skip ? 'TRY_CAST' : 'CAST'
  const nan = `'NaN'::DOUBLE`

  const exprs: string[] = []
  const kinds: ColumnKind[] = []
  const add = (sql: string, kind: ColumnKind) => {
    exprs.push(sql)
    kinds.push(kind)
  }
  const enums: string[] = []
  const lookups: ((x: number) => number)[] = []
  const tables: (Int32Array | undefined)[] = []
  for (const f of prep.sparse) {
    if (f.hashBuckets && !(f.valueType === 'int' && safeIntVocab(f.vocab))) {
      throw new DataError(
        `${files.join(', ')}: sparse feature "${f.name}": hashBuckets needs integer ids below 2^53 (exact as doubles), as serving hashes them`,
        { file: files[0], field: `sparse.${f.name}.hashBuckets` },
      )
    }
    if (f.valueType === 'int' && safeIntVocab(f.vocab)) {
      lookups.push(intLookup(f.vocab))
      tables[lookups.length - 1] = intTable(f.vocab)
      // a cell beyond ±2^53 would round onto a neighbour in the table: it is no id of this vocabulary (→ 0)
      const x = `TRY_CAST(${cell(f.column)} AS DOUBLE)`
      add(`coalesce(CASE WHEN abs(${x}) < ${EXACT_DOUBLE} THEN ${x} END, ${nan})`, 'f64')
    } else {
      lookups.push((x) => x)
      if (f.vocab.length === 0) {
        add('0::INTEGER', 'i32')
        continue
      }
      const e = await createVocabEnum(conn, f.vocab)
      enums.push(e)
      const text = f.valueType === 'int' ? exactIntText(cell(f.column)) : `CAST(${cell(f.column)} AS VARCHAR)`
      add(`coalesce(enum_code(TRY_CAST(${text} AS ${e}))::INTEGER + 1, 0)`, 'i32')
    }
  }
  for (const f of prep.multi) {
    const e = f.vocab.length > 0 ? await createVocabEnum(conn, f.vocab) : undefined
    if (e) enums.push(e)
    const id = e ? `coalesce(enum_code(TRY_CAST(x AS ${e}))::INTEGER + 1, 0)` : '0'
    add(
      `coalesce(list_transform(list_filter(string_split(CAST(${cell(f.column)} AS VARCHAR), ${sqlString(f.separator)}), x -> x <> ''), x -> ${id}), [])::INTEGER[]`,
      'i32list',
    )
  }
  // missing → NaN, a non-finite number (NaN, ±inf, 1e400) → +inf, which the loop refuses, so neither is mistaken for the other
  for (const f of [...prep.buckets, ...prep.dense]) {
    const x = `${cast}(${cell(f.column)} AS DOUBLE)`
    add(`CASE WHEN ${x} IS NULL THEN ${nan} WHEN isfinite(${x}) THEN ${x} ELSE 'inf'::DOUBLE END`, 'f64')
  }
  schema.tasks.forEach((t) =>
    add(
      `coalesce(${skip ? `TRY_CAST(${labelSql(t, cell(columnOf(t)))} AS DOUBLE)` : labelSql(t, cell(columnOf(t)))}, -1)::DOUBLE`,
      'f64',
    ),
  )
  if (schema.group) {
    // a number while it is exact as a double; other ids (text, integers beyond 2^53) by a hash of their text
    const g = `TRY_CAST(${cell(schema.group)} AS DOUBLE)`
    add(
      `coalesce(CASE WHEN abs(${g}) < ${EXACT_DOUBLE} THEN ${g} END, (hash(CAST(${cell(schema.group)} AS VARCHAR)) % 4503599627370496)::DOUBLE, -1)`,
      'f64',
    )
  }
  for (const x of schema.extra) add(`coalesce(${cast}(${cell(x)} AS DOUBLE), ${nan})`, 'f64')
  if (skip) {
    const checks = dataChecks(schema)
    add(`(${checks.map((ch) => `(${ch.bad(cell(ch.column))})`).join(' OR ') || 'false'})::INTEGER`, 'i32')
  }

  return { exprs, kinds, enums, lookups, tables }
}
