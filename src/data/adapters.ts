/**
 * Dataset adapters by name: each turns a path in the dataset's own layout into a schema and the
 * train/val/test files. `openDataset` fits the preprocessing on train only and encodes the three splits.
 */
import { existsSync, readdirSync, statSync } from 'node:fs'
import { basename, join } from 'node:path'
import { ConfigError, DataError } from '../errors.js'
import { connect, queryObjects, sqlString } from './duck.js'
import type { EncodedDataset } from './dataset.js'
import { encodeDataset } from './encode.js'
import { fitPreprocessing, inputSpecOf, type Preprocessing } from './preprocessing.js'
import { loadDatasetSchema, parseDatasetSchema, type DatasetSchema, type DatasetSchemaInput } from './schema.js'
import { describeColumns } from './source.js'
import { prepareAliccpRaw } from './aliccp-raw.js'
import { defaultCacheDir } from './file-key.js'
import { cachedPreprocessing } from './cache.js'
import { loadKuaiRandSchema } from './kuairand.js'
import type { InputSpec } from './types.js'

export interface Splits { train: string[]; val: string[]; test: string[] }

export interface ResolveOptions {
  /** where adapters that convert a raw layout (aliccp-raw) keep their converted files (default .cache/resflow) */
  cacheDir?: string
}

/** The split names a folder's files are sorted into (by the name each file contains). */
export const SPLIT_NAMES = ['train', 'val', 'test'] as const
export type SplitName = (typeof SPLIT_NAMES)[number]

/** What an adapter finds in a folder: each split's own files (no fallbacks, train not required) and every data file it recognises. */
export interface FolderFiles extends Splits {
  files: string[]
}

export interface DatasetAdapter {
  summary: string
  /** schema and split files for a path in the dataset's layout; `schemaFile` is the user's schema (csv/parquet) or the adapter's options file (kuairand) */
  resolve(path: string, schemaFile?: string, opts?: ResolveOptions): Promise<{ schema: DatasetSchema; splits: Splits }>
  /** the adapter's file discovery alone (no schema needed): a folder's data files by split, as `resolve` finds them but without its fallbacks (eval, predict) */
  files(path: string, opts?: ResolveOptions): Promise<FolderFiles>
}

/** a hive partition folder name: key=value */
const HIVE_PARTITION = /^[^=]+=[^=]*$/

/** Files in a folder matching `pattern`, sorted into the splits their names contain (a file is its own train split). */
export function discoverSplits(path: string, pattern: RegExp): FolderFiles {
  if (!existsSync(path)) throw new DataError(`${path}: no such file or folder`, { file: path })
  if (!statSync(path).isDirectory()) return { train: [path], val: [], test: [], files: [path] }
  // a hive-partitioned data set (Spark's partitionBy("day"): day=1/, day=2/, ...) is one data set, as a file is,
  // unless the partitions are the splits themselves (split=train/, split=val/)
  const entries = readdirSync(path).filter((f) => !f.startsWith('.') && !f.startsWith('_')) // Spark's _SUCCESS, .crc files
  if (entries.length > 0 && entries.every((f) => HIVE_PARTITION.test(f)) && !entries.some((f) => /train|val|test/i.test(f))) return { train: [path], val: [], test: [], files: [path] }
  const files = readdirSync(path).filter((f) => pattern.test(f)).sort().map((f) => join(path, f))
  const pick = (re: RegExp) => files.filter((f) => re.test(basename(f)))
  return { train: pick(/train/i), val: pick(/val/i), test: pick(/test/i), files }
}

/**
 * The splits training needs: a train file is required. A missing val split stays empty: the test files are
 * never taken for validation here (the trainer refuses, or splits them on request; see train/prepare.ts).
 */
function trainingSplits(path: string, found: FolderFiles): Splits {
  if (found.train.length === 0) throw new DataError(`${path}: no training file (expected a name containing "train"; found: ${found.files.map((f) => basename(f)).join(', ') || 'nothing'})`, { file: path })
  return { train: found.train, val: found.val, test: found.test }
}

/** Files in a folder whose names contain train / val / test (val stays empty when there is no val file). */
export function findSplits(path: string, pattern: RegExp): Splits {
  return trainingSplits(path, discoverSplits(path, pattern))
}

const CENSUS_FIELDS = ['age', 'class_worker', 'det_ind_code', 'det_occ_code', 'education', 'wage_per_hour', 'hs_college', 'marital_stat', 'major_ind_code', 'major_occ_code', 'race', 'hisp_origin', 'sex', 'union_member', 'unemp_reason', 'full_or_part_emp', 'capital_gains', 'capital_losses', 'stock_dividends', 'tax_filer_stat', 'region_prev_res', 'state_prev_res', 'det_hh_fam_stat', 'det_hh_summ', 'instance_weight', 'mig_chg_msa', 'mig_chg_reg', 'mig_move_reg', 'mig_same', 'mig_prev_sunbelt', 'num_emp', 'fam_under_18', 'country_father', 'country_mother', 'country_self', 'citizenship', 'own_or_self', 'vet_question', 'vet_benefits', 'weeks_worked', 'year', 'income_50k']
const CENSUS_NUMERIC = ['age', 'wage_per_hour', 'capital_gains', 'capital_losses', 'stock_dividends', 'num_emp', 'weeks_worked']

/** UCI Census-Income (MMoE paper setup): tasks income (> 50k) and marital (never married). */
export function censusSchema(): DatasetSchemaInput {
  const skip = new Set([...CENSUS_NUMERIC, 'instance_weight', 'marital_stat', 'income_50k'])
  return {
    format: 'csv',
    csv: { header: false, names: CENSUS_FIELDS, delimiter: ',', nullValues: ['?'], trim: true },
    sparse: CENSUS_FIELDS.filter((f) => !skip.has(f)).map((name) => ({ name })),
    dense: CENSUS_NUMERIC.map((name) => ({ name, transform: 'log1p-standardize' })), // as the PyTorch reference
    tasks: [
      { name: 'income', column: 'income_50k', positive: ['50000+.'] },
      { name: 'marital', column: 'marital_stat', positive: ['Never married'] },
    ],
    funnel: 'keep', // two independent tasks, not a funnel
  }
}

/** AliExpress processed layout: categorical_1..16, numerical_1..63, click → conversion, search_id groups. */
export function aliexpressSchema(): DatasetSchemaInput {
  return {
    format: 'csv',
    sparse: Array.from({ length: 16 }, (_, i) => ({ name: `categorical_${i + 1}` })),
    dense: Array.from({ length: 63 }, (_, i) => ({ name: `numerical_${i + 1}` })),
    tasks: [{ name: 'click' }, { name: 'conversion' }],
    funnel: 'drop',
    group: 'search_id',
  }
}

/** Ali-CCP processed layouts: click, purchase, id fields, and dense fields named D*. */
export function aliccpSchema(columns: string[]): DatasetSchemaInput {
  const features = columns.filter((c) => c !== 'click' && c !== 'purchase')
  return {
    format: 'csv',
    sparse: features.filter((c) => !c.startsWith('D')).map((name) => ({ name })),
    dense: features.filter((c) => c.startsWith('D')).map((name) => ({ name })),
    tasks: [{ name: 'click' }, { name: 'purchase' }],
    funnel: 'drop',
  }
}

const CSV_FILES = /\.csv(\.gz)?$/
const PARQUET_FILES = /\.parquet$/
const PARQUET_OR_HIVE = /\.parquet$|=/
const ALICCP_FILES = /^ali_ccp.*\.csv(\.gz)?$|^(?!aitm).*\.csv(\.gz)?$/

/** Census files by split; the original UCI release names its training file census-income.data(.gz). */
function censusFiles(path: string): FolderFiles {
  const found = discoverSplits(path, /census-income/)
  if (found.train.length === 0 && statSync(path).isDirectory()) found.train = found.files.filter((f) => /^census-income\.data(\.gz)?$/.test(basename(f)))
  return found
}

function userSchema(kind: string, schemaFile?: string): DatasetSchema {
  if (!schemaFile) throw new ConfigError(`dataset "${kind}" needs a schema file (--schema FILE) describing features and tasks`, { field: 'schema' })
  return loadDatasetSchema(schemaFile)
}

export const DATASETS = {
  census: {
    summary: 'UCI Census-Income raw layout (census-income.{train,val,test}.gz or .data/.test)',
    resolve: async (path) => ({ schema: parseDatasetSchema(censusSchema(), 'census'), splits: trainingSplits(path, censusFiles(path)) }),
    files: async (path) => censusFiles(path),
  },
  aliexpress: {
    summary: 'AliExpress processed CSV (search_id, categorical_1..16, numerical_1..63, click, conversion)',
    resolve: async (path) => ({ schema: parseDatasetSchema(aliexpressSchema(), 'aliexpress'), splits: findSplits(path, CSV_FILES) }),
    files: async (path) => discoverSplits(path, CSV_FILES),
  },
  aliccp: {
    summary: 'Ali-CCP processed CSV (click, purchase, id fields, D* dense fields)',
    resolve: async (path) => {
      // the folder of samples holds two layouts; a folder means the 23+8 one, a file may be either
      const splits = findSplits(path, ALICCP_FILES)
      const conn = await connect()
      const probe = parseDatasetSchema({ format: 'csv', tasks: [{ name: 'click' }] }, 'aliccp')
      const cols = (await describeColumns(conn, probe, splits.train)).map((c) => c.name)
      conn.closeSync()
      return { schema: parseDatasetSchema(aliccpSchema(cols), 'aliccp'), splits }
    },
    files: async (path) => discoverSplits(path, ALICCP_FILES),
  },
  'aliccp-raw': {
    summary: 'Ali-CCP original release (sample_skeleton_{train,test}.csv + common_features_{train,test}.csv), joined and converted once to Parquet',
    resolve: async (path, _schemaFile, opts) => prepareAliccpRaw(path, opts?.cacheDir),
    files: async (path, opts) => {
      // the converted Parquet files (what the run's preprocessing reads); the original release has no val split
      const { splits } = await prepareAliccpRaw(path, opts?.cacheDir)
      return { train: splits.train, val: [], test: splits.test, files: [...splits.train, ...splits.test] }
    },
  },
  kuairand: {
    summary: 'KuaiRand-style logs CSV with a header: click → watch_5s → ... → watch_80s (play_time_ms > t); --schema takes an options file (thresholdsSec, clickTask, wholeSeconds, filter, sparse, dense, funnel)',
    resolve: async (path, optionsFile) => ({ schema: loadKuaiRandSchema(optionsFile), splits: findSplits(path, CSV_FILES) }),
    files: async (path) => discoverSplits(path, CSV_FILES),
  },
  synthetic: {
    summary: 'output folder of `resflow datagen` (train/val/test.parquet + schema.json)',
    resolve: async (path, schemaFile) => ({ schema: loadDatasetSchema(schemaFile ?? join(path, 'schema.json')), splits: findSplits(path, PARQUET_FILES) }),
    files: async (path) => discoverSplits(path, PARQUET_FILES),
  },
  csv: {
    summary: 'any CSV files with a user-written schema',
    resolve: async (path, schemaFile) => ({ schema: { ...userSchema('csv', schemaFile), format: 'csv' as const }, splits: findSplits(path, CSV_FILES) }),
    files: async (path) => discoverSplits(path, CSV_FILES),
  },
  parquet: {
    summary: 'any Parquet files (or hive-partitioned folders) with a user-written schema',
    resolve: async (path, schemaFile) => ({ schema: { ...userSchema('parquet', schemaFile), format: 'parquet' as const }, splits: findSplits(path, PARQUET_OR_HIVE) }),
    files: async (path) => discoverSplits(path, PARQUET_OR_HIVE),
  },
} satisfies Record<string, DatasetAdapter>

export type DatasetName = keyof typeof DATASETS

export function getAdapter(name: string): DatasetAdapter {
  const a = (DATASETS as Record<string, DatasetAdapter>)[name]
  if (!a) throw new ConfigError(`unknown dataset "${name}" (available: ${Object.keys(DATASETS).sort().join(', ')})`, { field: 'dataset' })
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
      if (err instanceof ConfigError) throw new ConfigError(`${o('dataset')}: ${err.message}`, { field: o('dataset'), cause: err })
      throw err
    }
  }
  if (URL_LIKE.test(path)) return { path, kind: GLOB_CHARS.test(path) ? 'glob' : 'file', files: [path], split: null }
  if (!existsSync(path)) {
    if (!GLOB_CHARS.test(path)) throw new DataError(`${o('path')} ${path}: no such file or folder`, { file: path, field: o('path') })
    const conn = await connect()
    let matches: Record<string, unknown>[]
    try {
      matches = await queryObjects(conn, `SELECT file FROM glob(${sqlString(path)}) LIMIT 1`)
    } finally {
      conn.closeSync()
    }
    if (matches.length === 0) throw new DataError(`${o('path')} "${path}": no files match this glob`, { file: path, field: o('path') })
    return { path, kind: 'glob', files: [path], split: null }
  }
  if (!statSync(path).isDirectory()) return { path, kind: 'file', files: [path], split: null }

  if (!adapter) throw new ConfigError(`${o('path')} ${path} is a folder: give the dataset (${o('dataset')}) whose adapter finds its split files`, { field: o('dataset') })
  if (opts.split !== undefined && !(SPLIT_NAMES as readonly string[]).includes(opts.split)) {
    throw new ConfigError(`${o('split')}: a folder's split is one of ${SPLIT_NAMES.join(', ')}, got "${opts.split}" (${o('path')} ${path})`, { field: o('split') })
  }
  const found = await adapter.files(path, opts)
  const names = (files: string[]) => files.map((f) => basename(f)).join(', ')
  const present = SPLIT_NAMES.filter((s) => found[s].length > 0)
  if (found.files.length === 0) {
    const there = readdirSync(path).sort()
    throw new DataError(`${o('path')} ${path}: no ${opts.dataset} data files in this folder (expected: ${adapter.summary}; found: ${there.join(', ') || 'nothing'})`, { file: path, field: o('path') })
  }
  if (present.length === 0) {
    if (opts.split !== undefined) {
      throw new DataError(`${o('path')} ${path}: no "${opts.split}" split in this folder: none of its ${opts.dataset} data files is named after a split (${SPLIT_NAMES.join(', ')}): ${names(found.files)}; drop ${o('split')} to read them all, or give a file or a glob`, { file: path, field: o('split') })
    }
    return { path, kind: 'folder', files: found.files, split: null }
  }
  const split = (opts.split ?? 'test') as SplitName
  if (found[split].length === 0) {
    const listed = present.map((s) => `${s}: ${names(found[s])}`).join('; ')
    const which = opts.split === undefined ? `no test split (the default) in this folder` : `no "${split}" split in this folder`
    throw new DataError(`${o('path')} ${path}: ${which} for dataset ${opts.dataset} (splits found: ${listed}); choose one with ${o('split')} ${present.join('|')}`, { file: path, field: o('split') })
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
  const { schema, splits } = await getAdapter(opts.dataset).resolve(opts.path, opts.schema, { cacheDir: opts.cacheDir })
  const conn = await connect()
  try {
    const cacheDir = opts.cache ? (opts.cacheDir ?? defaultCacheDir()) : undefined
    const fit = () => fitPreprocessing(schema, splits.train, { conn })
    const prep = opts.preprocessing ?? (cacheDir ? await cachedPreprocessing(schema, splits.train, cacheDir, fit) : await fit())
    const enc = { conn, cacheDir }
    const train = await encodeDataset(prep, splits.train, enc)
    const val = splits.val.length > 0 ? await encodeDataset(prep, splits.val, enc) : undefined
    const test = splits.test.length > 0 ? await encodeDataset(prep, splits.test, enc) : undefined
    return { prep, spec: inputSpecOf(prep), train, val, test }
  } finally {
    conn.closeSync()
  }
}
