/**
 * `npm run bench:census`: resflow and the PyTorch reference (bench/pytorch/census.py) on UCI
 * Census-Income, the same models, features, splits and hyper-parameters (configs/census.yaml), side by
 * side: test AUC per task (mean ± std over seeds) and training samples/s (training steps only).
 *
 *   npm run bench:census -- [--models resflow,nse,...] [--seeds 1,2,3] [--pytorch run|FILE.jsonl|skip] [--out FILE.jsonl]
 *   npm run bench:census -- --from A.jsonl,B.jsonl [--models ...] [--seeds ...]   (no training: the table of earlier --out lines)
 *
 * --pytorch run (default) runs census.py for every model and seed, one after the other with resflow's
 * runs (never at the same time, so neither slows the other); FILE.jsonl reads earlier census.py lines
 * (e.g. bench/pytorch/results/census_threads1.jsonl). Targets (issue 6): every model's mean AUC within
 * 0.003 of PyTorch's per task, and resflow's samples/s at least PyTorch's.
 */
import { spawnSync } from 'node:child_process'
import { appendFileSync, existsSync, mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { computeAuc } from '../src/metrics/auc.js'
import { collectPredictions } from '../src/train/evaluate.js'
import { loadExperiment } from '../src/train/experiment.js'
import { prepareData } from '../src/train/prepare.js'
import { trainRun } from '../src/train/train-run.js'
import { meanStd } from './stats.js'

const root = fileURLToPath(new URL('..', import.meta.url))
const { values } = parseArgs({
  options: {
    models: { type: 'string' },
    seeds: { type: 'string', default: '1,2,3' },
    pytorch: { type: 'string', default: 'run' },
    out: { type: 'string' },
    config: { type: 'string', default: join(root, 'configs/census.yaml') },
    from: { type: 'string' },
  },
})

interface Result {
  side: 'resflow' | 'pytorch'
  model: string
  seed: number
  auc: Record<string, number>
  samplesPerSecond: number
  epochs: number
  bestEpoch: number
}

const experiment = loadExperiment(values.config)
const models = values.models ? values.models.split(',') : Object.keys(experiment.compare.models)
const seeds = values.seeds.split(',').map(Number)
const tasks = ['income', 'marital']
const results: Result[] = []
const record = (r: Result) => {
  results.push(r)
  if (values.out) appendFileSync(values.out, JSON.stringify(r) + '\n')
  console.error(
    `${r.side.padEnd(7)} ${r.model.padEnd(13)} seed ${r.seed}: test AUC income ${r.auc.income.toFixed(4)} marital ${r.auc.marital.toFixed(4)}, ${r.samplesPerSecond.toFixed(0)} samples/s, best epoch ${r.bestEpoch}/${r.epochs}`,
  )
}

if (values.from) {
  // the table of result lines written by --out (both sides), filtered by --models and, if given, --seeds
  // lines of --out (with `side`), or census.py's own JSON lines (PyTorch)
  const parse = (l: string) => {
    const j = JSON.parse(l) as Result & Parameters<typeof fromPytorch>[0]
    return j.side ? (j as Result) : fromPytorch(j)
  }
  const lines = values.from.split(',').flatMap((f) => readFileSync(f, 'utf8').trim().split('\n').map(parse))
  const wanted = (r: Result) =>
    models.includes(r.model) && (process.argv.some((a) => a.startsWith('--seeds')) ? seeds.includes(r.seed) : true)
  // the last line of a (side, model, seed) wins: a re-run replaces an earlier one
  const latest = new Map(lines.filter(wanted).map((r) => [`${r.side}/${r.model}/${r.seed}`, r]))
  console.log(formatTable([...latest.values()].sort((a, b) => a.seed - b.seed)))
  console.log(`\ncommand: npm run bench:census -- ${process.argv.slice(2).join(' ')}`.trimEnd())
  process.exit(0)
}

const pytorchLines = values.pytorch !== 'run' && values.pytorch !== 'skip' ? readPytorchLines(values.pytorch) : null
const data = await prepareData(experiment.data, (line) => console.error(line), experiment.file)
const runs = mkdtempSync(join(tmpdir(), 'resflow-census-'))
for (const model of models) {
  for (const seed of seeds) {
    const run = await trainRun(experiment, data, { model, seed, runDir: join(runs, `${model}-${seed}`) })
    const test = await collectPredictions(run.session, data.testBatches(experiment.evalBatchSize)!)
    await run.session.release()
    record({
      side: 'resflow',
      model,
      seed,
      auc: Object.fromEntries(tasks.map((t) => [t, computeAuc(test.probs[t], test.labels[t])])),
      samplesPerSecond: run.fit.samplesPerSecond,
      epochs: run.fit.history.length,
      bestEpoch: run.fit.best.epoch,
    })
    if (values.pytorch === 'run') record(runPytorch(model, seed))
    else if (pytorchLines) {
      const line = pytorchLines.find((l) => l.model === model && l.seed === seed)
      if (line) results.push(line)
    }
  }
}
console.log(formatTable(results))
console.log(`\ncommand: npm run bench:census -- ${process.argv.slice(2).join(' ')}`.trimEnd())

function runPytorch(model: string, seed: number): Result {
  const python = ['/usr/bin/python3', 'python3'].find((p) => (p.startsWith('/') ? existsSync(p) : true))!
  const args = [
    join(root, 'bench/pytorch/census.py'),
    '--model',
    model,
    '--seed',
    String(seed),
    '--threads',
    '1',
    '--json',
  ]
  const p = spawnSync(python, args, {
    env: { ...process.env, OMP_WAIT_POLICY: 'PASSIVE' },
    encoding: 'utf8',
    maxBuffer: 1 << 26,
  })
  if (p.status !== 0) throw new Error(`${python} ${args.join(' ')} failed (exit ${p.status}):\n${p.stderr}`)
  const last = p.stdout.trim().split('\n').pop()!
  return fromPytorch(JSON.parse(last))
}

function readPytorchLines(file: string): Result[] {
  return readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .map((l) => fromPytorch(JSON.parse(l)))
}

function fromPytorch(j: {
  model: string
  seed: number
  auc: Record<string, number>
  samples_per_s: number
  epochs: number
  best_epoch: number
}): Result {
  return {
    side: 'pytorch',
    model: j.model,
    seed: j.seed,
    auc: j.auc,
    samplesPerSecond: j.samples_per_s,
    epochs: j.epochs,
    bestEpoch: j.best_epoch,
  }
}

/** 1,2,3,5 → "1–3,5" */
function seedRanges(seeds: number[]): string {
  const out: string[] = []
  for (let i = 0; i < seeds.length; i++) {
    let j = i
    while (j + 1 < seeds.length && seeds[j + 1] === seeds[j] + 1) j++
    out.push(j - i >= 2 ? `${seeds[i]}–${seeds[j]}` : seeds.slice(i, j + 1).join(','))
    i = j
  }
  return out.join(',')
}

function formatTable(rs: Result[]): string {
  const head = [
    'model',
    'seeds',
    ...tasks.flatMap((t) => [`${t} resflow`, `${t} pytorch`, 'Δ']),
    'samples/s resflow',
    'samples/s pytorch',
    'ratio',
  ]
  const rows = models.map((model) => {
    const ours = rs.filter((r) => r.side === 'resflow' && r.model === model)
    const theirs = rs.filter((r) => r.side === 'pytorch' && r.model === model)
    const cells = [model, seedRanges(ours.map((r) => r.seed))]
    for (const t of tasks) {
      const a = meanStd(ours.map((r) => r.auc[t]))
      const b = theirs.length ? meanStd(theirs.map((r) => r.auc[t])) : null
      const fmt = (m: { mean: number; std: number }) =>
        Number.isFinite(m.std) ? `${m.mean.toFixed(4)} ± ${m.std.toFixed(4)}` : m.mean.toFixed(4) // one seed: no std
      // the difference of the means with its standard error (the seeds of the two sides are independent)
      const se = b ? Math.sqrt(a.std ** 2 / ours.length + b.std ** 2 / theirs.length) : NaN
      const delta = b
        ? `${a.mean - b.mean >= 0 ? '+' : ''}${(a.mean - b.mean).toFixed(4)}${Number.isFinite(se) ? ` (SE ${se.toFixed(4)})` : ''}`
        : '—'
      cells.push(fmt(a), b ? fmt(b) : '—', delta)
    }
    const sa = meanStd(ours.map((r) => r.samplesPerSecond)).mean
    const sb = theirs.length ? meanStd(theirs.map((r) => r.samplesPerSecond)).mean : NaN
    cells.push(
      sa.toFixed(0),
      Number.isFinite(sb) ? sb.toFixed(0) : '—',
      Number.isFinite(sb) ? (sa / sb).toFixed(2) : '—',
    )
    return cells
  })
  const lines = [head, head.map(() => '---'), ...rows].map((r) => `| ${r.join(' | ')} |`)
  return [
    'test AUC (mean ± std over seeds; Δ = resflow − pytorch, with the standard error of that difference) and training samples/s (mean), census-income, threads 1',
    '',
    ...lines,
  ].join('\n')
}
