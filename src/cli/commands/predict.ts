/** `resflow predict --run RUN_DIR --dataset NAME --path PATH [--split NAME] --out FILE`: per-row probabilities and the fused score. */
import { createWriteStream } from 'node:fs'
import { once } from 'node:events'
import { fuse } from '../../export/fusion.js'
import { resolveDataPath } from '../../data/adapters.js'
import { evaluateRun, loadRun } from '../../train/evaluate.js'
import { readManifest } from '../../train/run-dir.js'
import { type OptionSpec, helpText, parseOptions, stringOption } from '../parse-args.js'
import { checkDataset, describeSource, leftOut } from './eval.js'

const OPTIONS: OptionSpec = {
  run: { type: 'string', description: 'run directory written by train or compare', required: true },
  dataset: { type: 'string', description: 'the dataset the data belongs to (the run\'s dataset, or csv / parquet); its adapter finds a folder\'s split files', required: true },
  path: { type: 'string', description: 'file, glob, or dataset folder (the one a config\'s data.dir names) to score', required: true },
  split: { type: 'string', description: 'with a folder: the split to score, train / val / test (default test)' },
  out: { type: 'string', description: 'CSV to write: row, p_<task> per task, fused (when the run has a fusion)', required: true },
}

export async function run(argv: string[]): Promise<number> {
  const { values, help } = parseOptions('predict', argv, OPTIONS)
  if (help) {
    console.log(helpText('predict', '--run RUN_DIR --dataset NAME --path PATH [--split NAME] --out FILE', OPTIONS, ['predict --run runs/synthetic-resflow-s1 --dataset synthetic --path .cache/synthetic --split test --out scores.csv']))
    return 0
  }
  const runDir = stringOption(values.run)!
  const dataset = stringOption(values.dataset)!
  checkDataset(dataset, readManifest(runDir).dataset)
  const source = await resolveDataPath(stringOption(values.path)!, { dataset, split: stringOption(values.split), optionPrefix: '--' })
  const loaded = await loadRun(runDir)
  const { predictions, report } = await evaluateRun(loaded, source, { split: 'predict' }).finally(() => loaded.session.release())
  const tasks = loaded.manifest.tasks
  const fused = loaded.manifest.fusion ? fuse(loaded.manifest.fusion, predictions.probs) : null
  const out = createWriteStream(stringOption(values.out)!)
  const write = async (text: string) => {
    if (!out.write(text)) await once(out, 'drain')
  }
  await write(['row', ...tasks.map((t) => `p_${t}`), ...(fused ? ['fused'] : [])].join(',') + '\n')
  let chunk = ''
  for (let i = 0; i < predictions.rows; i++) {
    chunk += [i, ...tasks.map((t) => predictions.probs[t]![i]!.toPrecision(7)), ...(fused ? [fused[i]!.toPrecision(7)] : [])].join(',') + '\n'
    if (chunk.length > 1 << 16) {
      await write(chunk)
      chunk = ''
    }
  }
  await write(chunk)
  out.end()
  await once(out, 'finish')
  console.error(`predict: ${predictions.rows} rows${leftOut(report, loaded.preprocessing.schema)} of ${describeSource(source)} → ${values.out}${fused ? ` (fused: ${loaded.manifest.fusion!.kind} ${JSON.stringify(loaded.manifest.fusion!.weights)})` : ''}`)
  return 0
}
