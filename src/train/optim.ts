/**
 * Optimizers for dense parameters: Adam and AdamW (decoupled weight decay), with optional clipping of
 * the global gradient norm. Embedding rows have their own lazy optimizers in nn/embedding.ts.
 */
import type { ParamEntry } from '../nn/params.js'

export interface DenseOptimizerConfig {
  kind: 'adam' | 'adamw'
  lr: number
  beta1?: number
  beta2?: number
  eps?: number
  /** AdamW: decoupled decay; Adam: L2 added to the gradient. Applied to weights only, not biases/BN. */
  weightDecay?: number
  /** clip the global L2 norm of all dense gradients to this value */
  clipNorm?: number
}

export class DenseOptimizer {
  private readonly m = new Map<string, Float32Array>()
  private readonly v = new Map<string, Float32Array>()
  step = 0

  constructor(readonly config: DenseOptimizerConfig) {}

  /** One update of every parameter that has a gradient. Returns the gradient norm before clipping. */
  apply(params: readonly ParamEntry[], grads: ReadonlyMap<string, Float32Array>): number {
    const { lr, beta1: b1 = 0.9, beta2: b2 = 0.999, eps = 1e-8, weightDecay = 0, clipNorm } = this.config
    let sq = 0
    for (const g of grads.values()) for (let i = 0; i < g.length; i++) sq += g[i]! * g[i]!
    const norm = Math.sqrt(sq)
    const scale = clipNorm && norm > clipNorm ? clipNorm / norm : 1
    this.step++
    const c1 = 1 - b1 ** this.step
    const c2 = 1 - b2 ** this.step
    const decoupled = this.config.kind === 'adamw'
    for (const p of params) {
      const g = grads.get(p.name)
      if (!g) continue
      let m = this.m.get(p.name)
      let v = this.v.get(p.name)
      if (!m || !v) {
        m = new Float32Array(p.values.length)
        v = new Float32Array(p.values.length)
        this.m.set(p.name, m)
        this.v.set(p.name, v)
      }
      const w = p.values
      const wd = p.decay ? weightDecay : 0
      for (let i = 0; i < w.length; i++) {
        let gi = g[i]! * scale
        if (!decoupled && wd) gi += wd * w[i]!
        const mi = b1 * m[i]! + (1 - b1) * gi
        const vi = b2 * v[i]! + (1 - b2) * gi * gi
        m[i] = mi
        v[i] = vi
        let wi = w[i]!
        if (decoupled && wd) wi -= lr * wd * wi
        w[i] = wi - (lr * (mi / c1)) / (Math.sqrt(vi / c2) + eps)
      }
    }
    return norm
  }

  /** State for checkpoints. */
  state(): { step: number; m: Record<string, Float32Array>; v: Record<string, Float32Array> } {
    return { step: this.step, m: Object.fromEntries(this.m), v: Object.fromEntries(this.v) }
  }

  load(state: { step: number; m: Record<string, Float32Array>; v: Record<string, Float32Array> }): void {
    this.step = state.step
    this.m.clear()
    this.v.clear()
    for (const [k, a] of Object.entries(state.m)) this.m.set(k, a)
    for (const [k, a] of Object.entries(state.v)) this.v.set(k, a)
  }
}
