/**
 * A generated table of user × item rows with a tags list, two numbers and a click → buy funnel, for the data
 * layer's encoding, caching and streaming tests. Each test picks its own user and item columns (ids or
 * strings, vocabulary sizes) and row count; the rest is the same.
 */
import type { DatasetSchemaInput } from '../../src/data/schema.js'

/** The table's dataset schema fields (give them to parseDatasetSchema, with a format or extras as needed). */
export const CLICK_BUY_FIELDS = {
  sparse: [{ name: 'user' }, { name: 'item' }],
  multi: [{ name: 'tags', separator: '|' }],
  dense: [
    { name: 'price', transform: 'log1p' },
    { name: 'age', transform: 'standardize' },
  ],
  tasks: [{ name: 'click' }, { name: 'buy' }],
  group: 'user',
} satisfies DatasetSchemaInput

/**
 * SQL select items for the columns after user and item, from the row number `i`: deterministic, a third of
 * the rows without tags, and funnel-consistent labels (buy only after click).
 */
export const CLICK_BUY_COLUMNS_SQL = `CASE WHEN i % 3 = 0 THEN '' ELSE 't' || (i % 11) || '|t' || (i % 5) END AS tags,
    (hash(i * 3) % 10000) / 100.0 AS price, 18 + i % 60 AS age,
    (hash(i * 5) % 10 = 0)::INTEGER AS click, (hash(i * 5) % 100 = 0)::INTEGER AS buy`
