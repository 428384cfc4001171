/** A seeded uniform generator for the metric and report tests (never Math.random): the project's Rng. */
import { Rng } from '../../src/engine/rng.js'

export function seededRandom(seed: number): () => number {
  const rng = new Rng(seed)
  return () => rng.next()
}
