/**
 * Dataset adapters by name: each turns a path in the dataset's own layout into a schema and the
 * train/val/test files (the public data sets in datasets/, one file each; the generic layouts here).
 * `resolveDataPath` turns a path to score into files; `openDataset` fits the preprocessing on train only
 * and encodes the three splits.
 */
import { existsSync, readdirSync, statSync } from 'node:fs'
import { basename, join } from 'node:path'
import { ConfigError, DataError } from '../errors.js'
import type { DuckDBConnection } from '@duckdb/node-api'
import { connect, queryObjects, sqlString } from './duck.js'
import type { EncodedDataset } from './dataset.js'
import { encodeDataset } from './encode.js'
import { fitPreprocessing, inputSpecOf, type Preprocessing } from './preprocessing.js'
import { loadDatasetSchema, type DatasetSchema } from './schema.js'
import { prepareAliccpRaw } from './aliccp-raw.js'
import { defaultCacheDir } from './file-key.js'
import { cachedPreprocessing } from './cache.js'
import { loadKuaiRandSchema } from './kuairand.js'
import type { InputSpec } from './types.js'
import { aliccp } from './datasets/aliccp.js'
import { aliexpress } from './datasets/aliexpress.js'
import { census } from './datasets/census.js'
import {
  CSV_FILES,
  type DatasetAdapter,
  type FolderFiles,
  PARQUET_FILES,
  PARQUET_OR_HIVE,
  type ResolveOptions,
  type Splits,
  SPLIT_NAMES,
  type SplitName,
  discoverSplits,
  findSplits,
} from './splits.js'

export { SPLIT_NAMES, type DatasetAdapter, type FolderFiles, type SplitName }
export { censusSchema } from './datasets/census.js'
export { aliexpressSchema } from './datasets/aliexpress.js'
export { aliccpSchema } from './datasets/aliccp.js'

function userSchema(kind: string, schemaFile?: string): DatasetSchema {
  if (!schemaFile)
    throw new ConfigError(`dataset "${kind}" needs a schema file (--schema FILE) describing features and tasks`, {
      field: 'schema',
    })
  return loadDatasetSchema(schemaFile)
}

export const DATASETS = {
  census,
  aliexpress,
  aliccp,
  'aliccp-raw': {
    summary:
      'Ali-CCP original release (sample_skeleton_{train,test}.csv + common_features_{train,test}.csv), joined and converted once to Parquet',
    resolve: async (path, _schemaFile, opts) => prepareAliccpRaw(path, opts?.cacheDir),
    files: async (path, opts) => {
      // the converted Parquet files (what the run's preprocessing reads); the original release has no val split
      const { splits } = await prepareAliccpRaw(path, opts?.cacheDir)
      return { train: splits.train, val: [], test: splits.test, files: [...splits.train, ...splits.test] }
    },
  },
  kuairand: {
    summary:
      'KuaiRand-style logs CSV with a header: click → watch_5s → ... → watch_80s (play_time_ms > t); --schema takes an options file (thresholdsSec, clickTask, wholeSeconds, filter, sparse, dense, funnel)',
    resolve: async (path, optionsFile) => ({
      schema: loadKuaiRandSchema(optionsFile),
      splits: findSplits(path, CSV_FILES),
    }),
    files: async (path) => discoverSplits(path, CSV_FILES),
  },
  synthetic: {
    summary: 'output folder of `resflow datagen` (train/val/test.parquet + schema.json)',
    resolve: async (path, schemaFile) => ({
      schema: loadDatasetSchema(schemaFile ?? join(path, 'schema.json')),
      splits: findSplits(path, PARQUET_FILES),
    }),
    files: async (path) => discoverSplits(path, PARQUET_FILES),
  },
  csv: {
    summary: 'any CSV files with a user-written schema',
    resolve: async (path, schemaFile) => ({
      schema: { ...userSchema('csv', schemaFile), format: 'csv' as const },
      splits: findSplits(path, CSV_FILES),
    }),
    files: async (path) => discoverSplits(path, CSV_FILES),
  },
  parquet: {
    summary: 'any Parquet files (or hive-partitioned folders) with a user-written schema',
    resolve: async (path, schemaFile) => ({
      schema: { ...userSchema('parquet', schemaFile), format: 'parquet' as const },
      splits: findSplits(path, PARQUET_OR_HIVE),
    }),
    files: async (path) => discoverSplits(path, PARQUET_OR_HIVE),
  },
} satisfies Record<string, DatasetAdapter>

export type DatasetName = keyof typeof DATASETS

export function getAdapter(name: string): DatasetAdapter {
  const a = (DATASETS as Record<string, DatasetAdapter>)[name]
  if (!a)
    throw new ConfigError(`unknown dataset "${name}" (available: ${Object.keys(DATASETS).sort().join(', ')})`, {
      field: 'dataset',
    })
  return a
}

/** How `resolveDataPath` turned a path into files: which kind of path it was and, for a folder, the split it took. */
export interface ResolvedDataPath {
  path: string
  kind: 'file' | 'glob' | 'folder'
  /** the files (or, for a glob, the pattern) to read */
  files: string[]
  /** the split the files were taken from (a folder with split-named files); null for a file, a glob or a folder without split names */
  split: SplitName | null
}

export interface ResolveDataPathOptions extends ResolveOptions {
  /** the dataset whose adapter finds a folder's files; required for a folder, checked for any path */
  dataset?: string
  /** for a folder: the split to take (train, val or test); default test when the folder has one */
  split?: string
  /** how the options are named in messages: '--' for the command line (--path, --split, --dataset), '' for the library */
  optionPrefix?: string
}

const GLOB_CHARS = /[*?[]/
const URL_LIKE = /^[a-z][a-z0-9+.-]*:\/\//i

/**
 * A path to score, as eval and predict take it: a file, a glob, or a dataset folder. A folder goes through
 * the dataset adapter's own file discovery and yields one split (`split`, default test); a folder whose data
 * files carry no split names is read whole. Errors name the path, the option and what was found.
 */
export async function resolveDataPath(path: string, opts: ResolveDataPathOptions = {}): Promise<ResolvedDataPath> {
  const o = (name: string) => `${opts.optionPrefix ?? ''}${name}`
  let adapter: DatasetAdapter | undefined
  if (opts.dataset !== undefined) {
    try {
      adapter = getAdapter(opts.dataset)
    } catch (err) {
      if (err instanceof ConfigError)
        throw new ConfigError(`${o('dataset')}: ${err.message}`, { field: o('dataset'), cause: err })
      throw err
    }
  }
  if (URL_LIKE.test(path)) return { path, kind: GLOB_CHARS.test(path) ? 'glob' : 'file', files: [path], split: null }
  if (!existsSync(path)) {
    if (!GLOB_CHARS.test(path))
      throw new DataError(`${o('path')} ${path}: no such file or folder`, { file: path, field: o('path') })
    const conn = await connect()
    let matches: Record<string, unknown>[]
    try {
      matches = await queryObjects(conn, `SELECT file FROM glob(${sqlString(path)}) LIMIT 1`)
    } finally {
      conn.closeSync()
    }
    if (matches.length === 0)
      throw new DataError(`${o('path')} "${path}": no files match this glob`, { file: path, field: o('path') })
    return { path, kind: 'glob', files: [path], split: null }
  }
  if (!statSync(path).isDirectory()) return { path, kind: 'file', files: [path], split: null }

  if (!adapter)
    throw new ConfigError(
      `${o('path')} ${path} is a folder: give the dataset (${o('dataset')}) whose adapter finds its split files`,
      { field: o('dataset') },
    )
  if (opts.split !== undefined && !(SPLIT_NAMES as readonly string[]).includes(opts.split)) {
    throw new ConfigError(
      `${o('split')}: a folder's split is one of ${SPLIT_NAMES.join(', ')}, got "${opts.split}" (${o('path')} ${path})`,
      { field: o('split') },
    )
  }
  const found = await adapter.files(path, opts)
  const names = (files: string[]) => files.map((f) => basename(f)).join(', ')
  const present = SPLIT_NAMES.filter((s) => found[s].length > 0)
  if (found.files.length === 0) {
    const there = readdirSync(path).sort()
    throw new DataError(
      `${o('path')} ${path}: no ${opts.dataset} data files in this folder (expected: ${adapter.summary}; found: ${there.join(', ') || 'nothing'})`,
      { file: path, field: o('path') },
    )
  }
  if (present.length === 0) {
    if (opts.split !== undefined) {
      throw new DataError(
        `${o('path')} ${path}: no "${opts.split}" split in this folder: none of its ${opts.dataset} data files is named after a split (${SPLIT_NAMES.join(', ')}): ${names(found.files)}; drop ${o('split')} to read them all, or give a file or a glob`,
        { file: path, field: o('split') },
      )
    }
    return { path, kind: 'folder', files: found.files, split: null }
  }
  const split = (opts.split ?? 'test') as SplitName
  if (found[split].length === 0) {
    const listed = present.map((s) => `${s}: ${names(found[s])}`).join('; ')
    const which =
      opts.split === undefined ? `no test split (the default) in this folder` : `no "${split}" split in this folder`
    throw new DataError(
      `${o('path')} ${path}: ${which} for dataset ${opts.dataset} (splits found: ${listed}); choose one with ${o('split')} ${present.join('|')}`,
      { file: path, field: o('split') },
    )
  }
  return { path, kind: 'folder', files: found[split], split }
}

export interface OpenDatasetOptions {
  dataset: string
  path: string
  /** the user's schema file (csv, parquet; optional for synthetic) */
  schema?: string
  /** an already fitted preprocessing (evaluation, serving); otherwise fitted on train */
  preprocessing?: Preprocessing
  /** cache root for converted raw layouts and, with `cache`, encoded columns (default .cache/resflow or RESFLOW_CACHE_DIR) */
  cacheDir?: string
  /** keep the encoded splits in the on-disk cache under cacheDir; later opens of unchanged files read them back */
  cache?: boolean
}

export interface OpenedDataset {
  prep: Preprocessing
  spec: InputSpec
  train: EncodedDataset
  val?: EncodedDataset
  test?: EncodedDataset
}

export async function openDataset(opts: OpenDatasetOptions): Promise<OpenedDataset> {
  const resolved = await getAdapter(opts.dataset).resolve(opts.path, opts.schema, { cacheDir: opts.cacheDir })
  return openResolved(resolved, opts)
}

/**
 * openDataset once the schema and split files are known (training's data preparation comes here with its own
 * resolution: generated data, reordered tasks, explicit files): fits the preprocessing on train unless one is
 * given, then encodes every split with it.
 */
export async function openResolved(
  { schema, splits }: { schema: DatasetSchema; splits: Splits },
  opts: Pick<OpenDatasetOptions, 'preprocessing' | 'cacheDir' | 'cache'> & {
    onSplit?: (split: SplitName, ds: EncodedDataset, seconds: number) => void
  } = {},
): Promise<OpenedDataset> {
  const conn = await connect()
  try {
    const cacheDir = opts.cache ? (opts.cacheDir ?? defaultCacheDir()) : undefined
    const fit = () => fitPreprocessing(schema, splits.train, { conn })
    const prep =
      opts.preprocessing ?? (cacheDir ? await cachedPreprocessing(schema, splits.train, cacheDir, fit) : await fit())
    return {
      prep,
      spec: inputSpecOf(prep),
      ...(await encodeSplits(prep, splits, { conn, cacheDir, onSplit: opts.onSplit })),
    }
  } finally {
    conn.closeSync()
  }
}

/** The splits encoded with one fitted preprocessing: train, then val and test when they have files. */
export interface EncodedSplits {
  train: EncodedDataset
  val?: EncodedDataset
  test?: EncodedDataset
}

/**
 * Encodes a data set's splits with its fitted preprocessing (the training one: fitted on train only). The one
 * encoding step of `openDataset` and of training's data preparation (train/prepare.ts); `onSplit` hears how long
 * each split took.
 */
export async function encodeSplits(
  prep: Preprocessing,
  splits: Splits,
  opts: {
    conn?: DuckDBConnection
    cacheDir?: string
    onSplit?: (split: SplitName, ds: EncodedDataset, seconds: number) => void
  } = {},
): Promise<EncodedSplits> {
  const out: Partial<EncodedSplits> = {}
  for (const split of SPLIT_NAMES) {
    if (split !== 'train' && splits[split].length === 0) continue
    const t0 = performance.now()
    const ds = await encodeDataset(prep, splits[split], { conn: opts.conn, cacheDir: opts.cacheDir })
    opts.onSplit?.(split, ds, (performance.now() - t0) / 1000)
    out[split] = ds
  }
  return out as EncodedSplits
}
