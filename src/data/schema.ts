/**
 * The dataset schema (YAML/JSON): which columns are sparse ids, id lists or numbers, which are the task
 * labels in funnel order, and how the files are laid out. Validated strictly; errors name the field.
 *
 * Funnel rule: tasks are listed in funnel order (click → purchase). A row with a later-stage positive but an
 * earlier-stage negative (e.g. click=0, purchase=1) breaks the funnel; `funnel: drop` (default) drops and
 * counts such rows, `keep` keeps them, `error` stops at the first one with its line.
 */
import { z } from 'zod'
import { loadConfigFile, validateConfig } from '../config/load.js'
import { ConfigError } from '../errors.js'

const Name = z.string().min(1)
const Side = z.enum(['user', 'item'])

export const SparseSpecSchema = z
  .strictObject({
    name: Name,
    /** source column (default: name) */
    column: Name.optional(),
    /** values seen fewer times in the training split map to id 0 */
    minCount: z.number().int().min(1).default(1),
    /**
     * The most rows this feature's embedding table may have (id 0 included): the most frequent training values
     * keep a row of their own, the rest map to id 0, or with hashBuckets share that many rows by a hash of the
     * id (integer id columns only). For id fields of tens of millions of values (docs/scale.md).
     */
    capacity: z.number().int().min(2).optional(),
    hashBuckets: z.number().int().min(1).optional(),
    side: Side.optional(),
  })
  .refine((f) => f.hashBuckets === undefined || (f.capacity !== undefined && f.hashBuckets <= f.capacity - 2), {
    message:
      'hashBuckets needs a capacity of at least hashBuckets + 2 (id 0 and one frequent value besides the buckets)',
    path: ['hashBuckets'],
  })

export const MultiSpecSchema = z.strictObject({
  name: Name,
  column: Name.optional(),
  /** separator between ids inside the cell */
  separator: z.string().min(1).default('|'),
  pooling: z.enum(['sum', 'mean']).default('mean'),
  minCount: z.number().int().min(1).default(1),
  side: Side.optional(),
})

export const DenseSpecSchema = z.strictObject({
  name: Name,
  column: Name.optional(),
  /**
   * log1p-standardize (default): sign(x)·log1p(|x|), then standardized with the training mean and deviation
   * of that (the independent PyTorch reference's recipe: heavy-tailed counts and [0, 1] scores alike end
   * up near zero mean, unit variance); quantile: equal-frequency buckets turned into ids (the feature
   * becomes sparse)
   */
  transform: z
    .enum(['none', 'standardize', 'minmax', 'log1p', 'log1p-standardize', 'quantile'])
    .default('log1p-standardize'),
  buckets: z.number().int().min(2).max(1000).default(10),
  /** value used for a missing cell; without it a missing cell is an error */
  fillMissing: z.number().optional(),
  side: Side.optional(),
})

export const TaskSpecSchema = z.strictObject({
  name: Name,
  column: Name.optional(),
  /** the label is 1 when the cell equals one of these (e.g. "50000+."); otherwise the cell must be 0 or 1 */
  positive: z
    .array(z.union([z.string(), z.number()]))
    .min(1)
    .optional(),
  /** the label is 1 when the cell is greater than this number (e.g. play_time_ms > 5000) */
  greaterThan: z.number().optional(),
})

/**
 * One condition of the row filter: give exactly one of greaterThan and oneOf. A missing or non-numeric
 * cell never meets greaterThan; oneOf compares numbers as numbers (1 matches "1" and "1.0") and strings as text.
 */
export const RowConditionSchema = z.strictObject({
  column: Name,
  /** keep the row when the cell is greater than this number (e.g. play_time_ms > 0) */
  greaterThan: z.number().optional(),
  /** keep the row when the cell equals one of these (e.g. tab in [1]) */
  oneOf: z
    .array(z.union([z.string(), z.number()]))
    .min(1)
    .optional(),
})

export const CsvOptionsSchema = z.strictObject({
  header: z.boolean().default(true),
  delimiter: z.string().min(1).max(4).default(','),
  quote: z.string().max(1).default('"'),
  /** column names when there is no header */
  names: z.array(Name).optional(),
  /** cell values that mean missing (compared after trimming when trim is on) */
  nullValues: z.array(z.string()).default(['']),
  /** strip spaces around every cell (the UCI census layout) */
  trim: z.boolean().default(false),
})

export const DatasetSchemaSchema = z.strictObject({
  version: z.literal(1).default(1),
  /** default: from the file extension */
  format: z.enum(['csv', 'parquet']).optional(),
  csv: CsvOptionsSchema.prefault({}),
  /** read key=value folders as columns (Spark-style layouts) */
  hivePartitioning: z.boolean().default(false),
  sparse: z.array(SparseSpecSchema).default([]),
  multi: z.array(MultiSpecSchema).default([]),
  dense: z.array(DenseSpecSchema).default([]),
  tasks: z.array(TaskSpecSchema).min(1),
  funnel: z.enum(['drop', 'keep', 'error']).default('drop'),
  /**
   * Keep only the rows meeting every condition (e.g. KuaiRand as the paper ran it: play_time_ms > 0 and tab 1).
   * It is part of the fitted preprocessing, so fitting, encoding every split, eval and predict read the same
   * rows; the rows left out are counted (EncodeReport.filtered). Serving scores whatever it is sent.
   */
  filter: z.array(RowConditionSchema).default([]),
  /** error: stop at the first bad cell; skip: drop rows with bad cells and count them */
  badRows: z.enum(['error', 'skip']).default('error'),
  /** query or user id column for grouped metrics (GAUC) */
  group: Name.optional(),
  /** numeric columns carried into Batch.extra, e.g. the synthetic true probabilities */
  extra: z.array(Name).default([]),
})

export type DatasetSchema = z.output<typeof DatasetSchemaSchema>
export type DatasetSchemaInput = z.input<typeof DatasetSchemaSchema>
export type SparseSpec = z.output<typeof SparseSpecSchema>
export type MultiSpec = z.output<typeof MultiSpecSchema>
export type DenseSpec = z.output<typeof DenseSpecSchema>
export type TaskSpec = z.output<typeof TaskSpecSchema>
export type RowCondition = z.output<typeof RowConditionSchema>

/** Reads and validates a schema file; also checks names are unique and no label column is a feature. */
export function loadDatasetSchema(file: string): DatasetSchema {
  return checkDatasetSchema(loadConfigFile(file, DatasetSchemaSchema), file)
}

/** Parses a schema object (e.g. built by an adapter) with the same checks as a file. */
export function parseDatasetSchema(raw: DatasetSchemaInput, where = 'dataset schema'): DatasetSchema {
  return checkDatasetSchema(validateConfig(raw, where, DatasetSchemaSchema), where)
}

export function columnOf(f: { name: string; column?: string }): string {
  return f.column ?? f.name
}

function checkDatasetSchema(s: DatasetSchema, where: string): DatasetSchema {
  const names = new Map<string, string>()
  const groups: [string, { name: string }[]][] = [
    ['sparse', s.sparse],
    ['multi', s.multi],
    ['dense', s.dense],
    ['tasks', s.tasks],
  ]
  for (const [kind, list] of groups) {
    list.forEach((f, i) => {
      const prev = names.get(f.name)
      if (prev)
        throw new ConfigError(
          `${where}: ${kind}[${i}].name: "${f.name}" is already used by ${prev}; names must be unique`,
          { file: where, field: `${kind}[${i}].name` },
        )
      names.set(f.name, `${kind}[${i}]`)
    })
  }
  const labelColumns = new Set(s.tasks.map(columnOf))
  for (const [kind, list] of groups.slice(0, 3) as [string, { name: string; column?: string }[]][]) {
    list.forEach((f, i) => {
      if (labelColumns.has(columnOf(f))) {
        throw new ConfigError(
          `${where}: ${kind}[${i}]: column "${columnOf(f)}" is a label column; a label's source must never be fed as a feature`,
          { file: where, field: `${kind}[${i}]` },
        )
      }
    })
  }
  s.tasks.forEach((t, i) => {
    if (t.positive && t.greaterThan !== undefined)
      throw new ConfigError(`${where}: tasks[${i}]: give either positive or greaterThan, not both`, {
        file: where,
        field: `tasks[${i}]`,
      })
  })
  s.filter.forEach((f, i) => {
    if ((f.greaterThan === undefined) === (f.oneOf === undefined)) {
      throw new ConfigError(
        `${where}: filter[${i}]: give exactly one of greaterThan and oneOf for column "${f.column}", got ${f.oneOf ? 'both' : 'neither'}`,
        { file: where, field: `filter[${i}]` },
      )
    }
  })
  return s
}
