/** Metric records written in one line each, for the summary, markdown and comparison tests. */
import type { MetricRecord } from '../../src/metrics/types.js'

type MakeRecord = (
  model: string,
  seed: number,
  metric: string,
  value: number,
  split?: string,
  task?: string,
) => MetricRecord

/** A record maker whose split defaults to "test" and task to `defaultTask`: `rec('resflow', 1, 'auc', 0.71)`. */
export function recordMaker(defaultTask: string): MakeRecord {
  return (model, seed, metric, value, split = 'test', task = defaultTask) => ({
    model,
    seed,
    split,
    task,
    metric,
    value,
  })
}
