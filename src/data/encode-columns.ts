/**
 * The column loops of the first pass (encode.ts): a chunk is encoded column by column over the rows kept,
 * one tight loop per column and element type, so V8's loads and stores stay monomorphic.
 */
import { hashBucket } from './id-hash.js'
import { type Preprocessing, transformDense } from './preprocessing.js'

export function mapIds(
  src: Float64Array,
  keep: Int32Array,
  n: number,
  out: Int32Array,
  at: number,
  lookup: (x: number) => number,
): void {
  for (let r = 0; r < n; r++) out[at + r] = lookup(src[keep[r]])
}
/** intLookup's table inlined (x | 0 === x: an integer in int32 range; NaN and fractions miss) */
export function mapIdsTable(
  src: Float64Array,
  keep: Int32Array,
  n: number,
  out: Int32Array,
  at: number,
  lut: Int32Array,
): void {
  const size = lut.length
  for (let r = 0; r < n; r++) {
    const x = src[keep[r]]
    out[at + r] = (x | 0) === x && x >= 0 && x < size ? lut[x] : 0
  }
}
export function copyI32(src: Int32Array, keep: Int32Array, n: number, out: Int32Array, at: number): void {
  for (let r = 0; r < n; r++) out[at + r] = src[keep[r]]
}
export function copyF64(src: Float64Array, keep: Int32Array, n: number, out: Float32Array, at: number): void {
  for (let r = 0; r < n; r++) out[at + r] = src[keep[r]]
}
export function copyF64To64(src: Float64Array, keep: Int32Array, n: number, out: Float64Array, at: number): void {
  for (let r = 0; r < n; r++) out[at + r] = src[keep[r]]
}
/** Ids the vocabulary missed (0) of present values (not NaN) → their hash bucket after the vocabulary; returns how many. */
export function hashMisses(
  src: Float64Array,
  keep: Int32Array,
  n: number,
  out: Int32Array,
  at: number,
  first: number,
  buckets: number,
): number {
  let count = 0
  for (let r = 0; r < n; r++) {
    if (out[at + r] !== 0) continue
    const x = src[keep[r]]
    if (!Number.isInteger(x)) continue // missing (NaN) or not an integer: id 0, as serving maps it
    out[at + r] = first + hashBucket(x, buckets)
    count++
  }
  return count
}

/** One dense feature into column `at` of a row-major [N, width] matrix; false on a bad cell (non-finite, or missing without fill). */
export function transformColumn(
  src: Float64Array,
  keep: Int32Array,
  n: number,
  f: Preprocessing['dense'][number],
  out: Float32Array,
  at: number,
  width: number,
): boolean {
  for (let r = 0; r < n; r++) {
    let x = src[keep[r]]
    if (x === Infinity) return false
    if (Number.isNaN(x)) {
      if (f.fill === undefined) return false
      x = f.fill
    }
    out[at + r * width] = transformDense(f, x)
  }
  return true
}

export class Grow<T extends Int32Array | Float32Array | Float64Array> {
  data: T
  constructor(
    private readonly make: (n: number) => T,
    cap: number,
  ) {
    this.data = make(cap)
  }
  ensure(n: number): void {
    if (n <= this.data.length) return
    const next = this.make(Math.max(n, this.data.length * 2))
    next.set(this.data)
    this.data = next
  }
  done(n: number): T {
    return this.data.slice(0, n) as T
  }
}
