/**
 * From the experiment's `data` section to encoded, in-memory splits: generate synthetic data when
 * asked, find the schema and files (a built-in adapter or a user schema), fit the preprocessing on the
 * training split only, encode every split with it, and split the validation rows in two when asked
 * (data.splitVal: census's val file, or the test file of a folder that has no val file).
 * Everything downstream (trainer, compare, eval) sees only PreparedData.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { basename, join } from 'node:path'
import { getAdapter, openResolved } from '../data/adapters.js'
import type { DatasetSchema } from '../data/schema.js'
import { gatherDataset } from '../data/block-shuffle.js'
import type { EncodedDataset } from '../data/dataset.js'
import {
  DEFAULT_MEMORY_BUDGET_MB,
  capacityLines,
  estimateEncodedBytes,
  memoryNote,
  prepareStreamed,
} from './prepare-streamed.js'
import { fitPreprocessing, inputSpecOf } from '../data/preprocessing.js'
import { generateSynthetic } from '../data/synth.js'
import { Rng } from '../engine/rng.js'
import { ConfigError } from '../errors.js'
import { positiveRates } from '../models/task-graph.js'
import type { DataConfig } from '../config/experiment.js'
import { withFile } from '../config/load.js'
import type { DataSource, PreparedData } from './prepared-data.js'

export type { DataSource, PreparedData } from './prepared-data.js'

/** `file` (the experiment config) prefixes config errors. */
export async function prepareData(
  config: DataConfig,
  log: (line: string) => void = () => {},
  file?: string,
): Promise<PreparedData> {
  const source = file ? await withFile(file, () => resolveSource(config, log)) : await resolveSource(config, log)
  if (config.tasks) source.schema = orderTasks(source.schema, config.tasks, file)
  const t0 = performance.now()
  const preprocessing = await fitPreprocessing(source.schema, source.train)
  log(
    `data: preprocessing fitted on ${preprocessing.fit.rows} training rows in ${((performance.now() - t0) / 1000).toFixed(1)}s (${memoryNote()})`,
  )
  const budgetBytes = (config.memoryBudgetMB ?? DEFAULT_MEMORY_BUDGET_MB) * 2 ** 20
  const estimate = await estimateEncodedBytes(
    preprocessing,
    [...source.train, ...source.val, ...(source.test ?? [])],
    budgetBytes,
  )
  if (estimate > budgetBytes) {
    if (config.splitVal)
      throw new ConfigError(
        `data.splitVal: the encoded data (about ${mb(estimate)} MB) is over data.memoryBudgetMB (${mb(budgetBytes)} MB) and is streamed from disk, which splitVal does not support; give a val file or raise data.memoryBudgetMB`,
        { field: 'data.splitVal' },
      )
    log(
      `data: the encoded splits take about ${mb(estimate)} MB, over the memory budget of ${mb(budgetBytes)} MB (data.memoryBudgetMB): streaming them from the on-disk cache with a block + buffer shuffle`,
    )
    return prepareStreamed(config, source, preprocessing, budgetBytes, log)
  }
  const encoded = await openResolved(
    { schema: source.schema, splits: { train: source.train, val: source.val, test: source.test ?? [] } },
    {
      preprocessing,
      onSplit: (split, ds, seconds) => {
        if (split !== 'train') return
        log(
          `data: first pass encoded ${ds.report.read} training rows in ${seconds.toFixed(1)}s (${Math.round(ds.report.read / seconds)} rows/s)`,
        )
        for (const line of capacityLines(preprocessing, ds.report, 'train')) log(line)
      },
    },
  )
  const train = encoded.train
  if (!encoded.val)
    throw new ConfigError('data: no validation files (early stopping and fusion need them)', { field: 'data' })
  let val = encoded.val
  let test = encoded.test ?? null
  if (config.splitVal) {
    if (test)
      throw new ConfigError(
        `data.splitVal: the data already has a test split (${source.test!.join(', ')}); drop splitVal or the test file`,
        { field: 'data.splitVal' },
      )
    const halves = splitRows(val, config.splitVal.seed, config.splitVal.valFraction)
    val = halves.val
    test = halves.test
  }
  log(
    `data: ${train.rows} train, ${val.rows} val, ${test?.rows ?? 0} test rows encoded in ${((performance.now() - t0) / 1000).toFixed(1)}s`,
  )
  const spec = inputSpecOf(preprocessing)
  return {
    spec,
    preprocessing,
    dataset: {
      name: config.dataset,
      ...(config.dir ? { dir: config.dir } : {}),
      ...(config.splitVal ? { splitVal: config.splitVal } : {}),
      files: { train: source.train, val: source.val, test: source.test },
    },
    rows: { train: train.rows, val: val.rows, test: test?.rows ?? 0 },
    positiveRates: positiveRates(train.all(), spec.tasks),
    // a distinct permutation per epoch, the same for every run with this seed (and after --resume)
    trainBatches: (seed, epoch, batchSize) =>
      train.batches(batchSize, { shuffle: true, seed: (seed * 1000 + epoch) >>> 0 }),
    valBatches: (batchSize) => val.batches(batchSize),
    testBatches: (batchSize) => (test ? test.batches(batchSize) : null),
  }
}

async function resolveSource(config: DataConfig, log: (line: string) => void): Promise<DataSource> {
  if (config.generate) {
    if (config.dataset !== 'synthetic')
      throw new ConfigError(`data.generate: only the synthetic dataset is generated, got dataset "${config.dataset}"`, {
        field: 'data.generate',
      })
    if (!config.dir)
      throw new ConfigError('data.dir: the folder to generate the synthetic data into', { field: 'data.dir' })
    try {
      await ensureSynthetic(config.dir, config.generate, log)
    } catch (err) {
      // the generator names its option (tasks: ...); here it sits under data.generate
      if (err instanceof ConfigError && err.field)
        throw new ConfigError(`data.generate.${err.message}`, { field: `data.generate.${err.field}`, cause: err })
      throw err
    }
  }
  const adapter = withField('data.dataset', () => getAdapter(config.dataset))
  if (config.dir) {
    const { schema, splits } = await adapter.resolve(config.dir, config.schema)
    if (splits.val.length > 0)
      return { schema, train: splits.train, val: splits.val, test: splits.test.length > 0 ? splits.test : null }
    return { schema, ...withoutValFile(config, splits, log) }
  }
  const { schema } = await adapter.resolve(config.train!, config.schema)
  return { schema, train: [config.train!], val: [config.val!], test: config.test ? [config.test] : null }
}

/**
 * A folder with no val file. Its test file is never quietly taken for validation: early stopping and fusion
 * weights would then be chosen on it and its figures would no longer be a test. With data.splitVal the test
 * file's rows are split in two (validation, test), as prepareData does with a val file; otherwise refuse.
 */
function withoutValFile(
  config: DataConfig,
  splits: { train: string[]; test: string[] },
  log: (line: string) => void,
): Omit<DataSource, 'schema'> {
  const names = (files: string[]) => files.map((f) => basename(f)).join(', ')
  if (splits.test.length > 0 && config.splitVal) {
    const share = Math.round(100 * config.splitVal.valFraction)
    log(
      `data: ${config.dir} has no validation file: data.splitVal splits the rows of ${names(splits.test)}: about ${share}% validation (early stopping, fusion), the rest test (seed ${config.splitVal.seed})`,
    )
    return { train: splits.train, val: splits.test, test: null }
  }
  const found = `train ${names(splits.train)}; ${splits.test.length > 0 ? `test ${names(splits.test)}` : 'no test file'}`
  const why =
    splits.test.length > 0
      ? 'early stopping and fusion weights would be chosen on the test file, whose figures would then no longer be a test'
      : 'early stopping and fusion weights need validation rows'
  const fix =
    splits.test.length > 0
      ? 'add a file whose name contains "val", set data.splitVal to split the test file\'s rows into validation and test, or give data.train, data.val and data.test'
      : 'add a file whose name contains "val", or give data.train and data.val'
  throw new ConfigError(`data.dir: ${config.dir} has no validation file (found: ${found}); ${why}. To go on: ${fix}`, {
    field: 'data.dir',
  })
}

function withField<T>(field: string, fn: () => T): T {
  try {
    return fn()
  } catch (err) {
    if (err instanceof ConfigError) throw new ConfigError(`${field}: ${err.message}`, { field, cause: err })
    throw err
  }
}

/** The schema with its tasks in `order` (the preprocessing, and so every later reader, keeps that order). */
function orderTasks(schema: DatasetSchema, order: string[], file?: string): DatasetSchema {
  const have = schema.tasks.map((t) => t.name)
  if (order.length !== have.length || !have.every((t) => order.includes(t))) {
    throw new ConfigError(
      `${file ? `${file}: ` : ''}data.tasks: expected an order of the dataset's tasks ${have.join(', ')}, got [${order.join(', ')}]`,
      { file, field: 'data.tasks' },
    )
  }
  return { ...schema, tasks: order.map((name) => schema.tasks.find((t) => t.name === name)!) }
}

/** Generates synthetic data into `dir` unless it already holds data generated with the same settings. */
async function ensureSynthetic(
  dir: string,
  generate: NonNullable<DataConfig['generate']>,
  log: (line: string) => void,
): Promise<void> {
  const stamp = join(dir, 'generate.json')
  const want = JSON.stringify(generate)
  if (existsSync(stamp) && readFileSync(stamp, 'utf8') === want) return
  const t0 = performance.now()
  const result = await generateSynthetic({
    outDir: dir,
    rows: generate.rows,
    seed: generate.seed,
    tasks: generate.tasks,
    split: generate.split,
  })
  writeFileSync(stamp, want)
  const rates = Object.entries(result.rates)
    .map(([t, r]) => `${t} ${(100 * r).toFixed(2)}%`)
    .join(', ')
  log(
    `data: generated ${generate.rows} synthetic rows into ${dir} (${rates}) in ${((performance.now() - t0) / 1000).toFixed(1)}s`,
  )
}

/**
 * Splits encoded rows in two: u_i = the i-th draw of mulberry32(seed), row order as read;
 * u_i < fraction → val, else test (the rule of bench/pytorch/census.py).
 */
export function splitRows(
  ds: EncodedDataset,
  seed: number,
  fraction: number,
): { val: EncodedDataset; test: EncodedDataset } {
  const rng = new Rng(seed)
  const a: number[] = []
  const b: number[] = []
  for (let i = 0; i < ds.rows; i++) (rng.next() < fraction ? a : b).push(i)
  return { val: gatherDataset(ds, Int32Array.from(a)), test: gatherDataset(ds, Int32Array.from(b)) }
}

const mb = (bytes: number) => Math.round(bytes / 2 ** 20)
