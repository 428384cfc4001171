/**
 * Input and output types shared by the metrics. Inputs are typed arrays, one value per row, so a
 * 10M-row validation split never becomes 10M JS objects.
 */

/** Predicted probabilities (or any score where higher means "more likely positive"), [B]. */
export type Scores = Float32Array | Float64Array
/** Binary labels, [B], each exactly 0 or 1. */
export type Labels = Float32Array
/** Query or user id per row, [B]; any finite number identifies a group. */
export type Groups = Int32Array | Float64Array

/**
 * One flat result row, the shape of results.json and `eval --json`. `task` is a task name or
 * `fused` for the fused score; `metric` is e.g. `auc`, `gauc`, `logloss`, `ndcg@10`.
 */
export interface MetricRecord {
  model: string
  seed: number
  split: string
  task: string
  metric: string
  value: number
}
