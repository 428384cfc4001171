/**
 * The census-width serving fixture, shared by the serving benches (serve.ts over HTTP, serve-phases.ts in
 * process): a generated data set as wide as UCI census income (33 categorical, 7 numeric columns; no
 * ../shared needed), an item file, and the request bodies of 1000 candidates in the three forms.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Preprocessing } from '../src/data/preprocessing.js'
import { type DatasetSchema, parseDatasetSchema } from '../src/data/schema.js'
import { Rng } from '../src/engine/rng.js'
import { writeSeededRun } from './seeded-run.js'

/**
 * Census width: 33 categorical and 7 numeric columns, as the census data set has. Item side: item_id, 11
 * categorical and 3 numeric columns, fixed per item (ITEMS items); user/context side: 21 categorical and 4
 * numeric. Writes the training CSV and the item file, and returns the run's preprocessing.
 */
export const ITEMS = 2000
/** candidates (and items in the store) of the twin-tower pre-rank case */
export const PRERANK_ITEMS = 10_000
export const CENSUS = {
  itemCats: Array.from({ length: 11 }, (_, k) => ({ name: `ic${k}`, vocab: 3 + ((k * 7) % 50) })),
  itemNums: ['in0', 'in1', 'in2'],
  userCats: Array.from({ length: 21 }, (_, k) => ({ name: `uc${k}`, vocab: 2 + ((k * 11) % 45) })),
  userNums: ['un0', 'un1', 'un2', 'un3'],
}
export function itemCells(id: number): (string | number)[] {
  const rng = new Rng(1000 + id)
  return [
    id,
    ...CENSUS.itemCats.map((c) => `v${rng.int(c.vocab)}`),
    ...CENSUS.itemNums.map(() => Math.round(rng.next() * 10000) / 100),
  ]
}
export async function censusRun(
  dir: string,
  model = 'resflow',
): Promise<{ prep: Preprocessing; items: string; schema: DatasetSchema; train: string; header: string[] }> {
  const rng = new Rng(7)
  const header = [
    'item_id',
    ...CENSUS.itemCats.map((c) => c.name),
    ...CENSUS.itemNums,
    ...CENSUS.userCats.map((c) => c.name),
    ...CENSUS.userNums,
    'click',
    'purchase',
  ]
  const lines = [header.join(',')]
  for (let r = 0; r < 6000; r++) {
    const click = rng.next() < 0.1 ? 1 : 0
    const user = [
      ...CENSUS.userCats.map((c) => `u${rng.int(c.vocab)}`),
      ...CENSUS.userNums.map(() => Math.round(rng.next() * 5000) / 100),
    ]
    lines.push([...itemCells(rng.int(ITEMS)), ...user, click, click && rng.next() < 0.2 ? 1 : 0].join(','))
  }
  const train = join(dir, 'census-width.csv')
  writeFileSync(train, lines.join('\n') + '\n')
  const items = join(dir, 'items.csv')
  writeFileSync(
    items,
    [header.slice(0, 15).join(','), ...Array.from({ length: ITEMS }, (_, i) => itemCells(i).join(','))].join('\n') +
      '\n',
  )
  const schema = parseDatasetSchema({
    sparse: [
      { name: 'item_id', side: 'item' },
      ...CENSUS.itemCats.map((c) => ({ name: c.name, side: 'item' as const })),
      ...CENSUS.userCats.map((c) => ({ name: c.name, side: 'user' as const })),
    ],
    dense: [
      ...CENSUS.itemNums.map((name) => ({ name, side: 'item' as const })),
      ...CENSUS.userNums.map((name) => ({ name, side: 'user' as const })),
    ],
    tasks: [{ name: 'click' }, { name: 'purchase' }],
  })
  return { prep: await writeSeededRun(join(dir, 'census-run'), schema, [train], model), items, schema, train, header }
}

/**
 * Census-width bodies for `candidates` candidates: every feature in each candidate, one user's repeated (rows,
 * columns) or a different user per candidate (mixed), or one user's context + item ids.
 */
export function censusBodies(
  prep: Preprocessing,
  candidates: number,
): { rows: string; mixed: string; columns: string; ids: string } {
  const rng = new Rng(candidates)
  const itemCols = ['item_id', ...CENSUS.itemCats.map((c) => c.name), ...CENSUS.itemNums]
  const userCols = [...CENSUS.userCats.map((c) => c.name), ...CENSUS.userNums]
  const userVals = [
    ...CENSUS.userCats.map((c) => `u${rng.int(c.vocab)}`),
    ...CENSUS.userNums.map(() => Math.round(rng.next() * 5000) / 100),
  ]
  const ids = Array.from({ length: candidates }, () => rng.int(ITEMS))
  const rows = ids.map((id) => {
    const row: Record<string, string | number> = {}
    itemCells(id).forEach((v, k) => (row[itemCols[k]] = v))
    userCols.forEach((c, k) => (row[c] = userVals[k]))
    return row
  })
  const columns = Object.fromEntries([...itemCols, ...userCols].map((c) => [c, rows.map((r) => r[c])]))
  // every candidate its own user: nothing repeats, so the full model runs (no row split)
  const mixed = rows.map((r) => {
    const row = { ...r }
    for (const c of CENSUS.userCats) row[c.name] = `u${rng.int(c.vocab)}`
    for (const c of CENSUS.userNums) row[c] = Math.round(rng.next() * 5000) / 100
    return row
  })
  void prep
  return {
    rows: JSON.stringify({ candidates: rows }),
    mixed: JSON.stringify({ candidates: mixed }),
    columns: JSON.stringify({ candidates: columns }),
    ids: JSON.stringify({ context: Object.fromEntries(userCols.map((c, k) => [c, userVals[k]])), item_ids: ids }),
  }
}
