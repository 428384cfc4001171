/**
 * Calibration: does the model predict the right rate?
 *
 *   ratio = mean(p) / mean(y)    1 is calibrated, > 1 over-predicts, < 1 under-predicts
 *
 * `ratio` is NaN when there are no positive rows (mean(y) = 0). The bins (a reliability diagram, for the
 * report) group rows by predicted probability and compare mean predicted with observed rate per bin.
 */
import { DataError } from '../errors.js'
import { checkScoresAndLabels } from './check.js'
import type { Labels, Scores } from './types.js'

export interface Calibration {
  meanPredicted: number
  observedRate: number
  ratio: number
  rows: number
}

export function computeCalibration(probs: Scores, labels: Labels): Calibration {
  checkScoresAndLabels('computeCalibration', probs, labels)
  let sumP = 0
  let sumY = 0
  for (let i = 0; i < probs.length; i++) {
    sumP += probs[i]
    sumY += labels[i]
  }
  const n = probs.length
  const meanPredicted = n > 0 ? sumP / n : NaN
  const observedRate = n > 0 ? sumY / n : NaN
  return { meanPredicted, observedRate, ratio: sumY > 0 ? sumP / sumY : NaN, rows: n }
}

export interface CalibrationBin {
  /** bin edges on the predicted probability: lower < p ≤ upper (the first bin also takes p = lower) */
  lower: number
  upper: number
  rows: number
  meanPredicted: number
  observedRate: number
}

export interface CalibrationBinOptions {
  /** number of bins; default 10 */
  bins?: number
  /**
   * 'quantile' (default): edges at quantiles of the scores, so each bin holds about n/bins rows; the
   * right choice for CTR-like probabilities that crowd near 0. Tied scores stay in one bin, so bins may
   * merge. 'uniform': equal-width bins over [0, 1].
   */
  strategy?: 'quantile' | 'uniform'
}

/** Reliability-diagram points; empty bins are left out. */
export function computeCalibrationBins(
  probs: Scores,
  labels: Labels,
  options: CalibrationBinOptions = {},
): CalibrationBin[] {
  checkScoresAndLabels('computeCalibrationBins', probs, labels)
  const bins = options.bins ?? 10
  const strategy = options.strategy ?? 'quantile'
  if (!Number.isInteger(bins) || bins < 1) {
    throw new DataError(`computeCalibrationBins: bins: expected a positive integer, got ${bins}`, { field: 'bins' })
  }
  if (probs.length === 0) return []
  const edges = strategy === 'uniform' ? uniformEdges(bins) : quantileEdges(probs, bins)
  const b = edges.length - 1
  const rows = new Float64Array(b)
  const sumP = new Float64Array(b)
  const sumY = new Float64Array(b)
  for (let i = 0; i < probs.length; i++) {
    const k = binOf(edges, probs[i])
    rows[k]++
    sumP[k] += probs[i]
    sumY[k] += labels[i]
  }
  const out: CalibrationBin[] = []
  for (let k = 0; k < b; k++) {
    if (rows[k] === 0) continue
    out.push({
      lower: edges[k],
      upper: edges[k + 1],
      rows: rows[k],
      meanPredicted: sumP[k] / rows[k],
      observedRate: sumY[k] / rows[k],
    })
  }
  return out
}

function uniformEdges(bins: number): number[] {
  return Array.from({ length: bins + 1 }, (_, k) => k / bins)
}

/** Distinct score quantiles, from the minimum to the maximum score. */
function quantileEdges(probs: Scores, bins: number): number[] {
  const sorted = Float64Array.from(probs).sort()
  const edges = [sorted[0]]
  for (let k = 1; k <= bins; k++) {
    const q = sorted[Math.min(sorted.length - 1, Math.ceil((k * sorted.length) / bins) - 1)]
    if (q > edges[edges.length - 1]) edges.push(q)
  }
  if (edges.length === 1) edges.push(sorted[0]) // every score equal: one bin [s, s]
  return edges
}

/** Index k of the bin with edges[k] < p ≤ edges[k+1]; values outside the edges go to the end bins. */
function binOf(edges: number[], p: number): number {
  let lo = 0
  let hi = edges.length - 2
  while (lo < hi) {
    const mid = (lo + hi) >> 1
    if (p <= edges[mid + 1]) hi = mid
    else lo = mid + 1
  }
  return lo
}
