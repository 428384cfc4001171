/**
 * Scoring: a session's predictions over a split, gathered into whole columns, and the MetricRecords
 * computed from them (the rows of results.json and `resflow eval --json`); and a saved run loaded back
 * from its directory to score any file with the preprocessing it was trained with.
 */
import type { Batch } from '../data/types.js'
import { type Fusion, fuse } from '../metrics/fusion.js'
import type { MetricRecord } from '../metrics/types.js'
import { computeAuc } from '../metrics/auc.js'
import { computeTaskMetrics } from '../metrics/evaluate.js'
import { encodeDataset } from '../data/encode.js'
import type { EncodeReport } from '../data/dataset.js'
import { type ResolvedDataPath, resolveDataPath } from '../data/adapters.js'
import { type LoadedRun, openRun } from '../run/open-run.js'
import type { RunManifest } from '../run/run-dir.js'
import { TrainSession } from './session.js'
import { loadSessionWeights } from './session-weights.js'

/** Whole-split columns: probabilities and labels per task, and the group id when the data has one. */
export interface Predictions {
  rows: number
  probs: Record<string, Float32Array>
  labels: Record<string, Float32Array>
  groups?: Float64Array
  /** [rows] each row's position in the read of the source (after the schema's filter); with EvaluateOptions.rowIndex */
  readRows?: Int32Array
}

/** Runs inference over every batch and concatenates the outputs. */
export async function collectPredictions(
  session: TrainSession,
  batches: AsyncIterable<Batch> | Iterable<Batch>,
): Promise<Predictions> {
  const tasks = session.model.tasks
  const probs: Record<string, Float32Array[]> = Object.fromEntries(tasks.map((t) => [t, []]))
  const labels: Record<string, Float32Array[]> = Object.fromEntries(tasks.map((t) => [t, []]))
  const groups: Float64Array[] = []
  let hasGroups = true
  let rows = 0
  for await (const batch of batches) {
    const p = await session.predict(batch)
    for (const t of tasks) {
      probs[t].push(p[t])
      labels[t].push(Float32Array.from(batch.labels[t]))
    }
    if (batch.group) groups.push(Float64Array.from(batch.group))
    else hasGroups = false
    rows += batch.size
  }
  const out: Predictions = {
    rows,
    probs: Object.fromEntries(tasks.map((t) => [t, concat(probs[t], Float32Array)])),
    labels: Object.fromEntries(tasks.map((t) => [t, concat(labels[t], Float32Array)])),
  }
  if (hasGroups && groups.length > 0) out.groups = concat(groups, Float64Array)
  return out
}

function concat<T extends Float32Array | Float64Array>(parts: T[], Ctor: { new (n: number): T }): T {
  const out = new Ctor(parts.reduce((n, p) => n + p.length, 0))
  let offset = 0
  for (const p of parts) {
    out.set(p, offset)
    offset += p.length
  }
  return out
}

export interface ScoreOptions {
  model: string
  seed: number
  split: string
  tasks: readonly string[]
  /** the run's fusion; adds task "fused" records */
  fusion?: Fusion | null
  /** cut-offs for ndcg@K / recall@K when the data has groups */
  ks?: number[]
}

/**
 * Every metric of every task, plus for the fused score its AUC against each task's labels
 * (metric "auc" is against the last task, the one fusion is searched for; "auc@click" etc. name the others).
 */
export function scorePredictions(pred: Predictions, options: ScoreOptions): MetricRecord[] {
  const { model, seed, split } = options
  const tasks = [...options.tasks]
  const records: MetricRecord[] = computeTaskMetrics({
    tasks,
    probs: pred.probs,
    labels: pred.labels,
    groups: pred.groups,
    ks: options.ks,
  }).map((m) => ({ model, seed, split, ...m }))
  if (options.fusion) {
    const score = fuse(options.fusion, pred.probs)
    const last = tasks[tasks.length - 1]
    records.push({ model, seed, split, task: 'fused', metric: 'auc', value: computeAuc(score, pred.labels[last]) })
    for (const task of tasks.slice(0, -1))
      records.push({
        model,
        seed,
        split,
        task: 'fused',
        metric: `auc@${task}`,
        value: computeAuc(score, pred.labels[task]),
      })
  }
  return records
}

/** A saved run ready to score: the run as opened, and a session holding its best weights. */
export interface ScoringRun extends LoadedRun {
  session: TrainSession
}

/** Opens a run (openRun: one checked snapshot of its files) and loads its weights into a session. */
export async function loadRun(runDir: string, options: { threads?: number } = {}): Promise<ScoringRun> {
  const run = openRun(runDir)
  const session = await TrainSession.create(run.model, { seed: run.manifest.seed, threads: options.threads })
  loadSessionWeights(session, run.weightsFile)
  return { ...run, session }
}

export interface EvaluateOptions {
  /**
   * When `path` is a dataset folder: the split to score (train, val or test; default test). Also the split
   * named in the records (default: the folder's split, else test), so a file can be labelled e.g. "holdout".
   */
  split?: string
  /** the dataset whose adapter finds a folder's split files (default: the run's dataset) */
  dataset?: string
  /** cache root for adapters that convert a raw layout first (aliccp-raw) */
  cacheDir?: string
  batchSize?: number
  ks?: number[]
  /** carry each prediction's source position (Predictions.readRows), to join source columns to the predictions */
  rowIndex?: boolean
}

/** The dataset name a run was trained on, from its manifest. */
export function runDatasetName(manifest: RunManifest): string | undefined {
  const name = (manifest.dataset as Record<string, unknown> | undefined)?.name
  return typeof name === 'string' ? name : undefined
}

/**
 * Encodes the data at `path` with the run's preprocessing and scores it: records and predictions. `path` is
 * a file, a glob, a dataset folder (one split of it, see `split`), or an already resolved `resolveDataPath` result.
 */
export async function evaluateRun(
  run: ScoringRun,
  path: string | ResolvedDataPath,
  options: EvaluateOptions = {},
): Promise<{ records: MetricRecord[]; predictions: Predictions; source: ResolvedDataPath; report: EncodeReport }> {
  const source =
    typeof path === 'string'
      ? await resolveDataPath(path, {
          dataset: options.dataset ?? runDatasetName(run.manifest),
          split: options.split,
          cacheDir: options.cacheDir,
        })
      : path
  const data = await encodeDataset(run.preprocessing, source.files, { rowIndex: options.rowIndex })
  // unshuffled batches: prediction i is encoded row i
  const predictions = await collectPredictions(run.session, data.batches(options.batchSize ?? 8192))
  if (data.columns.readRow) predictions.readRows = data.columns.readRow
  const split = source.split ?? options.split ?? 'test'
  const records = scorePredictions(predictions, {
    model: run.manifest.model,
    seed: run.manifest.seed,
    split,
    tasks: run.manifest.tasks,
    fusion: run.manifest.fusion,
    ks: options.ks,
  })
  return { records, predictions, source, report: data.report }
}
