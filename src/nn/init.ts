/** Seeded initialisers. Each fills `out` (row-major, shape [fanIn, fanOut] for weights). */
import type { Rng } from '../engine/rng.js'

export type Init = (out: Float32Array, shape: readonly number[], rng: Rng) => void

export const zeros: Init = (out) => out.fill(0)
export const constant =
  (v: number): Init =>
  (out) =>
    out.fill(v)

/** Glorot/Xavier uniform: U(±sqrt(6 / (fanIn + fanOut))). */
export const xavierUniform: Init = (out, shape, rng) => {
  const [fanIn = 1, fanOut = 1] = shape
  const a = Math.sqrt(6 / (fanIn + fanOut))
  for (let i = 0; i < out.length; i++) out[i] = (2 * rng.next() - 1) * a
}

/** He/Kaiming normal for ReLU-like layers: N(0, 2 / fanIn). */
export const heNormal: Init = (out, shape, rng) => {
  const std = Math.sqrt(2 / (shape[0] ?? 1))
  for (let i = 0; i < out.length; i++) out[i] = rng.normal() * std
}

/** N(0, std²), the usual embedding initialiser. */
export const normal =
  (std: number): Init =>
  (out, _shape, rng) => {
    for (let i = 0; i < out.length; i++) out[i] = rng.normal() * std
  }

/** U(±a) */
export const uniform =
  (a: number): Init =>
  (out, _shape, rng) => {
    for (let i = 0; i < out.length; i++) out[i] = (2 * rng.next() - 1) * a
  }
