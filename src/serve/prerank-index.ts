/** The item-key index of a pre-ranker's item store: id → row of its vectors. */
import { DataError } from '../errors.js'
import type { RawRow, RawValue } from '../export/codec.js'

/** An item key as it appears in the item rows and in requests; 7 and "7" name the same item. */
export type ItemId = string | number

function keyOf(value: RawValue | undefined): string | null {
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : null
  if (typeof value === 'string' && value !== '') return value
  return null
}

/** Item key → row of the store. */
export interface ItemIndex {
  /** the row of an id, or -1 */
  lookup(id: ItemId): number
}

/**
 * The key index of the item rows. Keys are compared as text (7 and "7" are one item); numeric keys also
 * go into a number map, so numeric ids in a request are found without making strings, and when every key
 * is a small non-negative integer into a plain array indexed by the id.
 */
export function buildIndex(items: readonly RawRow[], itemKey: string): ItemIndex {
  const byText = new Map<string, number>()
  const byNumber = new Map<number, number>()
  let dense = true
  let max = 0
  items.forEach((row, i) => {
    const key = keyOf(row[itemKey])
    if (key === null)
      throw new DataError(
        `items[${i}].${itemKey}: expected an item key (a string or a number), got ${JSON.stringify(row[itemKey] ?? null)}`,
        { field: `items[${i}].${itemKey}` },
      )
    const seen = byText.get(key)
    if (seen !== undefined)
      throw new DataError(`items[${i}].${itemKey}: duplicate item key ${JSON.stringify(key)} (also items[${seen}])`, {
        field: `items[${i}].${itemKey}`,
      })
    byText.set(key, i)
    const x = Number(key)
    if (String(x) === key) byNumber.set(x, i)
    if (Number.isInteger(x) && x >= 0 && String(x) === key) max = Math.max(max, x)
    else dense = false
  })
  if (dense && max < 8 * items.length + 1024) {
    const at = new Int32Array(max + 1).fill(-1)
    for (const [x, i] of byNumber) at[x] = i
    return {
      lookup: (id) => {
        if (typeof id === 'number') return Number.isInteger(id) && id >= 0 && id <= max ? at[id] : -1
        return typeof id === 'string' ? (byText.get(id) ?? -1) : -1
      },
    }
  }
  return {
    lookup: (id) =>
      typeof id === 'number' ? (byNumber.get(id) ?? -1) : typeof id === 'string' ? (byText.get(id) ?? -1) : -1,
  }
}
