/**
 * The data side of a run whose encoded splits do not fit the memory budget (data.memoryBudgetMB): each split
 * is encoded once into the on-disk cache (in pieces, bounded memory; re-runs on unchanged files reuse it),
 * and batches are read back from disk: training batches through the block + buffer shuffle
 * (data/block-shuffle.ts), validation and test batches in file order, a buffer at a time.
 *
 * Memory while training: a buffer of `bufferRows` rows is held twice while it is joined and gathered into its
 * shuffled order, and the previous one until the trainer lets go of its last batch, so bufferRows =
 * budget / (4 · bytes per row) keeps the data within the budget with room for the validation buffer.
 */
import { existsSync, statSync } from 'node:fs'
import { encodedCacheDir } from '../data/cache.js'
import type { EncodeReport } from '../data/dataset.js'
import { type DiskTable, encodeToDisk } from '../data/disk-table.js'
import { connect, queryObjects } from '../data/duck.js'
import { defaultCacheDir } from '../data/file-key.js'
import { type Preprocessing, inputSpecOf } from '../data/preprocessing.js'
import { formatOf, fromClause } from '../data/source.js'
import { streamBatches } from '../data/block-shuffle.js'
import type { DataConfig } from '../config/experiment.js'
import type { DataSource, PreparedData } from './prepared-data.js'

export const DEFAULT_MEMORY_BUDGET_MB = 4096
/** rows per shuffle block: large enough that a buffer is a few hundred reads per column, small enough to mix well */
export const BLOCK_ROWS = 16384

/** Bytes a row takes once encoded (multi-valued features counted at 8 ids a row). */
export function bytesPerRow(prep: Preprocessing): number {
  const spec = inputSpecOf(prep)
  return (
    4 * spec.sparse.length +
    4 * 9 * spec.multi.length +
    4 * spec.dense.length +
    4 * spec.tasks.length +
    (prep.schema.group ? 8 : 0) +
    4 * prep.schema.extra.length
  )
}

/**
 * The encoded size of the files: rows counted by DuckDB (Parquet from its metadata) times bytesPerRow. A CSV
 * row of k columns has at least 2k bytes (a character and a delimiter each) and encodes to at most 8k, so
 * plain CSV files under a quarter of the budget fit for sure and are not scanned. A count that fails returns
 * 0: the in-memory encoder then reads the files and reports the bad cell with its line.
 */
export async function estimateEncodedBytes(prep: Preprocessing, files: string[], budgetBytes: number): Promise<number> {
  if (files.length === 0) return 0
  if (formatOf(prep.schema, files) === 'csv' && files.every((f) => existsSync(f) && statSync(f).isFile())) {
    const size = files.reduce((s, f) => s + statSync(f).size, 0)
    if (4 * size <= budgetBytes) return 4 * size
  }
  const conn = await connect()
  try {
    const [row] = await queryObjects(conn, `SELECT count(*)::DOUBLE AS n FROM ${fromClause(prep.schema, files)}`)
    return Number(row?.n ?? 0) * bytesPerRow(prep)
  } catch {
    return 0
  } finally {
    conn.closeSync()
  }
}

/** The process's resident memory now and at its peak so far, for the log (where a run's memory goes). */
export function memoryNote(): string {
  return `process RSS ${Math.round(process.memoryUsage().rss / 2 ** 20)} MB, peak ${Math.round(process.resourceUsage().maxRSS / 1024)} MB`
}

/** Log lines of the features with a capacity: training values evicted, rows hashed (the counter of EncodeReport.hashed). */
export function capacityLines(prep: Preprocessing, report: EncodeReport, split: string): string[] {
  return prep.sparse
    .filter((f) => f.evicted !== undefined)
    .map((f) => {
      const rows = report.hashed?.[f.name]
      const where = f.hashBuckets ? `share ${f.hashBuckets} hashed rows` : 'map to id 0'
      return `data: ${f.name}: capacity ${f.vocab.length + 1 + (f.hashBuckets ?? 0)} rows; ${f.evicted} training values beyond it ${where}${rows !== undefined ? `; ${split}: ${rows} rows hashed` : ''}`
    })
}

export async function prepareStreamed(
  config: DataConfig,
  source: DataSource,
  preprocessing: Preprocessing,
  budgetBytes: number,
  log: (line: string) => void,
): Promise<PreparedData> {
  const cacheDir = defaultCacheDir()
  const open = async (name: string, files: string[]): Promise<DiskTable> => {
    const dir = await encodedCacheDir(preprocessing, files, cacheDir)
    const res = await encodeToDisk(preprocessing, files, dir)
    const rate = Math.round(res.table.report.read / res.seconds)
    log(
      res.hit
        ? `data: ${name}: ${res.table.rows} encoded rows read from the cache ${dir}`
        : `data: ${name}: first pass encoded ${res.table.report.read} rows in ${res.seconds.toFixed(1)}s (${rate} rows/s) into ${dir} (${memoryNote()})`,
    )
    capacityLines(preprocessing, res.table.report, name).forEach((l) => log(l))
    return res.table
  }
  const train = await open('train', source.train)
  const val = await open('val', source.val)
  const test = source.test ? await open('test', source.test) : null
  const bufferRows = Math.max(BLOCK_ROWS, Math.floor(budgetBytes / (4 * train.bytesPerRow)))
  const bufferBlocks = Math.max(1, Math.floor(bufferRows / BLOCK_ROWS))
  log(
    `data: block + buffer shuffle: blocks of ${BLOCK_ROWS} rows, ${bufferBlocks} blocks (${bufferBlocks * BLOCK_ROWS} rows, ${Math.round((bufferBlocks * BLOCK_ROWS * train.bytesPerRow) / 2 ** 20)} MB) a buffer`,
  )
  // validation and test read in file order with buffers an eighth of the training one: they are held alongside it
  const evalRows = Math.max(BLOCK_ROWS, Math.floor(bufferRows / 8))
  return {
    spec: inputSpecOf(preprocessing),
    preprocessing,
    dataset: {
      name: config.dataset,
      ...(config.dir ? { dir: config.dir } : {}),
      files: { train: source.train, val: source.val, test: source.test },
    },
    rows: { train: train.rows, val: val.rows, test: test?.rows ?? 0 },
    positiveRates: train.positiveRates,
    // as in memory: a distinct order per epoch, the same for every run with this seed (and after --resume)
    trainBatches: (seed, epoch, batchSize) =>
      streamBatches(train, {
        batchSize,
        shuffle: { blockRows: BLOCK_ROWS, bufferBlocks, seed: (seed * 1000 + epoch) >>> 0 },
      }),
    valBatches: (batchSize) => streamBatches(val, { batchSize, bufferRows: evalRows }),
    testBatches: (batchSize) => (test ? streamBatches(test, { batchSize, bufferRows: evalRows }) : null),
  }
}
