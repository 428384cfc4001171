/**
 * Ali-CCP in its original release (Ma et al., ESMM, SIGIR 2018): `sample_skeleton_{train,test}.csv` holds one
 * impression per line (sample_id, click, conversion, common_feature_index, feature_num, feature_list) and
 * `common_features_{train,test}.csv` the user-side features shared by many impressions (common_feature_index,
 * feature_num, feature_list). A feature list is items separated by byte 0x01, each `field_id 0x02 feature_id
 * 0x03 value`. The skeleton joins the common features on common_feature_index.
 *
 * DuckDB does all the parsing and the join (string_split, list_filter, list_transform; no per-row JS) and
 * writes one Parquet file per split into the cache folder, keyed by the raw files' path, size and mtime.
 * Each field becomes a column: a sparse feature (one id) when no training row has two ids for it, otherwise
 * a multi-valued feature (ids joined by ';', mean pooled). The 0x03 values (1.0 for ids, counts in the
 * behaviour lists such as 109_14) are not used: pooling is unweighted.
 * Tasks: click → purchase (the `conversion` column), funnel rule drop (click=0, conversion=1 rows are counted).
 */
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync, readFileSync } from 'node:fs'
import { basename, join } from 'node:path'
import type { DuckDBConnection } from '@duckdb/node-api'
import { DataError } from '../errors.js'
import { connectOrdered, queryObjects, sqlIdent, sqlString } from './duck.js'
import { defaultCacheDir, hashKey, stampOf } from './file-key.js'
import { parseDatasetSchema, type DatasetSchema } from './schema.js'
import { firstLine } from './source.js'

/** Bump when the converted layout changes, so old conversions are not reused. */
const CONVERT_VERSION = 1
const SKELETON = ['sample_id', 'click', 'conversion', 'common_feature_index', 'feature_num', 'feature_list']
const COMMON = ['common_feature_index', 'feature_num', 'feature_list']

export interface RawSplit {
  skeleton: string
  common: string
}
export interface AliccpRawField {
  field: string
  side: 'user' | 'item'
  multi: boolean
}

/** The raw files of a folder (or of the folder holding one skeleton file). */
export function findRawSplits(path: string): { train: RawSplit; test?: RawSplit } {
  if (!existsSync(path)) throw new DataError(`${path}: no such file or folder`, { file: path })
  const dir = statSync(path).isDirectory() ? path : join(path, '..')
  const names = readdirSync(dir)
  const find = (kind: string, split: string) =>
    names.find((n) => new RegExp(`^${kind}_${split}\\.csv(\\.gz)?$`).test(n))
  const split = (s: string): RawSplit | undefined => {
    const skeleton = find('sample_skeleton', s)
    const common = find('common_features', s)
    if (!skeleton && !common) return undefined
    if (!skeleton || !common) {
      throw new DataError(
        `${dir}: found ${skeleton ?? common} but not its partner ${skeleton ? `common_features_${s}.csv` : `sample_skeleton_${s}.csv`}; the two are joined on common_feature_index`,
        { file: dir },
      )
    }
    return { skeleton: join(dir, skeleton), common: join(dir, common) }
  }
  const train = split('train')
  if (!train)
    throw new DataError(
      `${dir}: no sample_skeleton_train.csv + common_features_train.csv (found: ${names.join(', ') || 'nothing'})`,
      { file: dir },
    )
  return { train, test: split('test') }
}

function readRaw(file: string, columns: string[]): string {
  const cols = columns.map((c) => `${sqlString(c)}: 'VARCHAR'`).join(', ')
  return `read_csv(${sqlString(file)}, header=false, delim=',', quote='', escape='', auto_detect=false, columns={${cols}})`
}

/** Rows of a raw file with their line number and the list split into items (single-threaded: file order). */
function withItems(file: string, columns: string[]): string {
  const items = `CASE WHEN coalesce(feature_list, '') = '' THEN []::VARCHAR[] ELSE string_split(feature_list, chr(1)) END`
  return `(SELECT row_number() OVER () AS ln, *, ${items} AS items FROM ${readRaw(file, columns)})`
}

const fieldOf = (x: string) => `split_part(${x}, chr(2), 1)`
const idOf = (x: string) => `split_part(split_part(${x}, chr(2), 2), chr(3), 1)`

async function firstBad(conn: DuckDBConnection, file: string, sql: string): Promise<void> {
  let rows: Record<string, unknown>[]
  try {
    rows = await queryObjects(conn, sql)
  } catch (cause) {
    throw new DataError(`${file}: ${firstLine((cause as Error).message)}`, { file, cause })
  }
  if (rows.length === 0) return
  const line = Number(rows[0].ln)
  throw new DataError(`${file}:${line}: ${String(rows[0].msg)}`, { file, line, field: String(rows[0].field) })
}

/** Checks one split: labels 0/1, feature_num = number of items, well-formed items, every index joined. */
async function validateSplit(conn: DuckDBConnection, split: RawSplit): Promise<void> {
  const itemChecks = `
    WHEN TRY_CAST(feature_num AS INTEGER) IS NULL THEN 'feature_num: expected an integer, got ' || coalesce('"' || feature_num || '"', 'nothing')
    WHEN TRY_CAST(feature_num AS INTEGER) <> len(items) THEN 'feature_num is ' || feature_num || ' but feature_list has ' || len(items) || ' items (separated by byte 0x01)'
    WHEN len(list_filter(items, x -> strpos(x, chr(2)) = 0 OR strpos(x, chr(3)) = 0)) > 0
      THEN 'feature_list: malformed item "' || replace(replace(list_filter(items, x -> strpos(x, chr(2)) = 0 OR strpos(x, chr(3)) = 0)[1], chr(2), '\\x02'), chr(3), '\\x03') || '" (expected field_id 0x02 feature_id 0x03 value)'`
  const common = withItems(split.common, COMMON)
  await firstBad(
    conn,
    split.common,
    `SELECT ln, 'feature_list' AS field, msg FROM (SELECT ln, CASE
    WHEN coalesce(common_feature_index, '') = '' THEN 'common_feature_index is empty' ${itemChecks} END AS msg FROM ${common}) WHERE msg IS NOT NULL ORDER BY ln LIMIT 1`,
  )
  await firstBad(
    conn,
    split.common,
    `SELECT max(ln) AS ln, 'common_feature_index' AS field, 'common_feature_index "' || common_feature_index || '" appears twice (lines ' || min(ln) || ' and ' || max(ln) || ')' AS msg
    FROM ${common} GROUP BY common_feature_index HAVING count(*) > 1 ORDER BY ln LIMIT 1`,
  )
  const label = (c: string) =>
    `WHEN ${c} IS NULL OR ${c} NOT IN ('0', '1') THEN 'column "${c}": label must be 0 or 1, got ' || coalesce('"' || ${c} || '"', 'nothing')`
  await firstBad(
    conn,
    split.skeleton,
    `SELECT ln, field, msg FROM (SELECT s.ln, CASE
    ${label('click')} ${label('conversion')} WHEN c.common_feature_index IS NULL THEN 'common_feature_index' ELSE 'feature_list' END AS field, CASE
    ${label('click')} ${label('conversion')} ${itemChecks}
    WHEN c.common_feature_index IS NULL THEN 'common_feature_index "' || coalesce(s.common_feature_index, '') || '" not found in ${basename(split.common)}'
    END AS msg
    FROM ${withItems(split.skeleton, SKELETON)} s LEFT JOIN (SELECT common_feature_index FROM ${readRaw(split.common, COMMON)}) c USING (common_feature_index))
    WHERE msg IS NOT NULL ORDER BY ln LIMIT 1`,
  )
}

/** Fields present in the training files, with the most ids any one row has for them. */
async function discoverFields(conn: DuckDBConnection, train: RawSplit): Promise<AliccpRawField[]> {
  const stats = async (file: string, columns: string[]) => {
    const rows = await queryObjects(
      conn,
      `SELECT e.key AS field, max(e.value)::DOUBLE AS n FROM (
      SELECT unnest(map_entries(list_aggregate(list_transform(items, x -> ${fieldOf('x')}), 'histogram'))) AS e FROM ${withItems(file, columns)}) GROUP BY 1 ORDER BY 1`,
    )
    return rows.map((r) => ({ field: String(r.field), n: Number(r.n) }))
  }
  const item = await stats(train.skeleton, SKELETON)
  const user = await stats(train.common, COMMON)
  const itemFields = new Set(item.map((f) => f.field))
  return [
    ...user
      .filter((f) => !itemFields.has(f.field))
      .map((f) => ({ field: f.field, side: 'user' as const, multi: f.n > 1 })),
    ...item.map((f) => ({ field: f.field, side: 'item' as const, multi: f.n > 1 })),
  ]
}

export const featureName = (field: string) => `f${field}`

/** Writes the joined split as Parquet: labels, then one column per field (VARCHAR id, or ids joined by ';'). */
async function convertSplit(
  conn: DuckDBConnection,
  split: RawSplit,
  fields: AliccpRawField[],
  out: string,
): Promise<void> {
  const cols = fields.map((f) => {
    const list = `list_transform(list_filter(${f.side === 'user' ? 'c' : 's'}.items, x -> ${fieldOf('x')} = ${sqlString(f.field)}), x -> ${idOf('x')})`
    return `${f.multi ? `array_to_string(${list}, ';')` : `${list}[1]`} AS ${sqlIdent(featureName(f.field))}`
  })
  const sql = `COPY (SELECT s.click::INTEGER AS click, s.conversion::INTEGER AS conversion, ${cols.join(', ')}
    FROM ${withItems(split.skeleton, SKELETON)} s JOIN (SELECT common_feature_index, items FROM ${withItems(split.common, COMMON)}) c USING (common_feature_index)
    ORDER BY s.ln) TO ${sqlString(out)} (FORMAT PARQUET)`
  try {
    await conn.run(sql)
  } catch (cause) {
    throw new DataError(`${split.skeleton}: cannot convert: ${firstLine((cause as Error).message)}`, {
      file: split.skeleton,
      cause,
    })
  }
}

export function aliccpRawSchema(fields: AliccpRawField[]): DatasetSchema {
  return parseDatasetSchema(
    {
      format: 'parquet',
      sparse: fields.filter((f) => !f.multi).map((f) => ({ name: featureName(f.field), side: f.side })),
      multi: fields
        .filter((f) => f.multi)
        .map((f) => ({ name: featureName(f.field), separator: ';', pooling: 'mean' as const, side: f.side })),
      tasks: [{ name: 'click' }, { name: 'purchase', column: 'conversion' }],
      funnel: 'drop',
    },
    'aliccp-raw',
  )
}

/**
 * Validates and converts the raw files once (cached under cacheDir/aliccp-raw-KEY/), returning the schema and
 * the Parquet splits. A bad row stops the conversion with its file and line.
 */
export async function prepareAliccpRaw(
  path: string,
  cacheDir = defaultCacheDir(),
): Promise<{ schema: DatasetSchema; splits: { train: string[]; val: string[]; test: string[] } }> {
  const raw = findRawSplits(path)
  const splits = [['train', raw.train], ...(raw.test ? [['test', raw.test]] : [])] as [string, RawSplit][]
  const key = hashKey(
    CONVERT_VERSION,
    splits.map(([name, s]) => [name, stampOf(s.skeleton), stampOf(s.common)]),
  )
  const dir = join(cacheDir, `aliccp-raw-${key}`)
  const fieldsFile = join(dir, 'fields.json')
  const files = Object.fromEntries(splits.map(([name]) => [name, join(dir, `${name}.parquet`)]))
  if (!existsSync(fieldsFile)) {
    const tmp = `${dir}.tmp-${process.pid}`
    rmSync(tmp, { recursive: true, force: true })
    mkdirSync(tmp, { recursive: true })
    const { conn, close } = await connectOrdered()
    try {
      for (const [, s] of splits) await validateSplit(conn, s)
      const fields = await discoverFields(conn, raw.train)
      for (const [name, s] of splits) await convertSplit(conn, s, fields, join(tmp, `${name}.parquet`))
      writeFileSync(join(tmp, 'fields.json'), JSON.stringify(fields) + '\n')
    } catch (err) {
      rmSync(tmp, { recursive: true, force: true })
      throw err
    } finally {
      close()
    }
    rmSync(dir, { recursive: true, force: true })
    renameSync(tmp, dir)
  }
  const fields = JSON.parse(readFileSync(fieldsFile, 'utf8')) as AliccpRawField[]
  const test = files.test ? [files.test] : []
  // the release has no validation split: none is made up from the test file here (train/prepare.ts decides)
  return { schema: aliccpRawSchema(fields), splits: { train: [files.train], val: [], test } }
}
