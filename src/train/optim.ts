/**
 * Optimizers for dense parameters: Adam and AdamW (decoupled weight decay), with optional clipping of
 * the global gradient norm. Embedding rows have their own lazy optimizers in nn/embedding.ts.
 */
import { type DenseOptimizerConfig, type DenseOptimizerSettings, denseOptimizerSettings } from '../config/optimizers.js'
import type { ParamEntry } from '../nn/params.js'

export type { DenseOptimizerConfig }

/** A parameter's Adam moments, one value per weight. */
export interface Moments {
  m: Float32Array
  v: Float32Array
}

export class DenseOptimizer {
  private readonly m = new Map<string, Float32Array>()
  private readonly v = new Map<string, Float32Array>()
  step = 0

  /** the settings, every default filled in (config/optimizers.ts) */
  readonly config: DenseOptimizerSettings

  constructor(config: DenseOptimizerConfig = {}) {
    this.config = denseOptimizerSettings(config)
  }

  /** One update of every parameter that has a gradient. Returns the gradient norm before clipping. */
  apply(params: readonly ParamEntry[], grads: ReadonlyMap<string, Float32Array>): number {
    const { clipNorm } = this.config
    // Without clipping the norm is only reported: it is summed in the update loop instead of a pass of its own.
    let scale = 1
    let norm = NaN
    if (clipNorm) {
      norm = gradientNorm(grads.values())
      if (norm > clipNorm) scale = clipNorm / norm
    }
    this.step++
    const sq = this.update(this.step, params, grads, scale)
    return clipNorm ? norm : Math.sqrt(sq)
  }

  /** The clipping scale of gradients whose global norm is `norm`. */
  clipScale(norm: number): number {
    const { clipNorm } = this.config
    return clipNorm && norm > clipNorm ? clipNorm / norm : 1
  }

  /**
   * The update of optimizer step `step` (1-based; Adam's bias corrections) with the gradients scaled
   * by `scale`. Returns Σ g² of the unscaled gradients. Does not advance `step`.
   */
  update(step: number, params: readonly ParamEntry[], grads: ReadonlyMap<string, Float32Array>, scale = 1): number {
    const { lr, beta1: b1, beta2: b2, eps, weightDecay } = this.config
    // PyTorch's arrangement: w −= (lr / c1) · m / (√v / √c2 + eps), with c1, c2 the bias corrections
    const c: AdamConstants = { b1, b2, eps, stepSize: lr / (1 - b1 ** step), invSqrtC2: 1 / Math.sqrt(1 - b2 ** step) }
    const decoupled = this.config.kind === 'adamw'
    let sq = 0
    for (const p of params) {
      const g = grads.get(p.name)
      if (!g) continue
      const moments = this.moments(p)
      const wd = p.decay ? weightDecay : 0
      if (wd === 0 && scale === 1) sq += adamPlain(p.values, g, moments, c)
      else sq += adamGeneral(p.values, g, moments, c, scale, decoupled ? 0 : wd, decoupled ? lr * wd : 0)
    }
    return sq
  }

  /** A parameter's first and second moments, created at zero (in shared memory: a worker thread may update them). */
  moments(p: Pick<ParamEntry, 'name' | 'values'>): Moments {
    let m = this.m.get(p.name)
    let v = this.v.get(p.name)
    if (!m || !v) {
      m = new Float32Array(new SharedArrayBuffer(p.values.length * 4))
      v = new Float32Array(new SharedArrayBuffer(p.values.length * 4))
      this.m.set(p.name, m)
      this.v.set(p.name, v)
    }
    return { m, v }
  }

  /** State for checkpoints. */
  state(): { step: number; m: Record<string, Float32Array>; v: Record<string, Float32Array> } {
    return { step: this.step, m: Object.fromEntries(this.m), v: Object.fromEntries(this.v) }
  }

  /** Restores a checkpoint's state; moments that exist are overwritten in place (a worker thread may share them). */
  load(state: { step: number; m: Record<string, Float32Array>; v: Record<string, Float32Array> }): void {
    this.step = state.step
    const into = (map: Map<string, Float32Array>, from: Record<string, Float32Array>) => {
      for (const [k, a] of map) if (!(k in from)) a.fill(0)
      for (const [k, a] of Object.entries(from)) {
        const mine = map.get(k)
        if (mine && mine.length === a.length) mine.set(a)
        else map.set(k, a)
      }
    }
    into(this.m, state.m)
    into(this.v, state.v)
  }
}

/** Global L2 norm of gradients (summed per tensor, then over tensors: the same order as the update loop's). */
export function gradientNorm(grads: Iterable<Float32Array>): number {
  let sq = 0
  for (const g of grads) {
    let s = 0
    for (let i = 0; i < g.length; i++) s += g[i] * g[i]
    sq += s
  }
  return Math.sqrt(sq)
}

/** What one Adam step needs beside the tensors: β1, β2, ε, and the bias corrections as lr / c1 and 1 / √c2. */
interface AdamConstants {
  b1: number
  b2: number
  eps: number
  stepSize: number
  invSqrtC2: number
}

/** Adam on one tensor, no decay, no clipping (the common case: one tight loop). Returns Σ g². */
function adamPlain(w: Float32Array, g: Float32Array, { m, v }: Moments, c: AdamConstants): number {
  const { b1, b2, eps, stepSize, invSqrtC2 } = c
  const a1 = 1 - b1
  const a2 = 1 - b2
  let sq = 0
  for (let i = 0; i < w.length; i++) {
    const gi = g[i]
    sq += gi * gi
    const mi = b1 * m[i] + a1 * gi
    const vi = b2 * v[i] + a2 * gi * gi
    m[i] = mi
    v[i] = vi
    w[i] = w[i] - (stepSize * mi) / (Math.sqrt(vi) * invSqrtC2 + eps)
  }
  return sq
}

/** Adam with a gradient scale (clipping), L2 added to the gradient (`l2`) or decoupled decay (`decay` = lr·wd). Returns Σ g² (unscaled). */
function adamGeneral(
  w: Float32Array,
  g: Float32Array,
  { m, v }: Moments,
  c: AdamConstants,
  scale: number,
  l2: number,
  decay: number,
): number {
  const { b1, b2, eps, stepSize, invSqrtC2 } = c
  let sq = 0
  for (let i = 0; i < w.length; i++) {
    sq += g[i] * g[i]
    const gi = g[i] * scale + l2 * w[i]
    const mi = b1 * m[i] + (1 - b1) * gi
    const vi = b2 * v[i] + (1 - b2) * gi * gi
    m[i] = mi
    v[i] = vi
    const wi = w[i] - decay * w[i]
    w[i] = wi - (stepSize * mi) / (Math.sqrt(vi) * invSqrtC2 + eps)
  }
  return sq
}
