/**
 * Score fusion: one ranking score from the per-task probabilities of a funnel (click → purchase).
 *
 *   additive        s = Σ_k w_k · p_k
 *   multiplicative  s = Π_k p_k^{a_k}        (a_k = 0 drops task k; unit exponents give the plain product)
 *
 * Weights are searched on validation data over a grid (`searchFusionWeights`) and the chosen `Fusion`
 * is stored in the run as JSON, so serving applies exactly the weights evaluation picked. Ranking by s
 * is unchanged by scaling all w_k (additive) or all a_k (multiplicative, via log s) by one positive
 * factor, so the first task's weight is fixed to 1 and only the others are searched.
 */
import { z } from 'zod'
import { FUSION_KINDS } from '../config/experiment.js'
import { configErrorOf } from '../config/load.js'
import { ConfigError, DataError } from '../errors.js'
import { computeAuc } from './auc.js'
import type { Labels, Scores } from './types.js'

export { FUSION_KINDS }
export type FusionKind = (typeof FUSION_KINDS)[number]

/** The stored form of a fusion, e.g. `{"kind":"additive","weights":{"click":1,"purchase":8}}`. */
export const FusionSchema = z.strictObject({
  kind: z.enum(FUSION_KINDS),
  weights: z.record(z.string(), z.number()),
})
export type Fusion = z.infer<typeof FusionSchema>

/** Validates a fusion read from JSON; `file` names the source in errors. */
export function parseFusion(value: unknown, file?: string): Fusion {
  const parsed = FusionSchema.safeParse(value)
  if (parsed.success) return parsed.data
  throw configErrorOf(parsed.error, value, FusionSchema, {
    where: file,
    root: 'fusion',
    hint: `(expected {kind: ${FUSION_KINDS.join(' | ')}, weights: {task: number}})`,
  })
}

/** The fused score per row, [B]. Every task named in `fusion.weights` must be in `probs`. */
export function applyFusion(fusion: Fusion, probs: Record<string, Scores>): Float32Array {
  return Float32Array.from(fuse(fusion, probs))
}

/** As applyFusion, in float64 (a product of small probabilities can underflow float32). */
export function fuse(fusion: Fusion, probs: Record<string, Scores>, out?: Float64Array): Float64Array {
  const terms = Object.entries(fusion.weights).map(([task, weight]) => {
    const column = probs[task]
    if (!column)
      throw new DataError(
        `applyFusion: probs: missing task "${task}" named in the fusion weights (have: ${Object.keys(probs).join(', ')})`,
        { field: `probs.${task}` },
      )
    if (!Number.isFinite(weight))
      throw new ConfigError(`applyFusion: weights.${task}: expected a finite number, got ${weight}`, {
        field: `weights.${task}`,
      })
    return { task, weight, column }
  })
  if (terms.length === 0)
    throw new ConfigError('applyFusion: weights: expected at least one task, got none', { field: 'weights' })
  const rows = terms[0].column.length
  for (const t of terms) {
    if (t.column.length !== rows)
      throw new DataError(
        `applyFusion: probs.${t.task}: expected ${rows} rows like probs.${terms[0].task}, got ${t.column.length}`,
        { field: `probs.${t.task}` },
      )
  }
  const s = out ?? new Float64Array(rows)
  if (fusion.kind === 'additive') {
    s.fill(0)
    for (const { weight, column } of terms) for (let i = 0; i < rows; i++) s[i] += weight * column[i]
  } else {
    s.fill(1)
    for (const { weight, column } of terms) {
      if (weight === 0) continue // p^0 = 1, also for p = 0
      for (let i = 0; i < rows; i++) s[i] *= column[i] ** weight
    }
  }
  return s
}

/** What the search maximises: one task's AUC of the fused score (default: the last task), or the mean over tasks. */
export type FusionObjective = { kind: 'task-auc'; task: string } | { kind: 'mean-auc'; tasks?: string[] }

export interface FusionSearchOptions {
  kind: FusionKind
  /** task names in funnel order; default Object.keys(probs). The first gets weight 1. */
  tasks?: string[]
  /** default: AUC of the last task in the funnel (e.g. purchase) */
  objective?: FusionObjective
  /** values tried for each weight after the first; default DEFAULT_FUSION_GRID[kind] */
  grid?: number[]
}

/**
 * Default grids. Later funnel tasks have much smaller probabilities (purchase ≈ click / 10), so the
 * additive weights span powers of two up to 64 to let them matter; exponents stay near 1.
 */
export const DEFAULT_FUSION_GRID: Record<FusionKind, number[]> = {
  additive: [0, 0.25, 0.5, 1, 2, 4, 8, 16, 32, 64],
  multiplicative: [0, 0.25, 0.5, 1, 1.5, 2, 3, 4],
}

/** Above this many weight combinations the search refuses (the grid grows as |grid|^(tasks − 1)). */
export const MAX_FUSION_COMBINATIONS = 10_000

export interface FusionSweepPoint {
  weights: Record<string, number>
  /** the objective for these weights */
  value: number
  /** AUC of the fused score against each objective task's labels */
  auc: Record<string, number>
}

export interface FusionSearchResult {
  fusion: Fusion
  value: number
  /** readable objective, e.g. "auc(purchase)" or "mean auc(click, purchase)" */
  objective: string
  /** every combination tried, in grid order (the last task's weight varies fastest) */
  sweep: FusionSweepPoint[]
}

/**
 * Tries every grid combination on validation data and keeps the best; on equal objective values the
 * first in grid order wins, so the result is deterministic.
 */
export function searchFusionWeights(
  probs: Record<string, Scores>,
  labels: Record<string, Labels>,
  options: FusionSearchOptions,
): FusionSearchResult {
  const tasks = options.tasks ?? Object.keys(probs)
  if (!(FUSION_KINDS as readonly string[]).includes(options.kind)) {
    throw new ConfigError(
      `searchFusionWeights: kind: unknown fusion "${options.kind}" (allowed: ${FUSION_KINDS.join(', ')})`,
      { field: 'kind' },
    )
  }
  if (tasks.length < 2)
    throw new ConfigError(`searchFusionWeights: tasks: expected at least 2 tasks to fuse, got [${tasks.join(', ')}]`, {
      field: 'tasks',
    })
  const objective = options.objective ?? { kind: 'task-auc', task: tasks[tasks.length - 1] }
  const targets = objective.kind === 'task-auc' ? [objective.task] : (objective.tasks ?? tasks)
  for (const task of targets) {
    const y = labels[task]
    if (!y)
      throw new DataError(
        `searchFusionWeights: labels: missing objective task "${task}" (have: ${Object.keys(labels).join(', ')})`,
        { field: `labels.${task}` },
      )
    let positives = 0
    for (let i = 0; i < y.length; i++) positives += y[i]
    if (positives === 0 || positives === y.length) {
      throw new DataError(
        `searchFusionWeights: labels.${task}: AUC is undefined, all ${y.length} labels are ${positives === 0 ? 0 : 1} (hint: use a larger validation split or another objective task)`,
        { field: `labels.${task}` },
      )
    }
  }
  const grid = options.grid ?? DEFAULT_FUSION_GRID[options.kind]
  if (grid.length === 0 || grid.some((w) => !Number.isFinite(w))) {
    throw new ConfigError(
      `searchFusionWeights: grid: expected a non-empty list of finite numbers, got [${grid.join(', ')}]`,
      { field: 'grid' },
    )
  }
  const combinations = grid.length ** (tasks.length - 1)
  if (combinations > MAX_FUSION_COMBINATIONS) {
    throw new ConfigError(
      `searchFusionWeights: grid: ${grid.length} values for ${tasks.length - 1} weights make ${combinations} combinations, over the limit of ${MAX_FUSION_COMBINATIONS} (hint: use a shorter grid)`,
      { field: 'grid' },
    )
  }
  const name = objective.kind === 'task-auc' ? `auc(${objective.task})` : `mean auc(${targets.join(', ')})`
  const rows = probs[tasks[0]]?.length ?? 0
  const buffer = new Float64Array(rows)
  const sweep: FusionSweepPoint[] = []
  let best: FusionSweepPoint | undefined
  for (let c = 0; c < combinations; c++) {
    const weights: Record<string, number> = { [tasks[0]]: 1 }
    let rest = c
    for (let t = tasks.length - 1; t >= 1; t--) {
      weights[tasks[t]] = grid[rest % grid.length]
      rest = Math.floor(rest / grid.length)
    }
    const ordered = Object.fromEntries(tasks.map((task) => [task, weights[task]]))
    const score = fuse({ kind: options.kind, weights: ordered }, probs, buffer)
    const auc: Record<string, number> = {}
    for (const task of targets) auc[task] = computeAuc(score, labels[task])
    const value = targets.reduce((sum, task) => sum + auc[task], 0) / targets.length
    const point = { weights: ordered, value, auc }
    sweep.push(point)
    if (!best || value > best.value) best = point
  }
  const chosen = best as FusionSweepPoint // combinations ≥ 1, and every objective is a number (checked above)
  return { fusion: { kind: options.kind, weights: chosen.weights }, value: chosen.value, objective: name, sweep }
}
