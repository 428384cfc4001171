/** Seeded randomness for tests (never Math.random). */
import { Rng } from '../../src/engine/rng.js'
export { Rng }
export function randomArray(rng: Rng, n: number, low = -1, high = 1): Float64Array {
  const out = new Float64Array(n)
  for (let i = 0; i < n; i++) out[i] = low + (high - low) * rng.next()
  return out
}
