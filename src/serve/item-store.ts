/**
 * The item store: item-side features read once from a CSV or Parquet file, checked against the served
 * model's preprocessing and encoded once, so that a request names candidates by id and the server joins their
 * features from memory (rank-encode.ts). Loaded with the model and reloaded with it (one `Served` bundle in the
 * ModelSlot), so a reload swaps model and items together.
 *
 * The file: one row per item (a CSV file starts with a header row), a key column (e.g. item_id) and any of the model's raw columns (the data's
 * column names, as in requests). The key may itself be a model feature (then it is encoded too). A column
 * that is neither the key nor a model feature is refused, naming it; a duplicate key is refused, naming both
 * rows. Cells are read as text, as the training encoder reads CSV cells (the training schema's CSV dialect
 * and null values), and every cell is encoded now, so a bad one is reported at load time with its file, row
 * (and CSV line) and column, never at request time.
 *
 * Keys are compared as text; integer keys in canonical form ("007", "7.0" and 7 are the same item).
 *
 * For other scorers (a twin-tower pre-ranker, say), `ItemTable` is the part to build on: the encoded item
 * rows as a Batch (`batch()`), their keys in row order (`ids`), and `row(id)`.
 */
import { INTEGER_TEXT } from '../data/encode-rows.js'
import { DataError } from '../errors.js'
import type { Batch } from '../data/types.js'
import { connect, queryObjects, sqlIdent } from '../data/duck.js'
import { fromClause } from '../data/source.js'
import type { BatchWriter, ColumnPlan, CompiledCodec } from './columnar.js'

/** What a request naming an id the store lacks gets: a 422 naming it, its candidate dropped from the answer, or a default item. */
export type UnknownItems = 'error' | 'skip' | 'default'
export const UNKNOWN_ITEMS: readonly UnknownItems[] = ['error', 'skip', 'default']

export interface ItemStoreOptions {
  /** the key column, e.g. "item_id" */
  key: string
  /** default 'error' */
  unknown?: UnknownItems
}

/** The encoded items, for any scorer: read-only. */
export interface ItemTable {
  /** the file the items were read from */
  readonly file: string
  /** the key column */
  readonly key: string
  /** number of items */
  readonly size: number
  /** canonical keys in row order */
  readonly ids: readonly string[]
  /** the raw columns held (model features), in the codec's column order */
  readonly columns: readonly ColumnPlan[]
  /** the row of an id (a string or an exact integer), or -1 */
  row(id: unknown): number
  /** rows 0..size-1 as a Batch: the held columns encoded, the others zero (views, valid while the store lives) */
  batch(): Batch
}

/** The text an id is compared as, or null when it cannot be an id (not a string or an exact number). */
export function canonicalKey(v: unknown): string | null {
  if (typeof v === 'number')
    return Number.isSafeInteger(v) ? String(v) : Number.isFinite(v) && !Number.isInteger(v) ? String(v) : null
  if (typeof v !== 'string') return null
  const digits = INTEGER_TEXT.exec(v)
  return digits ? BigInt(digits[1]).toString() : v.trim()
}

export class ItemStore implements ItemTable {
  /** the default item (--unknown-items default): row `size` of the table */
  readonly defaultRow: number
  private readonly lookup: Map<string, number>
  private readonly held: Uint8Array

  constructor(
    readonly file: string,
    readonly key: string,
    readonly unknown: UnknownItems,
    readonly ids: readonly string[],
    readonly columns: readonly ColumnPlan[],
    /** rows 0..size-1: the items; row size: the default item */
    readonly table: BatchWriter,
  ) {
    this.defaultRow = ids.length
    this.lookup = new Map(ids.map((id, r) => [id, r]))
    this.held = new Uint8Array(table.codec.columns.length)
    for (const c of columns) this.held[c.index] = 1
  }

  get size(): number {
    return this.ids.length
  }

  holds(c: ColumnPlan): boolean {
    return this.held[c.index] === 1
  }

  row(id: unknown): number {
    const k = canonicalKey(id)
    return k === null ? -1 : (this.lookup.get(k) ?? -1)
  }

  batch(): Batch {
    return this.table.finish(this.size)
  }
}

/**
 * Reads and encodes an item file for the model whose compiled codec is given. Throws a DataError naming the
 * file, row and column of the first bad cell, a column the model does not know, or a duplicate key.
 */
export async function loadItemStore(file: string, codec: CompiledCodec, opts: ItemStoreOptions): Promise<ItemStore> {
  const format = /\.parquet$/i.test(file) ? 'parquet' : 'csv'
  // the training data's dialect and null values, but always a header row (the columns are named by it) and no row filter
  const trained = codec.prep.schema
  const schema = {
    ...trained,
    csv: { ...trained.csv, header: true, names: undefined },
    filter: [],
    hivePartitioning: false,
    format,
  } as typeof trained
  const conn = await connect()
  const from = fromClause(schema, [file], { allVarchar: true })
  let names: string[]
  let cells: Record<string, unknown>[]
  try {
    names = (await queryObjects(conn, `DESCRIBE SELECT * FROM ${from}`)).map((r) => String(r.column_name))
    cells = await queryObjects(
      conn,
      `SELECT ${names.map((n) => `CAST(${sqlIdent(n)} AS VARCHAR) AS ${sqlIdent(n)}`).join(', ')} FROM ${from}`,
    )
  } catch (err) {
    throw new DataError(`${file}: cannot read the item file: ${(err as Error).message.split('\n')[0]}`, {
      file,
      cause: err,
    })
  }
  if (!names.includes(opts.key)) {
    throw new DataError(
      `${file}: no key column "${opts.key}" (columns: ${names.join(', ')}) (hint: --item-key names the column holding the item ids)`,
      { file, field: opts.key },
    )
  }
  const columns: ColumnPlan[] = []
  for (const name of names) {
    const c = codec.byName.get(name)
    if (c) columns.push(c)
    else if (name !== opts.key) {
      throw new DataError(
        `${file}: column "${name}" is not a feature of the model (features: ${codec.columns.map((p) => p.feature.name).join(', ')})`,
        { file, field: name },
      )
    }
  }
  columns.sort((a, b) => a.index - b.index)

  const n = cells.length
  const where = (r: number) => `${file}: row ${r + 1}${format === 'csv' && schema.csv.header ? ` (line ${r + 2})` : ''}`
  const table = codec.writer(n + 1)
  const ids: string[] = new Array(n)
  const seen = new Map<string, number>()
  for (let r = 0; r < n; r++) {
    const row = cells[r]
    const id = canonicalKey(row[opts.key] ?? null)
    if (id === null || id === '')
      throw new DataError(`${where(r)}, column ${opts.key}: missing item id`, { file, line: r + 1, field: opts.key })
    const dup = seen.get(id)
    if (dup !== undefined)
      throw new DataError(`${where(r)}, column ${opts.key}: item id ${id} already given at row ${dup + 1}`, {
        file,
        line: r + 1,
        field: opts.key,
      })
    seen.set(id, r)
    ids[r] = id
    for (const c of columns) {
      const v = (row[c.feature.name] ?? null) as string | null
      const at = () => `${where(r)}, column ${c.feature.name}`
      if (c.feature.kind === 'numeric' && v !== null && !codec.isMissing(v) && !Number.isFinite(Number(v.trim()))) {
        throw new DataError(`${at()}: expected a number, got ${JSON.stringify(v)}`, {
          file,
          line: r + 1,
          field: c.feature.name,
        })
      }
      try {
        table.put(c, r, v, at)
      } catch (err) {
        if (err instanceof DataError) throw new DataError(err.message, { file, line: r + 1, field: c.feature.name })
        throw err
      }
    }
  }
  writeDefaultItem(table, columns, n)
  return new ItemStore(file, opts.key, opts.unknown ?? 'error', ids, columns, table)
}

/**
 * The default item (row n): every held column as a missing value (categorical → id 0, numbers → their fill
 * value), and a number without a fill value → the mean of its encoded column over the items.
 */
function writeDefaultItem(table: BatchWriter, columns: readonly ColumnPlan[], n: number): void {
  const nD = table.codec.nDense
  for (const c of columns) {
    for (const t of c.targets) {
      if (t.kind === 'sparse') table.sparse[t.name][n] = 0
      else if (t.kind === 'bucket')
        table.put({ ...c, targets: [t] }, n, null, () => '') // its fill value's bucket, or 0
      else if (t.kind === 'multi') table.lists[t.name][n] = null
      else if (t.f.fill !== undefined) table.put({ ...c, targets: [t] }, n, null, () => '')
      else {
        let sum = 0
        for (let r = 0; r < n; r++) sum += table.dense[r * nD + t.index]
        table.dense[n * nD + t.index] = n > 0 ? sum / n : 0
      }
    }
  }
}
