/**
 * The serving codec of a fitted preprocessing artifact: which raw values a request carries, and their
 * encoding with the data layer's `encodeRows` (the same mapping as training: unknown categories → id 0).
 *
 * Request keys are the data's column names (a feature's name unless its schema sets `column`), each
 * listed once even when two features read the same column. Kinds: a categorical column takes a string
 * or a number; a numeric one (transformed or quantile-bucketed) a number; a multi-valued one a list of
 * values or the separator-joined string as in the data. null is a missing value: id 0, or the
 * feature's fill value; a numeric column without a fill value rejects it.
 */
import { type Preprocessing, inputSpecOf } from '../data/preprocessing.js'
import { encodeRows } from '../data/encode-rows.js'
import type { RawRow as DataRow } from '../data/encode-rows.js'
import type { Batch, InputSpec } from '../data/types.js'

/** A raw feature value as it appears in the data (a multi-valued feature: a list, or a joined string). */
export type RawValue = string | number | null | readonly (string | number)[]
export type RawRow = Readonly<Record<string, RawValue>>

/** How a raw feature is validated in requests. */
export type RawKind = 'categorical' | 'numeric' | 'list'

export interface RawFeature {
  name: string
  kind: RawKind
  /** whether null (a missing value) is accepted; false for numbers without a fill value. Default true */
  nullable?: boolean
}

/** Raw rows ⇄ encoded batches, from a fitted preprocessing artifact. */
export interface RowCodec {
  spec: InputSpec
  /** every raw feature a request must carry, with its kind, in feature order */
  features: readonly RawFeature[]
  /** encodes raw rows (unknown categorical values → id 0, as in training) */
  encode(rows: readonly RawRow[]): Batch
  /**
   * The fitted preprocessing the codec maps with, when it has one (codecs from `codecFromPreprocessing`).
   * The server compiles it into its one-pass encoder (serve/columnar.ts); without it the server encodes row
   * objects with `encode`, and cannot hold an item store.
   */
  readonly preprocessing?: Preprocessing
}

export function codecFromPreprocessing(prep: Preprocessing): RowCodec {
  const features = new Map<string, RawFeature>()
  const add = (column: string, f: RawFeature) => {
    const seen = features.get(column)
    // a column read by several features: the strictest rule wins
    if (!seen) features.set(column, f)
    else if (f.nullable === false) seen.nullable = false
  }
  for (const f of prep.sparse) add(f.column, { name: f.column, kind: 'categorical' })
  for (const f of prep.multi) add(f.column, { name: f.column, kind: 'list' })
  for (const f of prep.buckets) add(f.column, { name: f.column, kind: 'numeric' })
  for (const f of prep.dense) add(f.column, { name: f.column, kind: 'numeric', nullable: f.fill !== undefined })
  const separators = new Map(prep.multi.map((f) => [f.column, f.separator]))
  const spec = inputSpecOf(prep)
  return {
    spec,
    features: [...features.values()],
    preprocessing: prep,
    encode(rows: readonly RawRow[]) {
      const flat = joinLists(rows, separators)
      return encodeRows(prep, flat, 'body.candidates')
    },
  }
}

/**
 * Rows as the data layer reads them: multi-valued columns arrive as JSON arrays in requests, the data
 * layer reads the separator-joined form, as in the files. Rows without a list are passed as they are.
 */
export function joinLists(rows: readonly RawRow[], separators: Iterable<readonly [string, string]>): DataRow[] {
  const seps = [...separators]
  return rows.map((r) => {
    let out: DataRow | null = null
    for (const [column, sep] of seps) {
      const v = r[column]
      if (Array.isArray(v)) {
        out ??= { ...(r as DataRow) }
        out[column] = v.join(sep)
      }
    }
    return out ?? (r as DataRow)
  })
}
