/**
 * Every metric for every task in one call, as flat `{task, metric, value}` rows; the caller adds
 * `model`, `seed` and `split` to make MetricRecords (results.json, `eval --json`).
 *
 * Metric names: auc, logloss, calibration (predicted/observed ratio), and with groups gauc, ndcg@K,
 * recall@K; funnel_violation on each task after the first (rate of p_task > p_previous + tolerance).
 */
import { DataError } from '../errors.js'
import { computeAuc } from './auc.js'
import { computeCalibration } from './calibration.js'
import { computeFunnelViolations } from './funnel.js'
import { computeGauc } from './gauc.js'
import { computeLogloss } from './logloss.js'
import { computeNdcgAtK, computeRecallAtK } from './ranking.js'
import type { Groups, Labels, MetricRecord, Scores } from './types.js'

export type TaskMetric = Pick<MetricRecord, 'task' | 'metric' | 'value'>

export interface TaskMetricsInput {
  /** task names in funnel order */
  tasks: string[]
  probs: Record<string, Scores>
  labels: Record<string, Labels>
  /** user or query id per row; enables gauc, ndcg@K, recall@K */
  groups?: Groups
  /** cut-offs for ndcg@K and recall@K; default [10] */
  ks?: number[]
}

export function computeTaskMetrics(input: TaskMetricsInput): TaskMetric[] {
  const out: TaskMetric[] = []
  for (const task of input.tasks) {
    const probs = input.probs[task]
    const labels = input.labels[task]
    if (!probs || !labels) {
      const missing = !probs ? 'probs' : 'labels'
      throw new DataError(
        `computeTaskMetrics: ${missing}: missing task "${task}" (have: ${Object.keys(input[missing]).join(', ')})`,
        { field: `${missing}.${task}` },
      )
    }
    out.push({ task, metric: 'auc', value: computeAuc(probs, labels) })
    out.push({ task, metric: 'logloss', value: computeLogloss(probs, labels) })
    out.push({ task, metric: 'calibration', value: computeCalibration(probs, labels).ratio })
    if (input.groups) {
      out.push({ task, metric: 'gauc', value: computeGauc(probs, labels, input.groups).value })
      for (const k of input.ks ?? [10]) {
        out.push({ task, metric: `ndcg@${k}`, value: computeNdcgAtK(probs, labels, input.groups, k).value })
        out.push({ task, metric: `recall@${k}`, value: computeRecallAtK(probs, labels, input.groups, k).value })
      }
    }
  }
  if (input.tasks.length >= 2) {
    for (const pair of computeFunnelViolations(input.probs, input.tasks).pairs) {
      out.push({ task: pair.lower, metric: 'funnel_violation', value: pair.rate })
    }
  }
  return out
}
