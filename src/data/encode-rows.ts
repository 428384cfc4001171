/**
 * Serving-time encoding: raw row objects → one Batch, with exactly the mapping of the fitted
 * preprocessing (unknown categories → id 0). Errors name the row and the field.
 */
import { DataError } from '../errors.js'
import { bucketOf, inputSpecOf, transformDense, type Preprocessing } from './preprocessing.js'
import type { Batch, MultiColumn } from './types.js'
import { hashBucket } from './id-hash.js'

export type RawRow = Record<string, string | number | null | undefined>

const lookups = new WeakMap<Preprocessing, Map<string, Map<string, number>>>()

function vocabMap(prep: Preprocessing, key: string, vocab: string[]): Map<string, number> {
  let perPrep = lookups.get(prep)
  if (!perPrep) lookups.set(prep, (perPrep = new Map()))
  let m = perPrep.get(key)
  if (!m) perPrep.set(key, (m = new Map(vocab.map((v, i) => [v, i + 1]))))
  return m
}

/** an integer written as digits, with an optional sign and .0 tail: compared as BigInt, every digit kept */
export const INTEGER_TEXT = /^\s*([+-]?[0-9]+)(\.0*)?\s*$/

/**
 * The vocabulary text of a raw categorical value. Integer columns compare values as integers, as the training
 * encoder does ("007", "7.0" and 7 are id "7"); a number beyond 2^53 - 1 cannot be told from its neighbours
 * (JSON numbers are doubles), so it is refused: big ids travel as strings.
 */
export function canonical(
  v: string | number,
  valueType: 'int' | 'string',
  trim: boolean,
  at: string | (() => string),
): string {
  if (typeof v === 'number') {
    if (Number.isInteger(v) && !Number.isSafeInteger(v)) {
      const where = typeof at === 'string' ? at : at()
      throw new DataError(
        `${where}: ${v} is not an exact integer id (beyond 2^53 - 1 a number loses digits); send the id as a string`,
        { field: where },
      )
    }
    return String(v)
  }
  const s = trim ? v.trim() : v
  if (valueType === 'int') {
    const digits = INTEGER_TEXT.exec(s)
    if (digits) return BigInt(digits[1]).toString()
    const n = Number(s)
    return Number.isSafeInteger(n) && s.trim() !== '' ? String(n) : s
  }
  return s
}

/** Encodes rows keyed by the source column names; labels are not needed (filled with 0). */
export function encodeRows(prep: Preprocessing, rows: RawRow[], where = 'rows'): Batch {
  const spec = inputSpecOf(prep)
  const B = rows.length
  const trim = prep.schema.csv.trim
  const nulls = new Set(prep.schema.csv.nullValues.filter((s) => s !== ''))
  const isMissing = (v: unknown) =>
    v === null || v === undefined || v === '' || (typeof v === 'string' && nulls.has(trim ? v.trim() : v))
  const sparse: Record<string, Int32Array> = {}
  for (const f of prep.sparse) {
    const ids = new Int32Array(B)
    const map = vocabMap(prep, `s:${f.name}`, f.vocab)
    rows.forEach((r, i) => {
      const v = r[f.column]
      if (isMissing(v)) return
      const text = canonical(v as string | number, f.valueType, trim, `${where}[${i}].${f.column}`)
      const id = map.get(text)
      // beyond the capacity: the hash bucket the first pass gave it (an integer id exact as a double)
      ids[i] =
        id ??
        (f.hashBuckets && Number.isSafeInteger(Number(text)) && text.trim() !== ''
          ? f.vocab.length + 1 + hashBucket(Number(text), f.hashBuckets)
          : 0)
    })
    sparse[f.name] = ids
  }
  const number = (r: RawRow, i: number, column: string, fill: number | undefined): number => {
    const v = r[column]
    if (isMissing(v)) {
      if (fill !== undefined) return fill
      throw new DataError(
        `${where}[${i}].${column}: expected a number, got ${v === undefined ? 'nothing' : JSON.stringify(v)}`,
        { field: `${where}[${i}].${column}` },
      )
    }
    const x = typeof v === 'number' ? v : Number(String(v).trim())
    if (!Number.isFinite(x))
      throw new DataError(`${where}[${i}].${column}: expected a number, got ${JSON.stringify(v)}`, {
        field: `${where}[${i}].${column}`,
      })
    return x
  }
  for (const f of prep.buckets) {
    const ids = new Int32Array(B)
    rows.forEach((r, i) => {
      const v = r[f.column]
      ids[i] = isMissing(v) && f.fill === undefined ? 0 : bucketOf(f.edges, number(r, i, f.column, f.fill))
    })
    sparse[f.name] = ids
  }
  const multi: Record<string, MultiColumn> = {}
  for (const f of prep.multi) {
    const map = vocabMap(prep, `m:${f.name}`, f.vocab)
    const lists = rows.map((r, i) => {
      const v = r[f.column]
      if (isMissing(v)) return []
      const text = typeof v === 'number' ? canonical(v, 'string', false, `${where}[${i}].${f.column}`) : String(v)
      return text
        .split(f.separator)
        .filter((x) => x !== '')
        .map((x) => map.get(x) ?? 0)
    })
    const offsets = new Int32Array(B + 1)
    lists.forEach((l, i) => {
      offsets[i + 1] = offsets[i] + l.length
    })
    multi[f.name] = { offsets, ids: Int32Array.from(lists.flat()) }
  }
  const nD = prep.dense.length
  const dense = new Float32Array(B * nD)
  rows.forEach((r, i) => {
    prep.dense.forEach((f, d) => {
      dense[i * nD + d] = transformDense(f, number(r, i, f.column, f.fill))
    })
  })
  const labels = Object.fromEntries(spec.tasks.map((t) => [t, new Float32Array(B)]))
  return { size: B, sparse, multi, dense, labels }
}
