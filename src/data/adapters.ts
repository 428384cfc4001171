/**
 * Dataset adapters by name: each turns a path in the dataset's own layout into a schema and the
 * train/val/test files. `openDataset` fits the preprocessing on train only and encodes the three splits.
 */
import { existsSync, readdirSync, statSync } from 'node:fs'
import { basename, join } from 'node:path'
import { ConfigError, DataError } from '../errors.js'
import { connect } from './duck.js'
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

export interface DatasetAdapter {
  summary: string
  /** schema and split files for a path in the dataset's layout; `schemaFile` is the user's schema (csv/parquet) or the adapter's options file (kuairand) */
  resolve(path: string, schemaFile?: string, opts?: ResolveOptions): Promise<{ schema: DatasetSchema; splits: Splits }>
}

/** Files in a folder whose names contain train / val / test (val falls back to test when absent). */
export function findSplits(path: string, pattern: RegExp): Splits {
  if (!existsSync(path)) throw new DataError(`${path}: no such file or folder`, { file: path })
  if (!statSync(path).isDirectory()) return { train: [path], val: [], test: [] }
  const files = readdirSync(path).filter((f) => pattern.test(f)).sort().map((f) => join(path, f))
  const pick = (re: RegExp) => files.filter((f) => re.test(basename(f)))
  const train = pick(/train/i)
  const test = pick(/test/i)
  const val = pick(/val/i)
  if (train.length === 0) throw new DataError(`${path}: no training file (expected a name containing "train"; found: ${files.map((f) => basename(f)).join(', ') || 'nothing'})`, { file: path })
  return { train, val: val.length > 0 ? val : test, test }
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
    dense: CENSUS_NUMERIC.map((name) => ({ name, transform: name === 'age' || name === 'weeks_worked' || name === 'num_emp' ? 'standardize' : 'log1p' })),
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

function userSchema(kind: string, schemaFile?: string): DatasetSchema {
  if (!schemaFile) throw new ConfigError(`dataset "${kind}" needs a schema file (--schema FILE) describing features and tasks`, { field: 'schema' })
  return loadDatasetSchema(schemaFile)
}

export const DATASETS = {
  census: {
    summary: 'UCI Census-Income raw layout (census-income.{train,val,test}.gz or .data/.test)',
    resolve: async (path) => {
      const splits = findSplits(path, /census-income/)
      if (statSync(path).isDirectory()) {
        const data = join(path, 'census-income.data.gz')
        if (splits.train.length === 0 && existsSync(data)) splits.train = [data]
      }
      return { schema: parseDatasetSchema(censusSchema(), 'census'), splits }
    },
  },
  aliexpress: {
    summary: 'AliExpress processed CSV (search_id, categorical_1..16, numerical_1..63, click, conversion)',
    resolve: async (path) => ({ schema: parseDatasetSchema(aliexpressSchema(), 'aliexpress'), splits: findSplits(path, /\.csv(\.gz)?$/) }),
  },
  aliccp: {
    summary: 'Ali-CCP processed CSV (click, purchase, id fields, D* dense fields)',
    resolve: async (path) => {
      // the folder of samples holds two layouts; a folder means the 23+8 one, a file may be either
      const splits = findSplits(path, /^ali_ccp.*\.csv(\.gz)?$|^(?!aitm).*\.csv(\.gz)?$/)
      const conn = await connect()
      const probe = parseDatasetSchema({ format: 'csv', tasks: [{ name: 'click' }] }, 'aliccp')
      const cols = (await describeColumns(conn, probe, splits.train)).map((c) => c.name)
      conn.closeSync()
      return { schema: parseDatasetSchema(aliccpSchema(cols), 'aliccp'), splits }
    },
  },
  'aliccp-raw': {
    summary: 'Ali-CCP original release (sample_skeleton_{train,test}.csv + common_features_{train,test}.csv), joined and converted once to Parquet',
    resolve: async (path, _schemaFile, opts) => prepareAliccpRaw(path, opts?.cacheDir),
  },
  kuairand: {
    summary: 'KuaiRand-style logs CSV with a header: click → watch_5s → ... → watch_90s (play_time_ms > t); --schema takes an options file (thresholdsSec, sparse, dense, funnel)',
    resolve: async (path, optionsFile) => ({ schema: loadKuaiRandSchema(optionsFile), splits: findSplits(path, /\.csv(\.gz)?$/) }),
  },
  synthetic: {
    summary: 'output folder of `resflow datagen` (train/val/test.parquet + schema.json)',
    resolve: async (path, schemaFile) => ({ schema: loadDatasetSchema(schemaFile ?? join(path, 'schema.json')), splits: findSplits(path, /\.parquet$/) }),
  },
  csv: {
    summary: 'any CSV files with a user-written schema',
    resolve: async (path, schemaFile) => ({ schema: { ...userSchema('csv', schemaFile), format: 'csv' as const }, splits: findSplits(path, /\.csv(\.gz)?$/) }),
  },
  parquet: {
    summary: 'any Parquet files (or hive-partitioned folders) with a user-written schema',
    resolve: async (path, schemaFile) => ({ schema: { ...userSchema('parquet', schemaFile), format: 'parquet' as const }, splits: findSplits(path, /\.parquet$|=/) }),
  },
} satisfies Record<string, DatasetAdapter>

export type DatasetName = keyof typeof DATASETS

export function getAdapter(name: string): DatasetAdapter {
  const a = (DATASETS as Record<string, DatasetAdapter>)[name]
  if (!a) throw new ConfigError(`unknown dataset "${name}" (available: ${Object.keys(DATASETS).sort().join(', ')})`, { field: 'dataset' })
  return a
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
