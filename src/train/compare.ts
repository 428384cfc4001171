/**
 * `compare`: every model with every seed (and every value of one swept setting) trained on the same
 * splits, scored on validation and test, written as results.json (flat MetricRecords), results.md
 * (mean ± std over seeds) and report.html (table, curves, ROC, calibration, fusion sweep).
 *
 *   OUT/runs/<model>[-<sweep value>]/seed-<s>/   one run directory per training (eval/export/serve read it)
 *   OUT/results.json  OUT/results.md  OUT/report.html  OUT/report.json (the ReportData, to re-render)
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { computeCalibrationBins } from '../metrics/calibration.js'
import { computeRocCurve } from '../metrics/auc.js'
import type { MetricRecord } from '../metrics/types.js'
import type { Batch } from '../data/types.js'
import { BAYES_MODEL } from '../report/summary.js'
import type { ReportData, RunReport } from '../report/types.js'
import { renderReport } from '../report/html.js'
import { renderResultsMarkdown } from '../report/markdown.js'
import { type Predictions, collectPredictions, scorePredictions } from './evaluate.js'
import type { Experiment } from '../config/experiment.js'
import { withSetting } from './experiment.js'
import { type PreparedData, prepareData } from './prepare.js'
import { type Progress, silentProgress } from './progress.js'
import { trainRun } from './train-run.js'

export interface CompareOptions {
  models: string[]
  /** seeds experiment.seed, experiment.seed + 1, ... */
  seeds: number
  outDir: string
  /** trainings run at once (default experiment.compare.parallel) */
  parallel?: number
  log?: (line: string) => void
  /** a progress reporter per training, e.g. labelled "mmoe seed 2" */
  progress?: (label: string) => Progress
  /** the command line, shown in the report */
  command?: string
}

export interface CompareResult {
  records: MetricRecord[]
  report: ReportData
  files: { json: string; markdown: string; html: string }
  /** wall time of the whole comparison */
  seconds: number
}

interface Job {
  label: string
  model: string
  seed: number
  experiment: Experiment
  dataKey: string
  runDir: string
}

export async function runCompare(e: Experiment, options: CompareOptions): Promise<CompareResult> {
  const t0 = performance.now()
  const log = options.log ?? (() => {})
  const sweep = e.compare.sweep
  const points = sweep
    ? sweep.values.map((v) => {
        let experiment = withSetting(e, sweep.field, v)
        // generated data swept: each value generates into its own folder, so runs keep pointing at their data
        if (sweep.field.startsWith('data.generate.') && experiment.data.dir)
          experiment = {
            ...experiment,
            data: { ...experiment.data, dir: `${experiment.data.dir}-${slug(formatValue(v))}` },
          }
        return {
          suffix: ` ${sweep.label ?? sweep.field.split('.').pop()}=${formatValue(v)}`,
          dir: `-${slug(formatValue(v))}`,
          experiment,
        }
      })
    : [{ suffix: '', dir: '', experiment: e }]
  const jobs: Job[] = []
  for (const point of points) {
    for (const model of options.models) {
      for (let i = 0; i < options.seeds; i++) {
        const seed = e.seed + i
        jobs.push({
          label: `${model}${point.suffix}`,
          model,
          seed,
          experiment: point.experiment,
          dataKey: JSON.stringify(point.experiment.data),
          runDir: join(options.outDir, 'runs', `${model}${point.dir}`, `seed-${seed}`),
        })
      }
    }
  }

  // the same splits for every model: data prepared once per distinct data section
  const data = new Map<string, PreparedData>()
  for (const job of jobs)
    if (!data.has(job.dataKey)) data.set(job.dataKey, await prepareData(job.experiment.data, log, e.file))

  const records: MetricRecord[] = []
  const runs: RunReport[] = new Array(jobs.length)
  const perJob: MetricRecord[][] = new Array(jobs.length)
  let done = 0
  await pool(jobs.length, options.parallel ?? e.compare.parallel, async (j) => {
    const job = jobs[j]
    const d = data.get(job.dataKey)!
    const progress = options.progress?.(`${job.label} seed ${job.seed}`) ?? silentProgress
    const run = await trainRun(job.experiment, d, { model: job.model, seed: job.seed, runDir: job.runDir, progress })
    const tasks = run.model.tasks
    const score = (pred: Predictions, split: string) =>
      scorePredictions(pred, { model: job.label, seed: job.seed, split, tasks, fusion: run.manifest.fusion })
    const out = score(run.fit.val, 'val')
    const testBatches = d.testBatches(job.experiment.evalBatchSize)
    const test = testBatches ? await collectPredictions(run.session, testBatches) : null
    if (test) out.push(...score(test, 'test'))
    const cost = (metric: string, value: number) => ({
      model: job.label,
      seed: job.seed,
      split: 'train',
      task: 'all',
      metric,
      value,
    })
    out.push(
      cost('rows_per_s', run.fit.samplesPerSecond),
      cost('seconds', run.seconds),
      cost('epochs', run.fit.history.length),
      cost('best_epoch', run.fit.best.epoch),
      cost('parameters', run.manifest.training!.parameterCount),
    )
    perJob[j] = out
    const shown = test ?? run.fit.val
    const first = job.seed === e.seed // curves of the first seed only keep the report small
    runs[j] = {
      model: job.label,
      seed: job.seed,
      history: run.fit.history.map((h) => ({
        epoch: h.epoch,
        trainLoss: h.trainLoss,
        valLoss: h.valLoss,
        valAuc: h.valAuc,
      })),
      ...(first
        ? {
            roc: Object.fromEntries(
              tasks.map((t) => [t, pick(computeRocCurve(shown.probs[t], shown.labels[t], { maxPoints: 100 }))]),
            ),
          }
        : {}),
      ...(first
        ? {
            calibration: Object.fromEntries(
              tasks.map((t) => [t, computeCalibrationBins(shown.probs[t], shown.labels[t])]),
            ),
          }
        : {}),
      ...(first && run.fusion
        ? {
            fusion: {
              kind: run.fusion.fusion.kind,
              objective: run.fusion.objective,
              sweep: run.fusion.sweep.map((p) => ({ weights: p.weights, value: p.value })),
              chosen: run.fusion.fusion.weights,
            },
          }
        : {}),
    }
    await run.session.release()
    done++
    const aucs = out
      .filter((r) => r.split === (test ? 'test' : 'val') && r.metric === 'auc')
      .map((r) => `${r.task} ${r.value.toFixed(4)}`)
      .join(', ')
    log(
      `[${done}/${jobs.length}] ${job.label} seed ${job.seed}: ${test ? 'test' : 'val'} AUC ${aucs} (best epoch ${run.fit.best.epoch}/${run.fit.history.length}, ${run.seconds.toFixed(1)}s) → ${job.runDir}`,
    )
  })
  for (const r of perJob) records.push(...r)
  // the ceiling: the generator's true probabilities, where the data carries them (resflow datagen's p_<task>)
  for (const [key, d] of data) {
    const experiment = jobs.find((j) => j.dataKey === key)!.experiment
    const label =
      data.size > 1
        ? `${BAYES_MODEL}${points.find((p) => JSON.stringify(p.experiment.data) === key)?.suffix ?? ''}`
        : BAYES_MODEL
    for (const [split, batches] of [
      ['val', d.valBatches(experiment.evalBatchSize)],
      ['test', d.testBatches(experiment.evalBatchSize)],
    ] as const) {
      const truth = batches ? trueProbabilities(batches, d.spec.tasks) : null
      if (truth)
        records.push(
          ...scorePredictions(truth, { model: label, seed: e.seed, split, tasks: d.spec.tasks, fusion: null }),
        )
    }
  }
  const overfit = overfitNotes(runs)
  for (const note of overfit) log(note)

  // funnel order: the longest chain first, then any task the others add
  const tasks = [
    ...new Set(
      [...data.values()]
        .map((d) => d.spec.tasks)
        .sort((a, b) => b.length - a.length)
        .flat(),
    ),
  ]
  const first = [...data.values()][0]
  const report: ReportData = {
    title: `resflow compare: ${e.name}`,
    notes: [
      `config ${e.file}${options.command ? `; command: ${options.command}` : ''}`,
      `${options.models.join(', ')} × ${options.seeds} seed(s)${sweep ? ` × ${sweep.field} ∈ {${sweep.values.map(formatValue).join(', ')}}` : ''}; ${new Date().toISOString().slice(0, 19)}Z`,
      `data ${e.data.dataset}: ${first.rows.train} train / ${first.rows.val} val / ${first.rows.test} test rows; ROC and calibration on the ${first.rows.test > 0 ? 'test' : 'validation'} split, first seed`,
      ...(records.some((r) => r.model.startsWith(BAYES_MODEL))
        ? [
            `"${BAYES_MODEL}": the generator's true probabilities scored on the same rows, the best AUC any model can reach`,
          ]
        : []),
      ...overfit,
    ],
    tasks,
    records,
    runs,
  }
  mkdirSync(options.outDir, { recursive: true })
  const files = {
    json: join(options.outDir, 'results.json'),
    markdown: join(options.outDir, 'results.md'),
    html: join(options.outDir, 'report.html'),
  }
  writeFileSync(files.json, JSON.stringify(records, null, 1) + '\n')
  writeFileSync(files.markdown, renderResultsMarkdown(records, report.title))
  writeFileSync(files.html, renderReport(report))
  writeFileSync(join(options.outDir, 'report.json'), JSON.stringify(report) + '\n')
  return { records, report, files, seconds: (performance.now() - t0) / 1000 }
}

/**
 * The true probabilities of a generated funnel (columns p_<task>) with the labels, or null when the data
 * does not carry them for every task.
 */
export function trueProbabilities(batches: Iterable<Batch>, tasks: readonly string[]): Predictions | null {
  const probs: Record<string, number[]> = Object.fromEntries(tasks.map((t) => [t, []]))
  const labels: Record<string, number[]> = Object.fromEntries(tasks.map((t) => [t, []]))
  let rows = 0
  for (const b of batches) {
    for (const t of tasks) {
      const p = b.extra?.[`p_${t}`]
      if (!p) return null
      for (let i = 0; i < b.size; i++) probs[t].push(p[i])
      for (let i = 0; i < b.size; i++) labels[t].push(b.labels[t][i])
    }
    rows += b.size
  }
  if (rows === 0) return null
  const f32 = (r: Record<string, number[]>) =>
    Object.fromEntries(Object.entries(r).map(([k, v]) => [k, Float32Array.from(v)]))
  return { rows, probs: f32(probs), labels: f32(labels) }
}

/**
 * A line for every model whose validation mean AUC peaked at its first epoch and then fell: ID-embedding
 * models often overfit after one pass over the data, and early stopping keeps the first epoch's weights.
 */
export function overfitNotes(runs: readonly RunReport[]): string[] {
  const notes: string[] = []
  for (const model of [...new Set(runs.map((r) => r.model))]) {
    const hit = runs
      .filter((r) => r.model === model && r.history.length > 1)
      .map((r) => {
        const mean = (h: RunReport['history'][number]) => {
          const v = Object.values(h.valAuc)
          return v.reduce((a, b) => a + b, 0) / v.length
        }
        const curve = r.history.map(mean)
        const best = curve.indexOf(Math.max(...curve))
        return { seed: r.seed, best, first: curve[0], last: curve[curve.length - 1], epochs: curve.length }
      })
      .filter((x) => x.best === 0 && x.last < x.first)
    if (hit.length === 0) continue
    const seedsOf = runs.filter((r) => r.model === model).length
    const w = hit[0]
    notes.push(
      `${model}: overfits from the first epoch in ${hit.length} of ${seedsOf} seed(s): validation mean AUC peaked at epoch 1 ` +
        `(seed ${w.seed}: ${w.first.toFixed(4)}) and fell to ${w.last.toFixed(4)} by epoch ${w.epochs}; early stopping kept epoch 1's weights`,
    )
  }
  return notes
}

/** Runs `count` tasks, at most `width` at a time; the first error stops new tasks and is rethrown. */
async function pool(count: number, width: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0
  let failed: unknown = null
  const worker = async () => {
    while (next < count && failed === null) {
      const i = next++
      try {
        await task(i)
      } catch (err) {
        failed ??= err
      }
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, Math.min(width, count)) }, worker))
  if (failed !== null) throw failed
}

function pick(roc: { fpr: number[]; tpr: number[]; auc: number }) {
  return { fpr: roc.fpr, tpr: roc.tpr, auc: roc.auc }
}

function formatValue(v: unknown): string {
  if (Array.isArray(v)) return v.map(formatValue).join('→')
  return typeof v === 'string' ? v : JSON.stringify(v)
}

function slug(s: string): string {
  return s.replace(/→/g, '-').replace(/[^A-Za-z0-9_.-]+/g, '_')
}
