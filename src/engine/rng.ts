/**
 * A small seeded PRNG (mulberry32) so that every random choice in resflow — initial weights, shuffles,
 * dropout masks, synthetic data — is reproducible bit for bit from a seed.
 */
export class Rng {
  private state: number

  constructor(seed: number) {
    this.state = seed >>> 0
  }

  /** the generator's whole state, to save and restore (resume) */
  get seedState(): number {
    return this.state
  }

  set seedState(v: number) {
    this.state = v >>> 0
  }

  /** next uint32 */
  nextUint32(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0
    let t = this.state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return (t ^ (t >>> 14)) >>> 0
  }

  /** uniform in [0, 1) */
  next(): number {
    return this.nextUint32() / 4294967296
  }

  /** integer in [0, n) */
  int(n: number): number {
    return Math.floor(this.next() * n)
  }

  /** standard normal (Box-Muller) */
  normal(): number {
    let u = 0
    while (u === 0) u = this.next()
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.next())
  }

  /** a new generator whose stream is independent of this one's next draws */
  fork(): Rng {
    return new Rng(this.nextUint32() ^ 0x9e3779b9)
  }

  /**
   * Dropout mask: out[i] = 0 with probability `rate`, else `keep`. The same draws and decisions as
   * `next() < rate` per element (u/2³² < rate ⟺ u < rate·2³², both exact), in one tight loop.
   */
  fillMask(out: Float32Array, rate: number, keep: number): void {
    const threshold = rate * 4294967296
    let state = this.state
    for (let i = 0; i < out.length; i++) {
      state = (state + 0x6d2b79f5) >>> 0
      let t = state
      t = Math.imul(t ^ (t >>> 15), t | 1)
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
      out[i] = (t ^ (t >>> 14)) >>> 0 < threshold ? 0 : keep
    }
    this.state = state
  }

  /** Fisher-Yates shuffle in place */
  shuffle<T extends { length: number; [i: number]: unknown }>(a: T): T {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(i + 1)
      const tmp = a[i]
      a[i] = a[j]
      a[j] = tmp
    }
    return a
  }
}
