/**
 * What a report is drawn from. The training/compare code fills it from its runs; every field is plain
 * JSON, so a ReportData can also be saved next to results.json and re-rendered later.
 */
import type { CalibrationBin } from '../metrics/calibration.js'
import type { MetricRecord } from '../metrics/types.js'

/** One line of a run's epoch log. */
export interface EpochRecord {
  epoch: number
  trainLoss: number
  valLoss: number
  /** validation AUC per task name */
  valAuc: Record<string, number>
}

/** ROC points as computeRocCurve returns them (fpr ascending from 0 to 1). */
export interface RocPoints {
  fpr: number[]
  tpr: number[]
  auc: number
}

/** One point of a fusion-weight sweep (searchFusionWeights' `sweep`). */
export interface FusionSweepEntry {
  weights: Record<string, number>
  value: number
}

export interface FusionReport {
  kind: 'additive' | 'multiplicative'
  /** e.g. "auc(purchase)" */
  objective: string
  sweep: FusionSweepEntry[]
  /** the weights picked */
  chosen: Record<string, number>
}

/** One trained model with one seed. ROC, calibration and fusion are optional: include them for the runs to draw. */
export interface RunReport {
  model: string
  seed: number
  history: EpochRecord[]
  /** per task name (or "fused"), on the evaluation split */
  roc?: Record<string, RocPoints>
  /** per task name, computeCalibrationBins output */
  calibration?: Record<string, CalibrationBin[]>
  fusion?: FusionReport
}

export interface ReportData {
  title: string
  /** short lines shown under the title: config file, command, date, data sizes */
  notes?: string[]
  /** task names in funnel order */
  tasks: string[]
  /** final metrics, the same records as results.json */
  records: MetricRecord[]
  runs: RunReport[]
}
