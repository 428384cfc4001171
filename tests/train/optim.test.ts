import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { ParamEntry } from '../../src/nn/params.js'
import { DenseOptimizer } from '../../src/train/optim.js'

const param = (values: number[], decay = true): ParamEntry => ({
  name: 'w',
  shape: [values.length],
  values: Float32Array.from(values),
  trainable: true,
  decay,
})

describe('DenseOptimizer', () => {
  it('Adam: the first step moves each weight by lr · g / (|g| + eps)', () => {
    const p = param([1, -2, 3])
    new DenseOptimizer({ kind: 'adam', lr: 0.1 }).apply([p], new Map([['w', Float32Array.of(0.5, -4, 0)]]))
    assert.ok(Math.abs(p.values[0] - 0.9) < 1e-6)
    assert.ok(Math.abs(p.values[1] - -1.9) < 1e-6)
    assert.equal(p.values[2], 3)
  })

  it('Adam with weight decay adds wd·w to the gradient; AdamW decays the weight directly', () => {
    const a = param([2])
    new DenseOptimizer({ kind: 'adam', lr: 0.1, weightDecay: 0.5 }).apply([a], new Map([['w', Float32Array.of(0)]]))
    // g = 0 + 0.5·2 = 1 → first Adam step moves by lr
    assert.ok(Math.abs(a.values[0] - 1.9) < 1e-6)
    const w = param([2])
    new DenseOptimizer({ kind: 'adamw', lr: 0.1, weightDecay: 0.5 }).apply([w], new Map([['w', Float32Array.of(0)]]))
    // g = 0 → no Adam move; decoupled decay: w −= lr·wd·w = 0.1
    assert.ok(Math.abs(w.values[0] - 1.9) < 1e-6)
    const bias = param([2], false)
    new DenseOptimizer({ kind: 'adamw', lr: 0.1, weightDecay: 0.5 }).apply([bias], new Map([['w', Float32Array.of(0)]]))
    assert.equal(bias.values[0], 2)
  })

  it('clips the global gradient norm and reports the norm before clipping', () => {
    const opt = new DenseOptimizer({ kind: 'adam', lr: 0.1, clipNorm: 1 })
    const p = param([0, 0])
    const norm = opt.apply([p], new Map([['w', Float32Array.of(3, 4)]]))
    assert.equal(norm, 5)
    // clipping scales both coordinates equally, so Adam's first step is still lr·sign(g)
    assert.ok(Math.abs(p.values[0] + 0.1) < 1e-6 && Math.abs(p.values[1] + 0.1) < 1e-6)
    // second step: m and v saw the clipped gradient (0.6, 0.8); with a zero gradient now,
    // m = 0.9·0.1·g, v = 0.999·0.001·g² → the move ratio between coordinates stays 1
    const before = Float32Array.from(p.values)
    opt.apply([p], new Map([['w', Float32Array.of(0, 0)]]))
    const d0 = before[0] - p.values[0]
    const d1 = before[1] - p.values[1]
    assert.ok(d0 > 0 && d1 > 0 && Math.abs(d0 - d1) < 1e-6)
  })
})
