/** `resflow data stats --dataset NAME --path PATH [--schema FILE] [--json]`: rows, label rates, funnel, vocabularies. */
import { parseArgs } from 'node:util'
import { ConfigError } from '../../errors.js'
import { getAdapter } from '../../data/adapters.js'
import { connect, queryObjects } from '../../data/duck.js'
import { encodeDataset } from '../../data/encode.js'
import { fitPreprocessing } from '../../data/preprocessing.js'
import { parseDatasetSchema } from '../../data/schema.js'
import { cellExpr, describeColumns, formatOf, fromClause } from '../../data/source.js'

export async function run(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { dataset: { type: 'string' }, path: { type: 'string' }, schema: { type: 'string' }, json: { type: 'boolean', default: false } }, strict: true })
  if (!values.dataset || !values.path) throw new ConfigError('expected --dataset NAME and --path PATH', { field: values.dataset ? 'path' : 'dataset' })
  const { schema, splits } = await getAdapter(values.dataset).resolve(values.path, values.schema)
  const conn = await connect()
  const columns = await describeColumns(conn, schema, splits.train)
  const [missing] = await queryObjects(conn, `SELECT ${columns.map((c, i) => `count_if(${cellExpr(schema, c.name, formatOf(schema, splits.train))} IS NULL)::DOUBLE AS m${i}`).join(', ')} FROM ${fromClause(schema, splits.train)}`)
  const prep = await fitPreprocessing(parseDatasetSchema({ ...schema, funnel: 'keep' }), splits.train, { conn })
  const ds = await encodeDataset(prep, splits.train, { conn })
  const labels = ds.columns.labels
  const tasks = prep.tasks
  let violations = 0
  for (let i = 0; i < ds.rows; i++) for (let k = 1; k < tasks.length; k++) if (labels[tasks[k]][i] > labels[tasks[k - 1]][i]) { violations++; break }
  const stats = {
    dataset: values.dataset,
    files: splits.train,
    rows: ds.rows,
    columns: columns.length,
    labelRates: Object.fromEntries(tasks.map((t) => [t, labels[t].reduce((a, b) => a + b, 0) / Math.max(1, ds.rows)])),
    funnelViolations: violations,
    missing: Object.fromEntries(columns.map((c, i) => [c.name, Number(missing[`m${i}`])]).filter(([, v]) => Number(v) > 0)),
    vocabularySizes: Object.fromEntries([...prep.sparse, ...prep.multi].map((f) => [f.name, f.vocab.length + 1])),
  }
  conn.closeSync()
  if (values.json) {
    console.log(JSON.stringify(stats, null, 2))
    return 0
  }
  console.log(`${stats.dataset}: ${stats.rows} rows, ${stats.columns} columns (${stats.files.join(', ')})`)
  for (const [t, r] of Object.entries(stats.labelRates)) console.log(`  label ${t}: ${(100 * r).toFixed(2)}% positive`)
  console.log(`  funnel violations (later stage positive, earlier negative): ${violations}`)
  console.log(`  missing cells: ${Object.entries(stats.missing).map(([k, v]) => `${k} ${v}`).join(', ') || 'none'}`)
  console.log(`  vocabulary sizes: ${Object.entries(stats.vocabularySizes).map(([k, v]) => `${k} ${v}`).join(', ')}`)
  return 0
}
