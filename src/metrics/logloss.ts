/**
 * Binary cross-entropy averaged over rows:
 *
 *   logloss = −(1/n) Σ_i [ y_i·log(p_i) + (1 − y_i)·log(1 − p_i) ],   p_i clipped to [eps, 1 − eps]
 *
 * Clipping keeps a single confident mistake (p = 0 for a positive) from making the mean infinite: with
 * the default eps = 1e-7 such a row costs −log(1e-7) ≈ 16.1. 1e-7 is near float32's resolution at 1
 * (2^-24 ≈ 6e-8), the precision the models produce, so 1 − eps is still distinct from 1. Scores must
 * be probabilities in [0, 1]; anything else throws (pass sigmoid(logit), not the logit).
 */
import { DataError } from '../errors.js'
import { checkScoresAndLabels } from './check.js'
import type { Labels, Scores } from './types.js'

export const LOGLOSS_EPS = 1e-7

export function computeLogloss(probs: Scores, labels: Labels, eps = LOGLOSS_EPS): number {
  checkScoresAndLabels('computeLogloss', probs, labels)
  if (!(eps > 0 && eps < 0.5))
    throw new DataError(`computeLogloss: eps: expected a number in (0, 0.5), got ${eps}`, { field: 'eps' })
  if (probs.length === 0) return NaN
  let sum = 0
  for (let i = 0; i < probs.length; i++) {
    const raw = probs[i]
    if (raw < 0 || raw > 1) {
      throw new DataError(
        `computeLogloss: probs[${i}]: expected a probability in [0, 1], got ${raw} (hint: apply sigmoid to logits)`,
        { field: `probs[${i}]` },
      )
    }
    const p = Math.min(Math.max(raw, eps), 1 - eps)
    sum -= labels[i] === 1 ? Math.log(p) : Math.log(1 - p)
  }
  return sum / probs.length
}
