/**
 * Finding a data set's files: a folder's data files sorted into the train / val / test splits their
 * names contain, a single file as its own training split, and a hive-partitioned folder (Spark's
 * partitionBy) as one data set; and the interface of a dataset adapter (adapters.ts, datasets/).
 */
import { existsSync, readdirSync, statSync } from 'node:fs'
import { basename, join } from 'node:path'
import { DataError } from '../errors.js'
import type { DatasetSchema } from './schema.js'

export interface Splits {
  train: string[]
  val: string[]
  test: string[]
}

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

/** A data set's layout: how a path in it becomes a schema and split files (one per data set, adapters.ts). */
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
  if (
    entries.length > 0 &&
    entries.every((f) => HIVE_PARTITION.test(f)) &&
    !entries.some((f) => /train|val|test/i.test(f))
  )
    return { train: [path], val: [], test: [], files: [path] }
  const files = readdirSync(path)
    .filter((f) => pattern.test(f))
    .sort()
    .map((f) => join(path, f))
  const pick = (re: RegExp) => files.filter((f) => re.test(basename(f)))
  return { train: pick(/train/i), val: pick(/val/i), test: pick(/test/i), files }
}

/**
 * The splits training needs: a train file is required. A missing val split stays empty: the test files are
 * never taken for validation here (the trainer refuses, or splits them on request; see train/prepare.ts).
 */
export function trainingSplits(path: string, found: FolderFiles): Splits {
  if (found.train.length === 0)
    throw new DataError(
      `${path}: no training file (expected a name containing "train"; found: ${found.files.map((f) => basename(f)).join(', ') || 'nothing'})`,
      { file: path },
    )
  return { train: found.train, val: found.val, test: found.test }
}

/** Files in a folder whose names contain train / val / test (val stays empty when there is no val file). */
export function findSplits(path: string, pattern: RegExp): Splits {
  return trainingSplits(path, discoverSplits(path, pattern))
}

/** File patterns of the data sets' folders. */
export const CSV_FILES = /\.csv(\.gz)?$/
export const PARQUET_FILES = /\.parquet$/
export const PARQUET_OR_HIVE = /\.parquet$|=/
