/** One line of log.jsonl (a superset of the report's EpochRecord). */
export interface EpochLog {
  epoch: number
  trainLoss: number
  /** sum over tasks of the validation logloss */
  valLoss: number
  valAuc: Record<string, number>
  monitor: number
  best: boolean
  rows: number
  /** training time of the epoch, validation excluded */
  seconds: number
  samplesPerSecond: number
}
