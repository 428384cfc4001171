/**
 * Early stopping on validation data: the monitored value (mean task AUC, one task's AUC, or a weighted
 * mean of task AUCs), patience in epochs, and which epoch was best. Plain functions over a small state
 * object, so the state can be checkpointed as JSON and a resumed run stops exactly where an
 * uninterrupted one would.
 */
import { ConfigError } from '../errors.js'

export interface EarlyStoppingConfig {
  /** what to maximise on the validation split */
  metric: 'mean-auc' | 'task-auc' | 'weighted-auc'
  /** for 'task-auc': the task whose AUC is monitored */
  task?: string
  /** for 'weighted-auc': weight per task (tasks left out count 0) */
  weights?: Record<string, number>
  /** epochs without improvement before stopping; null never stops early (the best epoch is still kept) */
  patience: number | null
  /** an improvement must exceed this */
  minDelta: number
  /** at the end, load the best epoch's weights back into the model */
  restoreBest: boolean
}

export interface EarlyStopState {
  /** best monitored value so far (−Infinity before the first epoch) */
  best: number
  /** epoch (1-based) of the best value, 0 before the first epoch */
  bestEpoch: number
  /** epochs since the best one */
  badEpochs: number
}

export const initialEarlyStop = (): EarlyStopState => ({ best: -Infinity, bestEpoch: 0, badEpochs: 0 })

/** Readable name of the monitored value, e.g. "mean val AUC" or "val AUC(purchase)". */
export function describeMonitor(config: Pick<EarlyStoppingConfig, 'metric' | 'task' | 'weights'>): string {
  if (config.metric === 'task-auc') return `val AUC(${config.task})`
  if (config.metric === 'weighted-auc')
    return `weighted val AUC(${Object.entries(config.weights ?? {})
      .map(([t, w]) => `${t}×${w}`)
      .join(', ')})`
  return 'mean val AUC'
}

/** Checks that the tasks named by the config exist; `file` and `field` locate errors. */
export function checkMonitor(
  config: Pick<EarlyStoppingConfig, 'metric' | 'task' | 'weights'>,
  tasks: readonly string[],
  file?: string,
  field = 'earlyStopping',
): void {
  const named =
    config.metric === 'task-auc'
      ? [config.task ?? '']
      : config.metric === 'weighted-auc'
        ? Object.keys(config.weights ?? {})
        : []
  for (const task of named) {
    if (!tasks.includes(task)) {
      const where = config.metric === 'task-auc' ? `${field}.task` : `${field}.weights.${task}`
      throw new ConfigError(`${file ? `${file}: ` : ''}${where}: unknown task "${task}" (tasks: ${tasks.join(', ')})`, {
        file,
        field: where,
      })
    }
  }
}

/** The monitored value from per-task validation AUCs. */
export function monitorValue(
  config: Pick<EarlyStoppingConfig, 'metric' | 'task' | 'weights'>,
  valAuc: Record<string, number>,
): number {
  if (config.metric === 'task-auc') return valAuc[config.task!] ?? NaN
  const weights =
    config.metric === 'weighted-auc' ? config.weights! : Object.fromEntries(Object.keys(valAuc).map((t) => [t, 1]))
  let sum = 0
  let total = 0
  for (const [task, w] of Object.entries(weights)) {
    sum += w * (valAuc[task] ?? NaN)
    total += w
  }
  return sum / total
}

/** The state after one more epoch, whether it improved, and whether to stop now. */
export function updateEarlyStop(
  state: EarlyStopState,
  epoch: number,
  value: number,
  config: Pick<EarlyStoppingConfig, 'patience' | 'minDelta'>,
): { state: EarlyStopState; improved: boolean; stop: boolean } {
  // NaN (e.g. an AUC undefined on a one-class validation split) never counts as an improvement
  const improved = Number.isFinite(value) && (state.bestEpoch === 0 || value > state.best + config.minDelta)
  const next = improved ? { best: value, bestEpoch: epoch, badEpochs: 0 } : { ...state, badEpochs: state.badEpochs + 1 }
  const stop = config.patience !== null && next.badEpochs >= config.patience
  return { state: next, improved, stop }
}
