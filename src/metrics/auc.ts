/**
 * Exact global AUC (Mann-Whitney U) and the ROC curve.
 *
 *   AUC = P(s⁺ > s⁻) + ½·P(s⁺ = s⁻)
 *       = (Σ_{i∈pos} rank_i − P(P+1)/2) / (P·N)   with tied scores given their averaged rank
 *
 * The two forms are equal; we use the first. Positive and negative scores are copied into two
 * Float64Arrays and sorted with the native numeric typed-array sort (no comparator), then one merge
 * walk counts for each positive the negatives strictly below it and those tied with it. That is
 * O(n log n) and takes about a second for 10M rows.
 *
 * AUC is undefined when all labels are equal (P = 0 or N = 0): we return NaN rather than throw, so an
 * evaluation over many tasks or groups still reports the others. Callers that need a number check
 * `Number.isNaN`.
 */
import { checkScoresAndLabels } from './check.js'
import type { Labels, Scores } from './types.js'

/** Exact AUC with ties counted as ½; NaN when `labels` holds only one class. */
export function computeAuc(scores: Scores, labels: Labels): number {
  checkScoresAndLabels('computeAuc', scores, labels)
  const { pos, neg } = splitSorted(scores, labels)
  return aucOfSorted(pos, neg)
}

/** Scores of positive and negative rows, each sorted ascending. */
export function splitSorted(scores: Scores, labels: Labels): { pos: Float64Array; neg: Float64Array } {
  let positives = 0
  for (let i = 0; i < labels.length; i++) positives += labels[i]
  const pos = new Float64Array(positives)
  const neg = new Float64Array(labels.length - positives)
  let p = 0
  let q = 0
  for (let i = 0; i < labels.length; i++) {
    if (labels[i] === 1) pos[p++] = scores[i]
    else neg[q++] = scores[i]
  }
  pos.sort()
  neg.sort()
  return { pos, neg }
}

/** AUC from ascending-sorted positive and negative scores; NaN if either is empty. */
export function aucOfSorted(pos: Float64Array, neg: Float64Array): number {
  if (pos.length === 0 || neg.length === 0) return NaN
  let below = 0 // negatives with score < current positive score
  let wins = 0 // Σ over positives of (#neg below + ½·#neg tied); exact in float64 up to 2^53
  let i = 0
  while (i < pos.length) {
    const s = pos[i]
    let j = i
    while (j < pos.length && pos[j] === s) j++ // positives tied at s: [i, j)
    while (below < neg.length && neg[below] < s) below++
    let tied = below
    while (tied < neg.length && neg[tied] === s) tied++
    wins += (j - i) * (below + 0.5 * (tied - below))
    i = j
  }
  return wins / (pos.length * neg.length)
}

/** ROC curve points, from (0, 0) to (1, 1), thresholds descending. */
export interface RocCurve {
  fpr: number[]
  tpr: number[]
  /** the score at or above which rows count as positive; Infinity for the (0, 0) point */
  thresholds: number[]
  auc: number
}

export interface RocOptions {
  /**
   * A point is kept when it moves at least 1/maxPoints in fpr or tpr from the last kept one (the
   * first and last points are always kept), so a curve has at most about 2·maxPoints points.
   * Infinity keeps every distinct threshold. Default 200.
   */
  maxPoints?: number
}

/**
 * The ROC curve, one point per distinct score (thinned by `maxPoints`). Tied scores form one step,
 * so the trapezoid area under the unthinned points equals `computeAuc`. Empty curve arrays and a NaN
 * `auc` when `labels` holds only one class.
 */
export function computeRocCurve(scores: Scores, labels: Labels, options: RocOptions = {}): RocCurve {
  checkScoresAndLabels('computeRocCurve', scores, labels)
  const { pos, neg } = splitSorted(scores, labels)
  const auc = aucOfSorted(pos, neg)
  if (Number.isNaN(auc)) return { fpr: [], tpr: [], thresholds: [], auc }
  const step = 1 / (options.maxPoints ?? 200)
  const curve: RocCurve = { fpr: [0], tpr: [0], thresholds: [Infinity], auc }
  let p = pos.length // walk both arrays from the top: rows with score ≥ s are predicted positive
  let q = neg.length
  while (p > 0 || q > 0) {
    const s = Math.max(p > 0 ? pos[p - 1] : -Infinity, q > 0 ? neg[q - 1] : -Infinity)
    while (p > 0 && pos[p - 1] === s) p--
    while (q > 0 && neg[q - 1] === s) q--
    const tpr = (pos.length - p) / pos.length
    const fpr = (neg.length - q) / neg.length
    const last = curve.fpr.length - 1
    const isEnd = p === 0 && q === 0
    if (isEnd || Math.abs(fpr - curve.fpr[last]) >= step || Math.abs(tpr - curve.tpr[last]) >= step) {
      curve.fpr.push(fpr)
      curve.tpr.push(tpr)
      curve.thresholds.push(s)
    }
  }
  return curve
}
