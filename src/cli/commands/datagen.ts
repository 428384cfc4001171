/** `resflow datagen --out DIR --rows N --seed S [--tasks click,cart,purchase] [--split 0.8,0.1,0.1]`: synthetic funnel data. */
import { parseArgs } from 'node:util'
import { ConfigError } from '../../errors.js'
import { generateSynthetic, syntheticTasksProblem } from '../../data/synth.js'

export async function run(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { out: { type: 'string' }, rows: { type: 'string', default: '200000' }, seed: { type: 'string', default: '1' }, tasks: { type: 'string', default: 'click,purchase' }, split: { type: 'string', default: '0.8,0.1,0.1' } },
    strict: true,
  })
  if (!values.out) throw new ConfigError('--out: expected an output folder, got nothing (e.g. --out data/synthetic)', { field: 'out' })
  const rows = Number(values.rows)
  if (!Number.isInteger(rows) || rows < 100) throw new ConfigError(`--rows: expected an integer ≥ 100, got "${values.rows}"`, { field: 'rows' })
  const seed = Number(values.seed)
  if (!Number.isInteger(seed)) throw new ConfigError(`--seed: expected an integer, got "${values.seed}"`, { field: 'seed' })
  const tasks = values.tasks.split(',').map((t) => t.trim()).filter(Boolean)
  const problem = syntheticTasksProblem(tasks)
  if (problem) throw new ConfigError(`--tasks: ${problem}`, { field: 'tasks' })
  const split = values.split.split(',').map(Number)
  if (split.length !== 3 || split.some((f) => !(f > 0)) || Math.abs(split[0]! + split[1]! + split[2]! - 1) > 1e-9) {
    throw new ConfigError(`--split: expected three positive train,val,test fractions adding up to 1, got "${values.split}"`, { field: 'split' })
  }
  const t0 = performance.now()
  const res = await generateSynthetic({ outDir: values.out, rows, seed, tasks, split: split as [number, number, number] })
  const rates = Object.entries(res.rates).map(([k, v]) => `${k} ${(100 * v).toFixed(2)}%`).join(', ')
  console.log(`wrote ${res.files.train} (${res.rows.train}), ${res.files.val} (${res.rows.val}), ${res.files.test} (${res.rows.test}) and ${res.schemaFile} in ${((performance.now() - t0) / 1000).toFixed(1)} s; positive rates: ${rates}`)
  return 0
}
