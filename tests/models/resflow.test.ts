import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { computeFunnelViolations } from '../../src/metrics/funnel.js'
import { buildModel } from '../../src/models/registry.js'
import { residualLogit } from '../../src/models/resflow.js'
import { positiveRates, resolveTaskGraph } from '../../src/models/task-graph.js'
import { gradcheck } from '../helpers/gradcheck.js'
import { FUNNEL_SPEC, funnelBatch } from '../helpers/funnel.js'
import { paramsFor, runForward, runGradients } from './forward.js'

const batch = funnelBatch(64, 11)
const small = { embeddingDim: 4, towers: [8, 4] }
const maxAbs = (a: Float32Array) => a.reduce((m, v) => Math.max(m, Math.abs(v)), 0)
const diff = (a: Float32Array, b: Float32Array) => a.map((v, i) => v - b[i])

/** Adds `delta` to every value of the parameters whose name starts with `prefix`. */
function nudge(params: ReturnType<typeof paramsFor>, prefix: string, delta: number): number {
  let n = 0
  for (const e of params.entries.values()) {
    if (e.trainable && e.name.startsWith(prefix)) {
      for (let i = 0; i < e.values.length; i++) e.values[i] = e.values[i] + delta * (1 + (i % 3))
      n++
    }
  }
  assert.ok(n > 0, `no parameter starts with "${prefix}"`)
  return n
}

describe('ResFlow wiring', () => {
  it('adds the previous task logit to the next: changing the click tower moves z_purchase by exactly Δz_click (logit residual)', async () => {
    const model = buildModel(FUNNEL_SPEC, { model: 'resflow-logit', ...small })
    const params = paramsFor(model)
    const before = (await runForward(model, params, batch)).outputs
    nudge(params, 'tower.click.', 0.05) // every layer of task 1's tower
    const after = (await runForward(model, params, batch)).outputs
    const dClick = diff(after['z.click'], before['z.click'])
    const dPurchase = diff(after['z.purchase'], before['z.purchase'])
    assert.ok(maxAbs(dClick) > 1e-2, 'the nudge must change z_click')
    assert.ok(maxAbs(diff(dPurchase, dClick)) < 1e-5, `Δz_purchase − Δz_click = ${maxAbs(diff(dPurchase, dClick))}`)
  })

  it('full residual: the click head moves z_purchase by exactly Δz_click; the click hidden layers move it by more', async () => {
    const model = buildModel(FUNNEL_SPEC, { model: 'resflow', ...small })
    const params = paramsFor(model)
    const base = (await runForward(model, params, batch)).outputs
    nudge(params, 'tower.click.logit', 0.05)
    const head = (await runForward(model, params, batch)).outputs
    const dClick = diff(head['z.click'], base['z.click'])
    assert.ok(maxAbs(dClick) > 1e-2)
    assert.ok(maxAbs(diff(diff(head['z.purchase'], base['z.purchase']), dClick)) < 1e-5)
    nudge(params, 'tower.click.0.', 0.05)
    const hidden = (await runForward(model, params, batch)).outputs
    const gap = diff(diff(hidden['z.purchase'], head['z.purchase']), diff(hidden['z.click'], head['z.click']))
    assert.ok(maxAbs(gap) > 1e-3, 'with the hidden residual, task 1 layer 0 reaches task 2 through h_0 too')
  })

  it("task 2's loss has a non-zero gradient in task 1's tower (no stop-gradient), and none with residuals off", async () => {
    const only2 = { ...small, lossWeights: { click: 0 } }
    for (const [name, expectFlow] of [
      ['resflow', true],
      ['resflow-logit', true],
      ['nse', false],
    ] as const) {
      const model = buildModel(FUNNEL_SPEC, { model: name, ...only2 })
      const { grads } = await runGradients(model, paramsFor(model), batch)
      for (const p of ['tower.click.0.dense.weight', 'tower.click.1.dense.weight', 'tower.click.logit.weight']) {
        const g = maxAbs(grads[p])
        if (expectFlow) assert.ok(g > 1e-6, `${name}: ∂L_purchase/∂${p} = ${g}`)
        else assert.equal(g, 0, `${name}: ∂L_purchase/∂${p} should be 0`)
      }
      assert.ok(maxAbs(grads['tower.purchase.0.dense.weight']) > 1e-6)
    }
  })

  it('with residuals off (nse), each task equals an independent one-task tower with the same weights', async () => {
    const nse = buildModel(FUNNEL_SPEC, { model: 'nse', ...small })
    const params = paramsFor(nse)
    const both = (await runForward(nse, params, batch)).outputs
    for (const task of FUNNEL_SPEC.tasks) {
      const alone = buildModel({ ...FUNNEL_SPEC, tasks: [task] }, { model: 'resflow', ...small })
      const one = (await runForward(alone, params, batch)).outputs // same parameter names → same weights
      assert.deepEqual(Array.from(one[`z.${task}`]), Array.from(both[`z.${task}`]))
    }
  })

  it('chains of any length: click → cart → purchase, outputs [B, 1] each', async () => {
    const spec = { ...FUNNEL_SPEC, tasks: ['click', 'cart', 'purchase'] }
    const b = { ...batch, labels: { ...batch.labels, cart: batch.labels.click } }
    const model = buildModel(spec, { model: 'resflow', ...small })
    const run = await runForward(model, paramsFor(model), b)
    for (const t of spec.tasks) {
      assert.deepEqual(run.shapes[`p.${t}`], ['B', 1])
      assert.equal(run.outputs[`p.${t}`].length, b.size)
    }
  })
})

describe('ResFlow non-increasing funnel', () => {
  it('guarantees p_purchase ≤ p_click on every row (violation rate 0), with random weights', async () => {
    for (const model of ['resflow', 'resflow-logit', 'resflow-twin']) {
      const m = buildModel(FUNNEL_SPEC, { model, ...small, nonIncreasing: true })
      const out = (await runForward(m, paramsFor(m, 2), batch)).outputs
      const v = computeFunnelViolations(
        { click: out['p.click'], purchase: out['p.purchase'] },
        ['click', 'purchase'],
        0,
      )
      assert.equal(v.anyCount, 0, `${model}: ${v.anyCount} rows with p_purchase > p_click`)
    }
  })

  it('without it, random weights do violate the funnel (so the test above can fail)', async () => {
    const m = buildModel(FUNNEL_SPEC, { model: 'resflow', ...small })
    // seed 2's weights put p_purchase above p_click on every row
    const out = (await runForward(m, paramsFor(m, 2), batch)).outputs
    const v = computeFunnelViolations({ click: out['p.click'], purchase: out['p.purchase'] }, ['click', 'purchase'], 0)
    assert.ok(v.anyCount > 0)
    const forced = buildModel(FUNNEL_SPEC, { model: 'resflow', ...small, nonIncreasing: true })
    const held = (await runForward(forced, paramsFor(forced, 2), batch)).outputs
    assert.equal(
      computeFunnelViolations({ click: held['p.click'], purchase: held['p.purchase'] }, ['click', 'purchase'], 0)
        .anyCount,
      0,
    )
  })

  it('z_k = min(z_parents) − softplus(f_k) has correct gradients (gradcheck, float64)', async () => {
    const opts = { residual: 'logit' as const, nonIncreasing: true }
    await gradcheck(
      (f, z1) => residualLogit(f, [z1], opts),
      [
        ['B', 1],
        ['B', 1],
      ],
      { dims: { B: 6 }, low: -30, high: 30 },
    )
    await gradcheck(
      (f, z1, z2) => residualLogit(f, [z1, z2], opts),
      [
        ['B', 1],
        ['B', 1],
        ['B', 1],
      ],
      { dims: { B: 6 } },
    )
    await gradcheck(
      (f, z1, z2) => residualLogit(f, [z1, z2], { residual: 'full', nonIncreasing: false }),
      [
        ['B', 1],
        ['B', 1],
        ['B', 1],
      ],
      { dims: { B: 4 } },
    )
  })
})

describe('task order and task graph', () => {
  const tasks = ['click', 'cart', 'purchase']
  const chain = (nodes: { task: string }[]) => nodes.map((n) => n.task).join(' → ')
  const base = { orderSeed: 0 }

  it('given, reversed, random (seeded) and auto (densest first)', () => {
    assert.equal(chain(resolveTaskGraph(tasks, { ...base, order: 'given' })), 'click → cart → purchase')
    assert.equal(chain(resolveTaskGraph(tasks, { ...base, order: 'reversed' })), 'purchase → cart → click')
    const r1 = chain(resolveTaskGraph(tasks, { order: 'random', orderSeed: 4 }))
    assert.equal(r1, chain(resolveTaskGraph(tasks, { order: 'random', orderSeed: 4 })))
    const rates = { click: 0.1, cart: 0.3, purchase: 0.02 }
    const auto = resolveTaskGraph(tasks, { ...base, order: 'auto', positiveRates: rates })
    assert.equal(chain(auto), 'cart → click → purchase')
    assert.deepEqual(auto[1], { task: 'click', parents: ['cart'] })
  })

  it("auto reads rates from buildModel's extras, and outputs stay keyed in funnel order", async () => {
    const rates = positiveRates(batch, FUNNEL_SPEC.tasks)
    assert.ok(rates.click > rates.purchase)
    const m = buildModel(FUNNEL_SPEC, { model: 'resflow', ...small, taskOrder: 'reversed' }) as unknown as {
      nodes: { task: string }[]
    }
    assert.equal(chain(m.nodes), 'purchase → click')
    const auto = buildModel(
      FUNNEL_SPEC,
      { model: 'resflow', ...small, taskOrder: 'auto' },
      { positiveRates: rates },
    ) as unknown as { nodes: { task: string }[] }
    assert.equal(chain(auto.nodes), 'click → purchase')
    assert.throws(
      () => buildModel(FUNNEL_SPEC, { model: 'resflow', taskOrder: 'auto' }),
      /taskOrder: "auto" .*no rate was given for "click", "purchase".*positiveRates/,
    )
  })

  it('a task may take residuals from several parents; cycles are rejected', async () => {
    const graph = { cart: ['click'], purchase: ['click', 'cart'] }
    const nodes = resolveTaskGraph(tasks, { ...base, order: 'given', graph })
    assert.deepEqual(nodes, [
      { task: 'click', parents: [] },
      { task: 'cart', parents: ['click'] },
      { task: 'purchase', parents: ['click', 'cart'] },
    ])
    const spec = { ...FUNNEL_SPEC, tasks }
    const b = { ...batch, labels: { ...batch.labels, cart: batch.labels.click } }
    const m = buildModel(spec, { model: 'resflow', ...small, graph })
    const run = await runForward(m, paramsFor(m), b)
    assert.equal(run.outputs['p.purchase'].length, b.size)
    assert.throws(
      () =>
        resolveTaskGraph(tasks, {
          ...base,
          order: 'given',
          graph: { click: ['purchase'], purchase: ['cart'], cart: ['click'] },
        }),
      /model\.graph: the task graph has a cycle: (\w+ → ){3}\w+/,
    )
    assert.throws(
      () => resolveTaskGraph(tasks, { ...base, order: 'given', graph: { click: ['click'] } }),
      /cycle: click → click/,
    )
    assert.throws(
      () => resolveTaskGraph(tasks, { ...base, order: 'given', graph: { purchase: ['clik'] } }),
      /unknown task "clik" \(tasks: click, cart, purchase\)/,
    )
    assert.throws(
      () => resolveTaskGraph(tasks, { ...base, order: 'auto', graph }),
      /taskOrder: "auto" cannot be combined with model\.graph/,
    )
  })
})
