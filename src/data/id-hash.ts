/**
 * The hash bucket of an integer id beyond a feature's capacity (SparseSpec.capacity / hashBuckets). Training's
 * first pass and serving's row encoder both call this, so an id lands in the same embedding row in both.
 * x is an integer exact as a double (|x| < 2^53); its low and high 32 bits are mixed (murmur3's finalizer).
 */
export function hashBucket(x: number, buckets: number): number {
  const lo = x >>> 0 // x mod 2^32, negatives included
  const hi = Math.floor(x / 4294967296) | 0
  let h = Math.imul(lo ^ Math.imul(hi, 0x9e3779b1), 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return (h >>> 0) % buckets
}
