/** Seeded scores with many ties and labels that follow them, for checking ranking metrics against a reference. */
import { Rng } from './rng.js'

/**
 * Fills `scores` with seeded values on a grid of `levels` steps over [0, 1] (so many of them tie) and draws
 * each row's label with probability `positiveRate(score)`, the score read back from `scores` (float32
 * rounding included). One random draw for the score, then one for the label, row after row.
 */
export function tiedScores<S extends Float32Array | Float64Array>(
  scores: S,
  seed: number,
  levels: number,
  positiveRate: (score: number) => number = (s) => s,
): { scores: S; labels: Float32Array } {
  const rng = new Rng(seed)
  const labels = new Float32Array(scores.length)
  for (let i = 0; i < scores.length; i++) {
    scores[i] = Math.round(rng.next() * levels) / levels
    labels[i] = rng.next() < positiveRate(scores[i]) ? 1 : 0
  }
  return { scores, labels }
}
