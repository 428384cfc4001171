/**
 * `resflow predict --run RUN_DIR --dataset NAME --path PATH [--split NAME] [--keep COLS] --out FILE`: per-row
 * probabilities and the fused score, with chosen source columns (ids, labels) passed through row by row.
 */
import { createWriteStream } from 'node:fs'
import { once } from 'node:events'
import { connect, sqlIdent } from '../../data/duck.js'
import type { DatasetSchema } from '../../data/schema.js'
import { describeColumns, fromClause } from '../../data/source.js'
import { DataError } from '../../errors.js'
import { fuse } from '../../metrics/fusion.js'
import { evaluateRun, loadRun } from '../../train/evaluate.js'
import { type OptionSpec, parseCommand, stringOption } from '../parse-args.js'
import { SCORING_OPTIONS, describeSource, leftOut, scoringSource } from './eval.js'

const OPTIONS: OptionSpec = {
  ...SCORING_OPTIONS,
  split: { type: 'string', description: 'with a folder: the split to score, train / val / test (default test)' },
  keep: {
    type: 'string',
    description:
      "comma-separated columns of the input to copy into the output, after row (e.g. user_id,click), aligned with the predictions when the run's filter or bad-row handling leaves rows out",
  },
  out: {
    type: 'string',
    description: 'CSV to write: row, the --keep columns, p_<task> per task, fused (when the run has a fusion)',
    required: true,
  },
}

export async function run(argv: string[]): Promise<number> {
  const values = parseCommand('predict', argv, OPTIONS, {
    synopsis: '--run RUN_DIR --dataset NAME --path PATH [--split NAME] [--keep COLS] --out FILE',
    examples: [
      'predict --run runs/synthetic-resflow-s1 --dataset synthetic --path .cache/synthetic --split test --out scores.csv',
      'predict --run runs/synthetic-resflow-s1 --dataset synthetic --path .cache/synthetic/test.parquet --keep user_id,click --out scores.csv',
    ],
  })
  if (!values) return 0
  const { runDir, source } = await scoringSource(values)
  const keep =
    stringOption(values.keep)
      ?.split(',')
      .map((c) => c.trim())
      .filter((c) => c !== '') ?? []
  const loaded = await loadRun(runDir)
  const tasks = loaded.manifest.tasks
  const schema = loaded.preprocessing.schema
  const outColumns = ['row', ...tasks.map((t) => `p_${t}`), 'fused']
  const clash = keep.find((c) => outColumns.includes(c))
  if (clash)
    throw new DataError(`--keep: column "${clash}" has the name of an output column (${outColumns.join(', ')})`, {
      field: clash,
    })
  if (keep.length > 0) await checkKeep(schema, source.files, keep)
  const { predictions, report } = await evaluateRun(loaded, source, {
    split: 'predict',
    rowIndex: keep.length > 0,
  }).finally(() => loaded.session.release())
  const kept = keep.length > 0 ? await readKept(schema, source.files, keep, predictions.readRows!) : []
  const fused = loaded.manifest.fusion ? fuse(loaded.manifest.fusion, predictions.probs) : null
  const out = createWriteStream(stringOption(values.out)!)
  const write = async (text: string) => {
    if (!out.write(text)) await once(out, 'drain')
  }
  await write(
    ['row', ...keep.map(csvCell), ...tasks.map((t) => `p_${t}`), ...(fused ? ['fused'] : [])].join(',') + '\n',
  )
  let chunk = ''
  for (let i = 0; i < predictions.rows; i++) {
    chunk +=
      [
        i,
        ...kept.map((col) => col[i]),
        ...tasks.map((t) => predictions.probs[t][i].toPrecision(7)),
        ...(fused ? [fused[i].toPrecision(7)] : []),
      ].join(',') + '\n'
    if (chunk.length > 1 << 16) {
      await write(chunk)
      chunk = ''
    }
  }
  await write(chunk)
  out.end()
  await once(out, 'finish')
  console.error(
    `predict: ${predictions.rows} rows${leftOut(report, loaded.preprocessing.schema)} of ${describeSource(source)} → ${values.out}${fused ? ` (fused: ${loaded.manifest.fusion!.kind} ${JSON.stringify(loaded.manifest.fusion!.weights)})` : ''}`,
  )
  return 0
}

/** Fails, naming the column and listing the file's, when a --keep column is not in the input. */
async function checkKeep(schema: DatasetSchema, files: string[], keep: string[]): Promise<void> {
  const have = (await describeColumns(await connect(), schema, files)).map((c) => c.name)
  const missing = keep.find((c) => !have.includes(c))
  if (missing)
    throw new DataError(`--keep: ${files.join(', ')} has no column "${missing}" (columns: ${have.join(', ')})`, {
      file: files[0],
      field: missing,
    })
}

/**
 * The --keep columns of the rows at `readRows` (ascending positions in the filtered read, as the encoder
 * numbered them), each cell as CSV text. The same FROM clause as the encoder's, so the same rows in the same
 * order (DuckDB keeps insertion order); a NULL cell is written empty.
 */
async function readKept(
  schema: DatasetSchema,
  files: string[],
  keep: string[],
  readRows: Int32Array,
): Promise<string[][]> {
  const conn = await connect()
  const result = await conn.stream(
    `SELECT ${keep.map((c) => `CAST(${sqlIdent(c)} AS VARCHAR)`).join(', ')} FROM ${fromClause(schema, files)}`,
  )
  const out = keep.map(() => new Array<string>(readRows.length))
  let at = 0 // position in the read
  let next = 0 // next output row
  while (next < readRows.length) {
    const chunk = await result.fetchChunk()
    if (!chunk || chunk.rowCount === 0) break
    const cols = chunk.getColumns()
    for (let i = 0; i < chunk.rowCount && next < readRows.length; i++, at++) {
      if (readRows[next] !== at) continue
      cols.forEach((col, c) => {
        out[c][next] = col[i] === null ? '' : csvCell(String(col[i]))
      })
      next++
    }
  }
  if (next < readRows.length)
    throw new DataError(
      `${files.join(', ')}: --keep read ${at} rows, fewer than the encoder (row ${readRows[next]}); did the files change during predict?`,
      { file: files[0] },
    )
  return out
}

/** A CSV cell: quoted when it holds a comma, a quote or a line break. */
function csvCell(text: string): string {
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text
}
