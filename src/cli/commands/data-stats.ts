/**
 * `resflow data stats --dataset NAME --path PATH [--schema FILE] [--json]`: per split (train, val, test) rows,
 * label rates, funnel violations and missing cells; vocabulary sizes of the preprocessing fitted on train.
 * The JSON keeps the train figures at the top level and adds every split under `splits`.
 */
import type { DuckDBConnection } from '@duckdb/node-api'
import { getAdapter } from '../../data/adapters.js'
import { connect, queryObjects } from '../../data/duck.js'
import { withDiagnosis } from '../../data/diagnose.js'
import { encodeDataset } from '../../data/encode.js'
import { fitPreprocessing, type Preprocessing } from '../../data/preprocessing.js'
import { parseDatasetSchema, type DatasetSchema } from '../../data/schema.js'
import { cellExpr, describeColumns, describeFilter, formatOf, fromClause } from '../../data/source.js'
import { type OptionSpec, parseCommand, stringOption } from '../parse-args.js'

const OPTIONS: OptionSpec = {
  dataset: {
    type: 'string',
    description: 'dataset adapter: census, aliexpress, aliccp, aliccp-raw, kuairand, csv, parquet, synthetic',
    required: true,
  },
  path: {
    type: 'string',
    description: "the dataset folder (the one a config's data.dir names), or a file / glob for csv and parquet",
    required: true,
  },
  schema: {
    type: 'string',
    description:
      'csv / parquet: the dataset schema file (e.g. the schema.json datagen writes); kuairand: its options file',
  },
  json: {
    type: 'boolean',
    description: 'print the figures as JSON (train at the top level, every split under "splits")',
  },
}

interface SplitStats {
  files: string[]
  rows: number
  /** rows the schema's filter left out */
  filtered: number
  columns: number
  labelRates: Record<string, number>
  funnelViolations: number
  missing: Record<string, number>
}

async function splitStats(
  conn: DuckDBConnection,
  schema: DatasetSchema,
  prep: Preprocessing,
  files: string[],
): Promise<SplitStats> {
  const columns = await describeColumns(conn, schema, files)
  const missingSql = `SELECT ${columns.map((c, i) => `count_if(${cellExpr(schema, c.name, formatOf(schema, files))} IS NULL)::DOUBLE AS m${i}`).join(', ')} FROM ${fromClause(schema, files)}`
  const [missing] = await withDiagnosis(schema, files, () => queryObjects(conn, missingSql)) // a broken file is named with its line
  const ds = await encodeDataset(prep, files, { conn })
  const labels = ds.columns.labels
  const tasks = prep.tasks
  let violations = 0
  for (let i = 0; i < ds.rows; i++)
    for (let k = 1; k < tasks.length; k++)
      if (labels[tasks[k]][i] > labels[tasks[k - 1]][i]) {
        violations++
        break
      }
  return {
    files,
    rows: ds.rows,
    filtered: ds.report.filtered,
    columns: columns.length,
    labelRates: Object.fromEntries(tasks.map((t) => [t, labels[t].reduce((a, b) => a + b, 0) / Math.max(1, ds.rows)])),
    funnelViolations: violations,
    missing: Object.fromEntries(
      columns.map((c, i) => [c.name, Number(missing[`m${i}`])]).filter(([, v]) => Number(v) > 0),
    ),
  }
}

export async function run(argv: string[]): Promise<number> {
  const values = parseCommand('data stats', argv, OPTIONS, {
    synopsis: '--dataset NAME --path PATH [--schema FILE] [--json]',
    examples: [
      'data stats --dataset synthetic --path .cache/synthetic',
      "data stats --dataset parquet --path 'data/events/*.parquet' --schema data/events/schema.json --json",
    ],
  })
  if (!values) return 0
  const dataset = stringOption(values.dataset)!
  const { schema, splits } = await getAdapter(dataset).resolve(stringOption(values.path)!, stringOption(values.schema))
  const conn = await connect()
  // funnel: keep, so violations are counted rather than dropped
  const keep = parseDatasetSchema({ ...schema, funnel: 'keep' })
  const prep = await fitPreprocessing(keep, splits.train, { conn })
  const bySplit: Record<string, SplitStats> = {}
  const seen = new Set<string>()
  for (const [name, files] of [
    ['train', splits.train],
    ['val', splits.val],
    ['test', splits.test],
  ] as const) {
    const id = files.join('\n')
    if (files.length === 0 || seen.has(id)) continue // a split without files, or the same files listed twice
    seen.add(id)
    bySplit[name] = await splitStats(conn, keep, prep, files)
  }
  conn.closeSync()
  const train = bySplit.train
  const stats = {
    dataset,
    ...train,
    vocabularySizes: Object.fromEntries([...prep.sparse, ...prep.multi].map((f) => [f.name, f.vocab.length + 1])),
    splits: bySplit,
  }
  if (values.json) {
    console.log(JSON.stringify(stats, null, 2))
    return 0
  }
  console.log(
    `${stats.dataset}: ${train.columns} columns; vocabulary sizes (fitted on train): ${Object.entries(
      stats.vocabularySizes,
    )
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}`,
  )
  for (const [name, s] of Object.entries(bySplit)) {
    console.log(
      `${name}: ${s.rows} rows${s.filtered > 0 ? ` (${s.filtered} more left out by the filter: ${describeFilter(prep.schema)})` : ''} (${s.files.join(', ')})`,
    )
    for (const [t, r] of Object.entries(s.labelRates)) console.log(`  label ${t}: ${(100 * r).toFixed(2)}% positive`)
    console.log(`  funnel violations (later stage positive, earlier negative): ${s.funnelViolations}`)
    console.log(
      `  missing cells: ${
        Object.entries(s.missing)
          .map(([k, v]) => `${k} ${v}`)
          .join(', ') || 'none'
      }`,
    )
  }
  return 0
}
