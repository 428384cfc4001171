/**
 * An item store cut from rows of the synthetic funnel, for the serving tests of candidates by id: each item's
 * features are those of its first row, and the rows get the store's item features joined back, so that a
 * row scored in full and the same row scored by id must agree.
 */
import { writeFileSync } from 'node:fs'
import { connect, queryObjects } from '../../src/data/duck.js'

/** The synthetic funnel's item-side features (the item file's columns after item_id) */
export const ITEM_FEATURES = ['item_category', 'item_price', 'item_ctr_hist']
/** and the features of the request context */
export const CONTEXT_FEATURES = ['user_id', 'user_segment', 'hour', 'device', 'user_activity', 'context_score']

export type Row = Record<string, string | number | null>

export const pick = (r: Row, cols: string[]) => Object.fromEntries(cols.map((c) => [c, r[c]!]))

/** The first `limit` rows of a funnel file, the store (item_id → item features) they make, and the joined rows. */
export async function itemStoreOf(file: string, limit: number): Promise<{ store: Map<number, Row>; rows: Row[] }> {
  const raw = (await queryObjects(
    await connect(),
    `SELECT item_id, ${[...ITEM_FEATURES, ...CONTEXT_FEATURES].join(', ')} FROM '${file}' LIMIT ${limit}`,
  )) as Row[]
  const store = new Map<number, Row>()
  for (const r of raw) if (!store.has(Number(r.item_id))) store.set(Number(r.item_id), pick(r, ITEM_FEATURES))
  return { store, rows: raw.map((r) => ({ ...r, ...store.get(Number(r.item_id))! })) }
}

/** Writes an item file: a header, then item_id and the item features of each store entry. */
export function writeItemFile(file: string, store: Map<number, Row>): void {
  writeFileSync(
    file,
    [
      'item_id,' + ITEM_FEATURES.join(','),
      ...[...store].map(([id, r]) => [id, ...ITEM_FEATURES.map((c) => r[c])].join(',')),
    ].join('\n') + '\n',
  )
}
