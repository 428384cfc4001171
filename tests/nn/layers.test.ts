import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { gradients } from '../../src/engine/autodiff.js'
import { compile } from '../../src/engine/compile.js'
import { reduceSum } from '../../src/engine/ops.js'
import { Graph } from '../../src/engine/node.js'
import { batchNorm, denseBlock, dropout, linear, prelu } from '../../src/nn/layers.js'
import { bceWithLogits, softplus } from '../../src/nn/losses.js'
import { BuildContext, DEFAULT_LAYERS, ParamStore } from '../../src/nn/params.js'
import { gradcheckGraph } from '../helpers/gradcheck.js'

const ctxOf = (g: Graph, training = true) => new BuildContext(new ParamStore(1), training, g)

describe('linear initialisation', () => {
  const init = (layers: typeof DEFAULT_LAYERS) => {
    const params = new ParamStore(5)
    const g = new Graph('float32')
    linear(new BuildContext(params, true, g, layers), 'fc', g.input('x', ['B', 50]), 400)
    return { w: params.entries.get('fc.weight')!.values, b: params.entries.get('fc.bias')!.values }
  }
  const maxAbs = (a: Float32Array) => a.reduce((m, v) => Math.max(m, Math.abs(v)), 0)
  it("default 'torch': weights and biases U(±1/√fan_in), as PyTorch's nn.Linear", () => {
    const { w, b } = init(DEFAULT_LAYERS)
    const bound = 1 / Math.sqrt(50)
    assert.ok(maxAbs(w) <= bound && maxAbs(w) > 0.99 * bound, `max |w| ${maxAbs(w)} vs bound ${bound}`)
    assert.ok(maxAbs(b) <= bound && maxAbs(b) > 0.9 * bound, `max |b| ${maxAbs(b)} vs bound ${bound}`)
  })
  it("'xavier': weights U(±√(6/(fan_in+fan_out))), biases 0", () => {
    const { w, b } = init({ ...DEFAULT_LAYERS, init: 'xavier' })
    const bound = Math.sqrt(6 / 450)
    assert.ok(maxAbs(w) <= bound && maxAbs(w) > 0.99 * bound, `max |w| ${maxAbs(w)} vs bound ${bound}`)
    assert.equal(maxAbs(b), 0)
  })
})

describe('layer gradients match central differences (float64, parameters included)', () => {
  it('linear', async () => {
    await gradcheckGraph((g) => linear(ctxOf(g), 'fc', g.input('x', ['B', 3]), 2), { dims: { B: 4 } })
  })
  it('prelu (learned slope), both sides of 0', async () => {
    await gradcheckGraph((g) => prelu(ctxOf(g), 'act', g.input('x', [4, 3])), {
      values: { 0: Float64Array.of(-2, -1, -0.3, 0.2, 1, 3, -0.5, 0.7, -4, 2, 0.1, -0.1) },
    })
  })
  it('prelu forward: known values with slopes 0.25 (the init), x and a·x on each side of 0', async () => {
    const g = new Graph('float32')
    const y = prelu(ctxOf(g), 'act', g.input('x', [2, 3]))
    const x = Float32Array.of(-2, 0, 3, 1e-3, -1e-3, -8)
    const out = await (await compile({ y })).run({ x, 'act.slope': Float32Array.of(0.25) }, {})
    // exactly x or a·x in float32
    assert.deepEqual(Array.from(out.y), [-0.5, 0, 3, x[3], Math.fround(0.25 * x[4]), -2])
  })
  it('prelu with one slope per unit (preluSlopes "unit"): each column its own slope', async () => {
    const g = new Graph('float32')
    const ctx = new BuildContext(new ParamStore(1), true, g, { ...DEFAULT_LAYERS, preluSlopes: 'unit' })
    const y = prelu(ctx, 'act', g.input('x', [2, 3]))
    const out = await (await compile({ y })).run(
      { x: Float32Array.of(-2, -2, -2, 1, 1, 1), 'act.slope': Float32Array.of(0.25, 0.5, 2) },
      {},
    )
    assert.deepEqual(Array.from(out.y), [-0.5, -1, -4, 1, 1, 1])
  })
  it('prelu gradient at x = 0 is the slope side, as in PyTorch', async () => {
    const g = new Graph('float32')
    const xIn = g.input('x', [1, 3])
    const loss = reduceSum(prelu(ctxOf(g), 'act', xIn), [0, 1])
    const [dx] = gradients(loss, [xIn])
    const out = await (await compile({ dx: dx })).run(
      { x: Float32Array.of(0, 1, -1), 'act.slope': Float32Array.of(0.25) },
      {},
    )
    assert.deepEqual(Array.from(out.dx), [0.25, 1, 0.25])
  })
  it('batchNorm in training mode (batch statistics)', async () => {
    await gradcheckGraph((g) => batchNorm(ctxOf(g), 'bn', g.input('x', ['B', 3])), { dims: { B: 5 }, tol: 1e-5 })
  })
  it('a Dense → PReLU → BatchNorm block (one shared PReLU slope)', async () => {
    await gradcheckGraph((g) => denseBlock(ctxOf(g), 'blk', g.input('x', ['B', 3]), 2), { dims: { B: 6 }, tol: 1e-5 })
  })
  it('a Dense → PReLU → BatchNorm block with per-unit slopes and Xavier init', async () => {
    const layers = { init: 'xavier', preluSlopes: 'unit', blockBatchNorm: true } as const
    await gradcheckGraph(
      (g) => denseBlock(new BuildContext(new ParamStore(1), true, g, layers), 'blk', g.input('x', ['B', 3]), 2),
      { dims: { B: 6 }, tol: 1e-5 },
    )
  })
  it('softplus, including large |x|', async () => {
    await gradcheckGraph((g) => softplus(g.input('x', [6])), {
      values: { 0: Float64Array.of(-40, -5, -0.1, 0.3, 6, 40) },
    })
  })
  it('BCE on logits with a positive weight, d/dz', async () => {
    await gradcheckGraph(
      (g) => {
        const y = g.input('y', ['B', 1])
        const z = g.input('z', ['B', 1])
        return bceWithLogits(z, y, 3)
      },
      // y is fed 0/1; its "gradient" is checked too, which is fine: the loss is linear in y
      { dims: { B: 4 }, values: { 0: Float64Array.of(0, 1, 1, 0), 1: Float64Array.of(-30, -1, 0.5, 25) } },
    )
  })
})

describe('known values', () => {
  async function evalScalar(
    build: (g: Graph) => ReturnType<typeof softplus>,
    feeds: Record<string, Float64Array>,
    dims: Record<string, number>,
  ) {
    const g = new Graph('float64')
    const out = build(g)
    const p = await compile({ out })
    return (await p.run(feeds, dims)).out
  }
  it('BCE equals −[w·y·log σ(z) + (1−y)·log(1−σ(z))], finite at |z| = 100', async () => {
    const z = Float64Array.of(0, 2, -1, 100, -100)
    const y = Float64Array.of(1, 0, 1, 0, 1)
    const w = 2.5
    const sig = (v: number) => 1 / (1 + Math.exp(-v))
    // log σ(z) = −softplus(−z); log(1−σ(z)) = −softplus(z), written stably for the reference
    const sp = (v: number) => Math.max(v, 0) + Math.log1p(Math.exp(-Math.abs(v)))
    let expected = 0
    for (let i = 0; i < z.length; i++) expected += y[i] ? w * sp(-z[i]) : sp(z[i])
    expected /= z.length
    assert.ok(Math.abs(sig(0) - 0.5) < 1e-12)
    const got = await evalScalar(
      (g) => bceWithLogits(g.input('z', ['B', 1]), g.input('y', ['B', 1]), w),
      { z, y },
      { B: 5 },
    )
    assert.ok(Number.isFinite(got[0]))
    assert.ok(Math.abs(got[0] - expected) < 1e-9, `${got[0]} vs ${expected}`)
  })

  it('batchNorm: training normalises with batch stats, inference uses the running ones', async () => {
    const x = Float64Array.of(1, 10, 2, 20, 3, 30, 6, 60) // [4, 2]
    const params = new ParamStore(1)
    const gt = new Graph('float64')
    const train = batchNorm(new BuildContext(params, true, gt), 'bn', gt.input('x', ['B', 2]))
    const yt = (
      await (
        await compile({ y: train })
      ).run({ x, 'bn.gamma': Float64Array.of(1, 1), 'bn.beta': Float64Array.of(0, 0) }, { B: 4 })
    ).y
    // column 0: mean 3, biased var 3.5 → (1−3)/sqrt(3.5+1e-5)
    assert.ok(Math.abs(yt[0] - -2 / Math.sqrt(3.5 + 1e-5)) < 1e-9)
    const gi = new Graph('float64')
    const infer = batchNorm(new BuildContext(params, false, gi), 'bn', gi.input('x', ['B', 2]))
    const rm = Float64Array.of(2, 5)
    const rv = Float64Array.of(4, 9)
    const yi = (
      await (
        await compile({ y: infer })
      ).run(
        {
          x,
          'bn.gamma': Float64Array.of(1, 2),
          'bn.beta': Float64Array.of(0, 1),
          'bn.running_mean': rm,
          'bn.running_var': rv,
        },
        { B: 4 },
      )
    ).y
    assert.ok(Math.abs(yi[0] - (1 - 2) / Math.sqrt(4 + 1e-5)) < 1e-9)
    assert.ok(Math.abs(yi[1] - (2 * (10 - 5)) / Math.sqrt(9 + 1e-5) - 1) < 1e-9)
  })

  it('dropout masks in training and is the identity at inference', () => {
    const params = new ParamStore(1)
    const gt = new Graph()
    const x = gt.input('x', ['B', 3])
    const ctx = new BuildContext(params, true, gt)
    assert.notEqual(dropout(ctx, 'd', x, 0.5), x)
    assert.equal(ctx.dropouts.length, 1)
    const gi = new Graph()
    const xi = gi.input('x', ['B', 3])
    const ictx = new BuildContext(params, false, gi)
    assert.equal(dropout(ictx, 'd', xi, 0.5), xi)
    assert.equal(ictx.dropouts.length, 0)
  })
})
