/**
 * The fitted preprocessing artifact: vocabularies (min count; rare, unseen and missing → id 0), numeric
 * statistics and quantile edges, fitted on the training split only and saved as JSON. Training,
 * evaluation, export and serving all load it, so a value maps to the same id everywhere.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { z } from 'zod'
import { validateConfig } from '../config/load.js'
import { DataError } from '../errors.js'
import { connect, connectOrdered, queryObjects, sqlIdent, sqlString } from './duck.js'
import { DatasetSchemaSchema, columnOf, type DatasetSchema } from './schema.js'
import {
  cellExpr,
  describeColumns,
  filterColumns,
  formatOf,
  fromClause,
  isIntegerType,
  requireColumns,
} from './source.js'
import type { InputSpec } from './types.js'
import { dataChecks, findFirstBad, withDiagnosis } from './diagnose.js'

const Side = z.enum(['user', 'item']).optional()
export const PreprocessingSchema = z.strictObject({
  version: z.literal(1),
  schema: DatasetSchemaSchema,
  /** id = index in vocab + 1; valueType int means cells are compared as integers */
  /**
   * hashBuckets: ids hashed into rows vocab.length + 1 .. vocab.length + hashBuckets (values beyond the capacity);
   * evicted: distinct training values left out of vocab by the capacity
   */
  sparse: z.array(
    z.strictObject({
      name: z.string(),
      column: z.string(),
      valueType: z.enum(['int', 'string']),
      vocab: z.array(z.string()),
      side: Side,
      hashBuckets: z.number().int().optional(),
      evicted: z.number().int().optional(),
    }),
  ),
  multi: z.array(
    z.strictObject({
      name: z.string(),
      column: z.string(),
      separator: z.string(),
      pooling: z.enum(['sum', 'mean']),
      vocab: z.array(z.string()),
      side: Side,
    }),
  ),
  dense: z.array(
    z.strictObject({
      name: z.string(),
      column: z.string(),
      transform: z.enum(['none', 'standardize', 'minmax', 'log1p', 'log1p-standardize']),
      fill: z.number().optional(),
      mean: z.number(),
      std: z.number(),
      min: z.number(),
      max: z.number(),
      side: Side,
    }),
  ),
  /** dense features with transform quantile: id 0 = missing, id b+1 = bucket b (x ≥ edges[b-1]) */
  buckets: z.array(
    z.strictObject({
      name: z.string(),
      column: z.string(),
      edges: z.array(z.number()),
      fill: z.number().optional(),
      side: Side,
    }),
  ),
  tasks: z.array(z.string()),
  fit: z.strictObject({ files: z.array(z.string()), rows: z.number() }),
})
export type Preprocessing = z.output<typeof PreprocessingSchema>

export interface FitOptions {
  /** rows sampled for quantile edges are all rows; nothing to tune yet */
  conn?: import('@duckdb/node-api').DuckDBConnection
}

/** Fits vocabularies and statistics on the training files only. */
export async function fitPreprocessing(
  schema: DatasetSchema,
  trainFiles: string[],
  opts: FitOptions = {},
): Promise<Preprocessing> {
  const conn = opts.conn ?? (await connect())
  const format = formatOf(schema, trainFiles)
  const from = fromClause(schema, trainFiles)
  const have = await describeColumns(conn, schema, trainFiles)
  const needed = [...schema.sparse, ...schema.multi, ...schema.dense, ...schema.tasks].map(columnOf)
  requireColumns(
    have,
    [...needed, ...(schema.group ? [schema.group] : []), ...schema.extra, ...filterColumns(schema)],
    trainFiles,
  )
  const typeOf = new Map(have.map((c) => [c.name, c.type]))
  const cell = (col: string) => cellExpr(schema, col, format)

  return withDiagnosis(schema, trainFiles, async () => {
    // vocabularies: one scan, all categorical cells unpivoted to (feature, value)
    const counts = new Map<string, { v: string; c: number }[]>()
    const catCols = [
      ...schema.sparse.map((f, i) => ({ key: `s${i}`, sql: `CAST(${cell(columnOf(f))} AS VARCHAR)` })),
      ...schema.multi.map((f, i) => ({
        key: `m${i}`,
        sql: `list_filter(string_split(CAST(${cell(columnOf(f))} AS VARCHAR), ${sqlString(f.separator)}), x -> x <> '')`,
      })),
    ]
    if (catCols.length > 0) {
      const single = catCols.filter((c) => c.key[0] === 's')
      const lists = catCols.filter((c) => c.key[0] === 'm')
      const parts: string[] = []
      if (single.length > 0) {
        parts.push(
          `SELECT k, v, count(*)::DOUBLE AS c FROM (SELECT ${single.map((c) => `${c.sql} AS ${c.key}`).join(', ')} FROM ${from}) UNPIVOT (v FOR k IN (${single.map((c) => c.key).join(', ')})) GROUP BY ALL`,
        )
      }
      for (const l of lists)
        parts.push(
          `SELECT '${l.key}' AS k, v, count(*)::DOUBLE AS c FROM (SELECT unnest(${l.sql}) AS v FROM ${from}) GROUP BY ALL`,
        )
      const rows = await queryObjects(conn, `${parts.join(' UNION ALL ')} ORDER BY k, c DESC, v`)
      for (const r of rows) {
        const k = String(r.k)
        if (!counts.has(k)) counts.set(k, [])
        counts.get(k)!.push({ v: String(r.v), c: Number(r.c) })
      }
    }
    // integer ids: Parquet says so by the column's type; a CSV column (read as text) when every value is digits
    const intColumn = (key: string, column: string) =>
      format === 'parquet' ? isIntegerType(typeOf.get(column) ?? '') : isIntegerText(counts.get(key) ?? [])
    const vocabOf = (key: string, minCount: number, int = false) => {
      const entries = int ? canonicalIntCounts(counts.get(key) ?? []) : (counts.get(key) ?? [])
      return entries.filter((e) => e.c >= minCount).map((e) => e.v)
    }

    // numeric statistics and quantile edges: one aggregate scan
    const num = (col: string) => `CAST(${cell(col)} AS DOUBLE)`
    const aggs = ['count(*)::DOUBLE AS n']
    schema.dense.forEach((f, i) => {
      const x = num(columnOf(f))
      // log1p-standardize standardizes u = sign(x)·log1p(|x|): its mean and deviation are those of u
      const u = f.transform === 'log1p-standardize' ? `(sign(${x}) * ln(1 + abs(${x})))` : x
      aggs.push(`avg(${u}) AS mean${i}`, `stddev_pop(${u}) AS std${i}`, `min(${x}) AS min${i}`, `max(${x}) AS max${i}`)
      if (f.transform === 'quantile') {
        const qs = Array.from({ length: f.buckets - 1 }, (_, b) => ((b + 1) / f.buckets).toFixed(6))
        aggs.push(`to_json(quantile_disc(${x}, [${qs.join(', ')}])) AS q${i}`)
      }
    })
    // Floating-point sums depend on the order DuckDB's threads add them in; one thread makes the
    // fitted means and deviations (and so every run) reproducible bit for bit.
    const ordered = await connectOrdered()
    let stats: Record<string, unknown>
    try {
      ;[stats] = (await queryObjects(ordered.conn, `SELECT ${aggs.join(', ')} FROM ${from}`)) as [
        Record<string, unknown>,
      ]
    } finally {
      ordered.close()
    }
    const rows = Number(stats.n)
    const nonFinite = schema.dense.findIndex((_, i) =>
      ['mean', 'std', 'min', 'max'].some(
        (k) => stats[`${k}${i}`] !== null && !Number.isFinite(Number(stats[`${k}${i}`])),
      ),
    )
    if (nonFinite >= 0) {
      const column = columnOf(schema.dense[nonFinite])
      throw (
        (await findFirstBad(schema, trainFiles, dataChecks(schema, { missingDense: false }))) ??
        new DataError(
          `${trainFiles.join(', ')}: column "${column}": a number that is not finite (NaN or ±inf); could not locate it`,
          { file: trainFiles[0], field: column },
        )
      )
    }
    if (rows === 0)
      throw new DataError(
        `${trainFiles.join(', ')}: no data rows${schema.filter.length > 0 ? " passing the schema's filter" : ''}; cannot fit preprocessing on an empty training split`,
        { file: trainFiles[0] },
      )

    const prep: Preprocessing = {
      version: 1,
      schema,
      sparse: schema.sparse.map((f, i) => {
        const int = intColumn(`s${i}`, columnOf(f))
        const vocab = vocabOf(`s${i}`, f.minCount, int)
        if (f.capacity === undefined)
          return {
            name: f.name,
            column: columnOf(f),
            side: f.side,
            valueType: int ? ('int' as const) : ('string' as const),
            vocab,
          }
        if (f.hashBuckets !== undefined && !int)
          throw new DataError(
            `${trainFiles.join(', ')}: sparse feature "${f.name}": hashBuckets needs an integer id column; column "${columnOf(f)}" holds text`,
            { file: trainFiles[0], field: `sparse.${f.name}.hashBuckets` },
          )
        // the vocabulary is in decreasing count: the capacity keeps the most frequent values
        const own = f.capacity - 1 - (f.hashBuckets ?? 0)
        return {
          name: f.name,
          column: columnOf(f),
          side: f.side,
          valueType: int ? ('int' as const) : ('string' as const),
          vocab: vocab.slice(0, own),
          ...(f.hashBuckets ? { hashBuckets: f.hashBuckets } : {}),
          evicted: Math.max(0, vocab.length - own),
        }
      }),
      multi: schema.multi.map((f, i) => ({
        name: f.name,
        column: columnOf(f),
        separator: f.separator,
        pooling: f.pooling,
        side: f.side,
        vocab: vocabOf(`m${i}`, f.minCount),
      })),
      dense: [],
      buckets: [],
      tasks: schema.tasks.map((t) => t.name),
      fit: { files: trainFiles, rows },
    }
    schema.dense.forEach((f, i) => {
      const stat = (k: string) => (stats[`${k}${i}`] === null ? 0 : Number(stats[`${k}${i}`]))
      if (f.transform === 'quantile') {
        const edges = [
          ...new Set(
            (JSON.parse(String(stats[`q${i}`] ?? '[]')) as (number | null)[]).filter((e): e is number => e !== null),
          ),
        ].sort((a, b) => a - b)
        prep.buckets.push({ name: f.name, column: columnOf(f), edges, fill: f.fillMissing, side: f.side })
      } else {
        prep.dense.push({
          name: f.name,
          column: columnOf(f),
          transform: f.transform,
          fill: f.fillMissing,
          mean: stat('mean'),
          std: stat('std'),
          min: stat('min'),
          max: stat('max'),
          side: f.side,
        })
      }
    })
    return prep
  })
}

/** digits, at most 38 of them after leading zeros (DuckDB's HUGEINT, which the encoder compares them as, holds ±1.7e38) */
const INTEGER_TEXT = /^[+-]?0*[0-9]{1,38}$/

/** Whether every counted value is an integer written as digits (what DuckDB's sniffer would type as an integer). */
function isIntegerText(entries: { v: string }[]): boolean {
  return entries.length > 0 && entries.every((e) => INTEGER_TEXT.test(e.v))
}

/**
 * The counts of an integer column by exact value: "007", "+7" and "7" are one id, written "7". Compared as
 * BigInt, so ids beyond 2^53 keep every digit. Ordered as the SQL orders them: count descending, then text.
 */
function canonicalIntCounts(entries: { v: string; c: number }[]): { v: string; c: number }[] {
  const byValue = new Map<string, number>()
  for (const e of entries) {
    const v = BigInt(e.v).toString()
    byValue.set(v, (byValue.get(v) ?? 0) + e.c)
  }
  return [...byValue].map(([v, c]) => ({ v, c })).sort((a, b) => b.c - a.c || (a.v < b.v ? -1 : a.v > b.v ? 1 : 0))
}

/** The model-facing description: quantile-bucketed numbers are sparse features with edges + 2 ids. */
export function inputSpecOf(prep: Preprocessing): InputSpec {
  return {
    sparse: [
      ...prep.sparse.map((f) => ({
        name: f.name,
        vocabSize: f.vocab.length + 1 + (f.hashBuckets ?? 0),
        ...(f.side ? { side: f.side } : {}),
      })),
      ...prep.buckets.map((f) => ({
        name: f.name,
        vocabSize: f.edges.length + 2,
        ...(f.side ? { side: f.side } : {}),
      })),
    ],
    multi: prep.multi.map((f) => ({
      name: f.name,
      vocabSize: f.vocab.length + 1,
      pooling: f.pooling,
      ...(f.side ? { side: f.side } : {}),
    })),
    dense: prep.dense.map((f) => ({ name: f.name, ...(f.side ? { side: f.side } : {}) })),
    tasks: [...prep.tasks],
  }
}

/** The transform of one numeric value (training encode and serving share it). NaN means missing. */
export function transformDense(f: Preprocessing['dense'][number], x: number): number {
  switch (f.transform) {
    case 'none':
      return x
    case 'standardize':
      return f.std > 0 ? (x - f.mean) / f.std : x - f.mean
    case 'minmax':
      return f.max > f.min ? (x - f.min) / (f.max - f.min) : 0
    case 'log1p':
      return Math.sign(x) * Math.log1p(Math.abs(x)) // symmetric, so negative values stay finite
    case 'log1p-standardize': {
      const l = Math.sign(x) * Math.log1p(Math.abs(x))
      return f.std > 0 ? (l - f.mean) / f.std : l - f.mean
    }
  }
}

/** Bucket id of x: 1 + number of edges ≤ x (binary search); missing handled by the caller. */
export function bucketOf(edges: number[], x: number): number {
  let lo = 0
  let hi = edges.length
  while (lo < hi) {
    const mid = (lo + hi) >> 1
    if (edges[mid] <= x) lo = mid + 1
    else hi = mid
  }
  return lo + 1
}

export function savePreprocessing(prep: Preprocessing, file: string): void {
  writeFileSync(file, JSON.stringify(prep) + '\n')
}

export function loadPreprocessing(file: string): Preprocessing {
  let raw: unknown
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'))
  } catch (cause) {
    throw new DataError(
      `${file}: cannot read the preprocessing artifact (${(cause as Error).message}); fit it again with the train command`,
      { file, cause },
    )
  }
  return validateConfig(raw, file, PreprocessingSchema)
}

void sqlIdent
