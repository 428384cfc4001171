/**
 * `resflow datagen --out DIR --rows N --seed S [--tasks click,cart,purchase] [--split 0.8,0.1,0.1]`: synthetic funnel data.
 * `--width aliexpress [--ids 1000000]`: the AliExpress-like layout (16 categorical incl. a 1M-value id field, 63 numeric,
 * click → purchase), generated inside DuckDB in bounded memory at any row count (data/synth-wide.ts).
 */
import { ConfigError } from '../../errors.js'
import { generateSynthetic, syntheticTasksProblem } from '../../data/synth.js'
import { generateWideSynthetic } from '../../data/synth-wide.js'
import { type OptionSpec, parseCommand } from '../parse-args.js'

const OPTIONS = {
  out: {
    type: 'string',
    description: 'folder to write train.parquet, val.parquet, test.parquet and schema.json into',
    required: true,
  },
  rows: { type: 'string', description: 'rows in all, at least 100', default: '200000' },
  seed: { type: 'string', description: 'generator seed (the same seed writes the same files)', default: '1' },
  tasks: {
    type: 'string',
    description: 'funnel tasks in order, each a stage of the previous',
    default: 'click,purchase',
  },
  split: { type: 'string', description: 'train,val,test fractions of the rows', default: '0.8,0.1,0.1' },
  width: {
    type: 'string',
    description:
      'narrow (10 features, any tasks) or aliexpress (16 categorical incl. item_id, 63 numeric, click → purchase; bounded memory at any row count)',
    default: 'narrow',
  },
  ids: {
    type: 'string',
    description: 'with --width aliexpress: distinct values of the id field item_id',
    default: '1000000',
  },
} satisfies OptionSpec

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommand('datagen', argv, OPTIONS, {
    synopsis: '--out DIR [--rows N] [--seed S] [--tasks a,b,c] [--split f,f,f] [--width narrow|aliexpress] [--ids N]',
    examples: [
      'datagen --out data/synthetic',
      'datagen --out data/funnel3 --rows 50000 --tasks click,cart,purchase --split 0.7,0.15,0.15',
      'datagen --out data/wide20m --rows 20000000 --width aliexpress',
    ],
  })
  if (!parsed) return 0
  // every option is required or has a default, so each is a string here
  const values = parsed as Record<keyof typeof OPTIONS, string>
  const rows = Number(values.rows)
  if (!Number.isInteger(rows) || rows < 100)
    throw new ConfigError(`--rows: expected an integer ≥ 100, got "${values.rows}"`, { field: 'rows' })
  const seed = Number(values.seed)
  if (!Number.isInteger(seed))
    throw new ConfigError(`--seed: expected an integer, got "${values.seed}"`, { field: 'seed' })
  const tasks = values.tasks
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean)
  const problem = syntheticTasksProblem(tasks)
  if (problem) throw new ConfigError(`--tasks: ${problem}`, { field: 'tasks' })
  const split = values.split.split(',').map(Number)
  if (split.length !== 3 || split.some((f) => !(f > 0)) || Math.abs(split[0] + split[1] + split[2] - 1) > 1e-9) {
    throw new ConfigError(
      `--split: expected three positive train,val,test fractions adding up to 1, got "${values.split}"`,
      { field: 'split' },
    )
  }
  if (values.width !== 'narrow' && values.width !== 'aliexpress')
    throw new ConfigError(`--width: expected narrow or aliexpress, got "${values.width}"`, { field: 'width' })
  const ids = Number(values.ids)
  if (!Number.isInteger(ids) || ids < 2 || ids > 100_000_000)
    throw new ConfigError(`--ids: expected an integer from 2 to 100000000, got "${values.ids}"`, { field: 'ids' })
  if (values.width === 'aliexpress' && tasks.join(',') !== 'click,purchase')
    throw new ConfigError(`--tasks: --width aliexpress writes the tasks click,purchase only, got "${values.tasks}"`, {
      field: 'tasks',
    })
  const t0 = performance.now()
  const options = { outDir: values.out, rows, seed, split: split as [number, number, number] }
  const res =
    values.width === 'aliexpress'
      ? await generateWideSynthetic({ ...options, ids })
      : await generateSynthetic({ ...options, tasks })
  const rates = Object.entries(res.rates)
    .map(([k, v]) => `${k} ${(100 * v).toFixed(2)}%`)
    .join(', ')
  console.log(
    `wrote ${res.files.train} (${res.rows.train}), ${res.files.val} (${res.rows.val}), ${res.files.test} (${res.rows.test}) and ${res.schemaFile} in ${((performance.now() - t0) / 1000).toFixed(1)} s; positive rates: ${rates}`,
  )
  return 0
}
