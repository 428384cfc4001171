/**
 * The serving encoder, compiled once per loaded model from its fitted preprocessing: raw values go straight
 * into the typed arrays of a Batch, one value at a time, with no row objects in between. It maps every
 * value exactly as the data layer's `encodeRows` does (same vocabularies, integer canonical form, null
 * values, fills, buckets and transforms; tests/serve/columnar.test.ts checks the two agree), so a request
 * scores as the same rows through `resflow predict`.
 *
 * Organised by raw column (a request key), because one column may feed several features (a sparse id and a
 * bucketed copy, say): a `ColumnPlan` lists its targets. A `BatchWriter` holds the arrays of one batch being
 * built; the request parser (rank-encode.ts) and the item store (item-store.ts) both write through it, and
 * the item store keeps its own writer as the encoded item table that requests copy rows from.
 *
 * Values reaching `put` are already checked for their kind (request.ts `checkValue`, or the item file's
 * cell parser): a number or null for numeric columns, a string / number / null for categorical ones, a
 * list or joined string or null for multi-valued ones.
 */
import { canonical } from '../data/encode-rows.js'
import { type Preprocessing, bucketOf, inputSpecOf, transformDense } from '../data/preprocessing.js'
import type { Batch, InputSpec } from '../data/types.js'
import { DataError } from '../errors.js'
import type { RawFeature, RowCodec } from '../export/codec.js'

/**
 * Largest per-column memo of raw categorical value → id. Only values that map to a vocabulary id are kept
 * (and missing ones), so requests full of made-up values cannot grow it; past the limit, values are mapped
 * without memoising (the same ids, a little slower).
 */
const MEMO_LIMIT = 100_000

// `slot`: the position of the feature's id column in BatchWriter.ids (array indexing, not a keyed lookup per value)
export type SparseTarget = {
  kind: 'sparse'
  name: string
  slot: number
  valueType: 'int' | 'string'
  vocab: Map<string, number>
  memoS: Map<string, number>
  memoN: Map<number, number>
}
export type BucketTarget = { kind: 'bucket'; name: string; slot: number; edges: number[]; fill: number | undefined }
export type DenseTarget = { kind: 'dense'; index: number; f: Preprocessing['dense'][number] }
export type MultiTarget = { kind: 'multi'; name: string; separator: string; vocab: Map<string, number> }
export type Target = SparseTarget | BucketTarget | DenseTarget | MultiTarget

/** One raw column: how a request carries it, and the features it feeds. */
export interface ColumnPlan {
  /** position in `CompiledCodec.columns` */
  index: number
  feature: RawFeature
  targets: Target[]
}

const compiled = new WeakMap<RowCodec, CompiledCodec>()

/**
 * The one-pass encoder of a codec, built on first use (the vocabulary maps cost a pass over every
 * vocabulary) and kept as long as the codec lives; undefined for a codec without a fitted preprocessing.
 */
export function compiledCodec(codec: RowCodec): CompiledCodec | undefined {
  if (!codec.preprocessing) return undefined
  let c = compiled.get(codec)
  if (!c) compiled.set(codec, (c = new CompiledCodec(codec.preprocessing, codec.features)))
  return c
}

export class CompiledCodec {
  readonly spec: InputSpec
  readonly columns: ColumnPlan[]
  readonly byName: Map<string, ColumnPlan>
  /** dense features per row (the stride of Batch.dense) */
  readonly nDense: number
  private readonly trim: boolean
  private readonly nulls: Set<string>

  constructor(
    readonly prep: Preprocessing,
    features: readonly RawFeature[],
  ) {
    this.spec = inputSpecOf(prep)
    this.trim = prep.schema.csv.trim
    this.nulls = new Set(prep.schema.csv.nullValues.filter((s) => s !== ''))
    this.nDense = prep.dense.length
    this.columns = features.map((feature, index) => ({ index, feature, targets: [] }))
    this.byName = new Map(this.columns.map((c) => [c.feature.name, c]))
    const plan = (column: string) => this.byName.get(column)!
    const vocabMap = (vocab: string[]) => new Map(vocab.map((v, i) => [v, i + 1]))
    // targets in the order encodeRows fills them; the order does not change the result
    const slot = new Map(this.spec.sparse.map((f, i) => [f.name, i]))
    // a sparse feature and a bucketed one both write an id column: the feature's InputSpec.sparse position
    const idColumn = (f: { name: string }) => ({ name: f.name, slot: slot.get(f.name)! })
    for (const f of prep.sparse)
      plan(f.column).targets.push({
        kind: 'sparse',
        ...idColumn(f),
        valueType: f.valueType,
        vocab: vocabMap(f.vocab),
        memoS: new Map(),
        memoN: new Map(),
      })
    for (const f of prep.buckets)
      plan(f.column).targets.push({ kind: 'bucket', ...idColumn(f), edges: f.edges, fill: f.fill })
    for (const f of prep.multi)
      plan(f.column).targets.push({ kind: 'multi', name: f.name, separator: f.separator, vocab: vocabMap(f.vocab) })
    prep.dense.forEach((f, index) => plan(f.column).targets.push({ kind: 'dense', index, f }))
  }

  /** A fresh batch of `rows` rows to write into. */
  writer(rows: number): BatchWriter {
    return new BatchWriter(this, rows)
  }

  /** A missing value as the data layer sees it: null, empty, or one of the schema's null strings. */
  isMissing(v: unknown): boolean {
    return (
      v === null || v === undefined || v === '' || (typeof v === 'string' && this.nulls.has(this.trim ? v.trim() : v))
    )
  }

  /**
   * The id of a categorical value: unknown → 0, and a missing one (null, empty, a null string) → 0. Memoised
   * per column by the raw value, so a repeated value costs one map lookup. `at` names it if it cannot be an id.
   */
  sparseId(t: SparseTarget, v: string | number | null, at: () => string): number {
    if (typeof v === 'string') {
      let id = t.memoS.get(v)
      if (id === undefined) {
        const missing = this.isMissing(v)
        id = missing ? 0 : (t.vocab.get(this.canonical(v, t.valueType, at)) ?? 0)
        if ((id > 0 || missing) && t.memoS.size < MEMO_LIMIT) t.memoS.set(v, id)
      }
      return id
    }
    if (typeof v === 'number') {
      let id = t.memoN.get(v)
      if (id === undefined) {
        id = t.vocab.get(this.canonical(v, t.valueType, at)) ?? 0
        if (id > 0 && t.memoN.size < MEMO_LIMIT) t.memoN.set(v, id)
      }
      return id
    }
    return 0 // null: missing
  }

  /** The vocabulary text of a value, as the training encoder reads it (data/encode-rows.ts `canonical`). */
  private canonical(v: string | number, valueType: 'int' | 'string', at: () => string): string {
    return canonical(v, valueType, this.trim, at)
  }
}

/**
 * The arrays of one batch being built. Rows are written column by column in any order; `finish(size)`
 * returns the first `size` rows as a Batch (views, no copy of the single-valued columns).
 */
export class BatchWriter {
  readonly sparse: Record<string, Int32Array> = {}
  /** the same arrays as `sparse`, by InputSpec.sparse position (a target's slot) */
  readonly ids: Int32Array[] = []
  readonly dense: Float32Array
  /** per multi-valued feature, each row's ids (null: not written, read as empty) */
  readonly lists: Record<string, (Int32Array | null)[]> = {}

  constructor(
    readonly codec: CompiledCodec,
    readonly rows: number,
  ) {
    for (const f of codec.spec.sparse) this.ids.push((this.sparse[f.name] = new Int32Array(rows)))
    for (const f of codec.spec.multi) this.lists[f.name] = new Array<Int32Array | null>(rows).fill(null)
    this.dense = new Float32Array(rows * codec.nDense)
  }

  /**
   * Writes one checked value of column `c` at `row`. Throws a DataError naming `at()` when the value breaks a
   * rule only the preprocessing knows (a number missing where there is no fill value, an inexact id).
   */
  put(c: ColumnPlan, row: number, v: unknown, at: () => string): void {
    const codec = this.codec
    const targets = c.targets
    for (let k = 0; k < targets.length; k++) {
      const t = targets[k]
      switch (t.kind) {
        case 'sparse':
          this.ids[t.slot][row] = codec.sparseId(t, v as string | number | null, at)
          break
        case 'bucket': {
          const missing = typeof v !== 'number' && codec.isMissing(v)
          this.ids[t.slot][row] =
            missing && t.fill === undefined ? 0 : bucketOf(t.edges, number(v, missing, t.fill, at))
          break
        }
        case 'dense':
          this.dense[row * codec.nDense + t.index] = transformDense(
            t.f,
            typeof v === 'number' && Number.isFinite(v) ? v : number(v, codec.isMissing(v), t.f.fill, at),
          )
          break
        case 'multi':
          this.lists[t.name][row] = codec.isMissing(v)
            ? null
            : listIds(t, v as string | number | readonly (string | number)[], codec, at)
          break
      }
    }
  }

  /** Copies column `c` of row `row` to every row below `rows` (a context value written once at row 0). */
  fill(c: ColumnPlan, row: number, rows: number): void {
    const nD = this.codec.nDense
    for (const t of c.targets) {
      if (t.kind === 'sparse' || t.kind === 'bucket') {
        const col = this.sparse[t.name]
        col.fill(col[row], 0, rows)
      } else if (t.kind === 'dense') {
        const x = this.dense[row * nD + t.index]
        for (let r = 0; r < rows; r++) this.dense[r * nD + t.index] = x
      } else {
        const col = this.lists[t.name]
        col.fill(col[row]!, 0, rows)
      }
    }
  }

  /** Copies column `c` of row `from` of another writer (the item store's table) to row `to` here. */
  copy(c: ColumnPlan, src: BatchWriter, from: number, to: number): void {
    const nD = this.codec.nDense
    for (const t of c.targets) {
      if (t.kind === 'sparse' || t.kind === 'bucket') this.ids[t.slot][to] = src.ids[t.slot][from]
      else if (t.kind === 'dense') this.dense[to * nD + t.index] = src.dense[from * nD + t.index]
      else this.lists[t.name][to] = src.lists[t.name][from]!
    }
  }

  /**
   * Copies column `c` from the rows `from[k]` of another writer (the item store's table) to rows `to[k]` here,
   * for every k with `to[k] >= 0`: a whole request's join for one column, the arrays looked up once.
   */
  copyColumn(c: ColumnPlan, src: BatchWriter, from: Int32Array, to: Int32Array): void {
    const nD = this.codec.nDense
    const n = from.length
    for (const t of c.targets) {
      if (t.kind === 'sparse' || t.kind === 'bucket') {
        const a = src.ids[t.slot]
        const b = this.ids[t.slot]
        for (let k = 0; k < n; k++) if (to[k] >= 0) b[to[k]] = a[from[k]]
      } else if (t.kind === 'dense') {
        const a = src.dense
        const b = this.dense
        for (let k = 0; k < n; k++) if (to[k] >= 0) b[to[k] * nD + t.index] = a[from[k] * nD + t.index]
      } else {
        const a = src.lists[t.name]
        const b = this.lists[t.name]
        for (let k = 0; k < n; k++) if (to[k] >= 0) b[to[k]] = a[from[k]]!
      }
    }
  }

  /** The first `size` rows as a Batch (labels empty: serving has none). */
  finish(size = this.rows): Batch {
    const sparse: Record<string, Int32Array> = {}
    for (const [name, col] of Object.entries(this.sparse))
      sparse[name] = size === this.rows ? col : col.subarray(0, size)
    const multi: Batch['multi'] = {}
    for (const [name, rows] of Object.entries(this.lists)) {
      const offsets = new Int32Array(size + 1)
      for (let i = 0; i < size; i++) offsets[i + 1] = offsets[i] + (rows[i]?.length ?? 0)
      const ids = new Int32Array(offsets[size])
      for (let i = 0; i < size; i++) if (rows[i]) ids.set(rows[i]!, offsets[i])
      multi[name] = { offsets, ids }
    }
    const dense = size === this.rows ? this.dense : this.dense.subarray(0, size * this.codec.nDense)
    return { size, sparse, multi, dense, labels: {} }
  }
}

function number(v: unknown, missing: boolean, fill: number | undefined, at: () => string): number {
  if (missing) {
    if (fill !== undefined) return fill
    throw new DataError(`${at()}: expected a number, got ${v === undefined ? 'nothing' : JSON.stringify(v)}`, {
      field: at(),
    })
  }
  const x = typeof v === 'number' ? v : Number(String(v).trim())
  if (!Number.isFinite(x)) throw new DataError(`${at()}: expected a number, got ${JSON.stringify(v)}`, { field: at() })
  return x
}

function listIds(
  t: MultiTarget,
  v: string | number | readonly (string | number)[],
  codec: CompiledCodec,
  at: () => string,
): Int32Array | null {
  if (typeof v === 'number' && Number.isInteger(v) && !Number.isSafeInteger(v)) {
    throw new DataError(
      `${at()}: ${v} is not an exact integer id (beyond 2^53 - 1 a number loses digits); send the id as a string`,
      { field: at() },
    )
  }
  // a JSON list is read in its joined form, as the data files hold it (the codec's rule: a separator inside an element splits it)
  const text = Array.isArray(v) ? v.join(t.separator) : String(v)
  if (codec.isMissing(text)) return null
  const out: number[] = []
  for (const x of text.split(t.separator)) if (x !== '') out.push(t.vocab.get(x) ?? 0)
  return Int32Array.from(out)
}
