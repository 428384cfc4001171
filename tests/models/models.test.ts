import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { concat, reduceSum, softmax } from '../../src/engine/ops.js'
import { parameterCount } from '../../src/models/count.js'
import { MODEL_NAMES, type ModelConfigInput, buildModel, getModel } from '../../src/models/registry.js'
import { itemAttention } from '../../src/nn/attention.js'
import { BuildContext, ParamStore } from '../../src/nn/params.js'
import { TrainSession } from '../../src/train/session.js'
import type { InputSpec } from '../../src/data/types.js'
import { gradcheckGraph } from '../helpers/gradcheck.js'
import { FUNNEL_SPEC, funnelBatch } from '../helpers/funnel.js'
import { paramsFor, runForward, runGradients } from './forward.js'
import { SMALL_CONFIGS } from './small-configs.js'

const batch = funnelBatch(48, 21)

describe('forward shapes', () => {
  for (const name of MODEL_NAMES) {
    it(`${name}: a probability [B, 1] in (0, 1) per task, logits [B, 1] where it has them`, async () => {
      const model = buildModel(FUNNEL_SPEC, { model: name, ...SMALL_CONFIGS[name] })
      assert.deepEqual(model.tasks, FUNNEL_SPEC.tasks)
      const { outputs, shapes } = await runForward(model, paramsFor(model), batch)
      for (const task of FUNNEL_SPEC.tasks) {
        assert.deepEqual(shapes[`p.${task}`], ['B', 1], `${name} p.${task}`)
        const p = outputs[`p.${task}`]
        assert.equal(p.length, batch.size)
        assert.ok(
          p.every((v) => v > 0 && v < 1),
          `${name} p.${task} outside (0, 1)`,
        )
        if (shapes[`z.${task}`]) assert.deepEqual(shapes[`z.${task}`], ['B', 1])
      }
      assert.ok(shapes['z.click'], `${name}: the first task has a logit`)
    })
  }
})

describe('ESMM', () => {
  it('p_ctcvr equals p_ctr · p_cvr', async () => {
    const model = buildModel(FUNNEL_SPEC, { model: 'esmm', ...SMALL_CONFIGS.esmm })
    const out = (await runForward(model, paramsFor(model), batch)).outputs
    const ctr = out['p.click']
    const cvr = out['x.cond.purchase']
    out['p.purchase'].forEach((v, i) => assert.ok(Math.abs(v - ctr[i] * cvr[i]) < 1e-7, `row ${i}`))
  })

  it('the CTCVR loss (log space) is the weighted BCE of that product on the purchase label', async () => {
    for (const w of [1, 3]) {
      const model = buildModel(FUNNEL_SPEC, {
        model: 'esmm',
        ...SMALL_CONFIGS.esmm,
        lossWeights: { click: 0 },
        positiveWeights: { purchase: w },
      })
      const { loss, outputs } = await runGradients(model, paramsFor(model), batch)
      const p = outputs['p.purchase'] // training mode: batch statistics
      const y = batch.labels.purchase
      let want = 0
      p.forEach((pi, i) => (want -= y[i] ? w * Math.log(pi) : Math.log(1 - pi)))
      want /= p.length
      assert.ok(
        Math.abs(loss - want) < 1e-5 * Math.max(1, want),
        `w=${w}: loss ${loss} vs −mean[w·y log p + (1−y) log(1−p)] ${want}`,
      )
    }
  })
})

describe('AITM', () => {
  it('the attention over {p_{t−1}, q_t} has correct gradients (gradcheck, float64)', async () => {
    await gradcheckGraph(
      (g) => {
        const ctx = new BuildContext(new ParamStore(1), true, g)
        return itemAttention(ctx, 'ait', [g.input('x0', ['B', 3]), g.input('x1', ['B', 3])], 2)
      },
      { dims: { B: 3 } },
    )
  })

  it('the calibration constraint adds α · mean(max(ŷ_2 − ŷ_1, 0)) to the loss', async () => {
    const a = buildModel(FUNNEL_SPEC, { model: 'aitm', ...SMALL_CONFIGS.aitm, calibrationWeight: 0 })
    const b = buildModel(FUNNEL_SPEC, { model: 'aitm', ...SMALL_CONFIGS.aitm, calibrationWeight: 100 })
    const params = paramsFor(a, 17)
    const l0 = (await runGradients(a, params, batch)).loss
    const l1 = (await runGradients(b, params, batch)).loss
    assert.ok(l1 > l0, `with random weights some rows violate, so the constraint costs: ${l1} vs ${l0}`)
  })
})

describe('twin-tower ResFlow', () => {
  it('exposes user and item vectors per task; serving recomposes z_k = Σ_{j≤k} ⟨u_j, v_j⟩', async () => {
    const model = buildModel(FUNNEL_SPEC, { model: 'resflow-twin', ...SMALL_CONFIGS['resflow-twin'] })
    const params = paramsFor(model)
    const { outputs: o, shapes } = await runForward(model, params, batch)
    assert.deepEqual(shapes['x.user.click'], ['B', 8])
    const V = 8
    const dot = (t: string, r: number) => {
      let s = 0
      for (let j = 0; j < V; j++) s += o[`x.user.${t}`][r * V + j] * o[`x.item.${t}`][r * V + j]
      return s
    }
    for (let r = 0; r < batch.size; r++) {
      assert.ok(Math.abs(o['z.click'][r] - dot('click', r)) < 1e-4)
      assert.ok(Math.abs(o['z.purchase'][r] - (dot('click', r) + dot('purchase', r))) < 1e-4)
    }
  })

  it('item vectors depend on item features only (so they can be cached)', async () => {
    const model = buildModel(FUNNEL_SPEC, { model: 'resflow-twin', ...SMALL_CONFIGS['resflow-twin'] })
    const params = paramsFor(model)
    const a = (await runForward(model, params, batch)).outputs
    const other = {
      ...batch,
      sparse: { ...batch.sparse, user: batch.sparse.user.slice().reverse() },
      dense: batch.dense.map((v, i) => (i % 3 === 2 ? v : -v)),
    }
    const b = (await runForward(model, params, other)).outputs
    assert.deepEqual(Array.from(b['x.item.purchase']), Array.from(a['x.item.purchase']))
    assert.notDeepEqual(Array.from(b['x.user.purchase']), Array.from(a['x.user.purchase']))
  })
})

describe('MoE gates', () => {
  it('each gate is a softmax over the experts (rows sum to 1)', async () => {
    const { Graph } = await import('../../src/engine/node.js')
    const { compile } = await import('../../src/engine/compile.js')
    const g = new Graph('float32')
    const x = g.input('x', [2, 3])
    const p = await compile({ s: reduceSum(softmax(concat([x, x], 1), 1), [1]) })
    const s = (await p.run({ x: Float32Array.of(1, 2, 3, -4, 5, 60) }, {})).s
    assert.ok(Math.abs(s[0] - 1) < 1e-6 && Math.abs(s[1] - 1) < 1e-6)
  })
})

describe('parameter counts', () => {
  const spec: InputSpec = {
    sparse: [
      { name: 'a', vocabSize: 10 },
      { name: 'b', vocabSize: 5 },
    ],
    multi: [],
    dense: [{ name: 'd' }],
    tasks: ['click', 'purchase'],
  }
  // input width I = 2 fields × 4 + 1 dense = 9; embeddings (10 + 5) × 4 = 60; no input BatchNorm by default
  // ResFlow towers [3, 2] per task: layer 0 (9·3 + 3) + 1 shared PReLU slope + 6 BN = 37; layer 1 (3·2 + 2) + 1 + 4 = 13;
  // logit 2 + 1 = 3 → 53

  it('ResFlow: 60 + 2 × 53 = 166, equal to the training session’s count; +2 with uncertainty weighting', async () => {
    const model = buildModel(spec, { model: 'resflow', embeddingDim: 4, towers: [3, 2] })
    assert.deepEqual(parameterCount(model), { dense: 106, embedding: 60, total: 166 })
    const session = await TrainSession.create(model, { seed: 1 })
    assert.equal(session.parameterCount(), 166)
    await session.release()
    const kendall = buildModel(spec, { model: 'resflow', embeddingDim: 4, towers: [3, 2], uncertaintyWeighting: true })
    assert.equal(parameterCount(kendall).total, 168)
    // residuals add no parameters: NSE has the same count
    assert.equal(parameterCount(buildModel(spec, { model: 'nse', embeddingDim: 4, towers: [3, 2] })).total, 166)
  })

  it('ResFlow with input BatchNorm (γ, β: 2 × 9) and per-unit PReLU slopes (+2 and +1 per task): 166 + 18 + 2 × 3 = 190', () => {
    const model = buildModel(spec, {
      model: 'resflow',
      embeddingDim: 4,
      towers: [3, 2],
      inputBatchNorm: true,
      preluSlopes: 'unit',
    })
    assert.deepEqual(parameterCount(model), { dense: 130, embedding: 60, total: 190 })
    // without the blocks' BatchNorm: 2 × (6 + 4) fewer
    assert.equal(
      parameterCount(buildModel(spec, { model: 'resflow', embeddingDim: 4, towers: [3, 2], blockBatchNorm: false }))
        .total,
      146,
    )
  })

  it('MMoE: 60 + experts 2 × 37 + gates 2 × (9·2 + 2) + towers 2 × (13 + 3) = 206', () => {
    const model = buildModel(spec, { model: 'mmoe', embeddingDim: 4, numExperts: 2, expertUnits: [3], towers: [2] })
    assert.equal(parameterCount(model).total, 206)
  })

  it('SingleTask: embeddings K × (15 × 4) = 120, and per task its own tower (53): 120 + 106 = 226', () => {
    const model = buildModel(spec, { model: 'single', embeddingDim: 4, towers: [3, 2] })
    assert.deepEqual(parameterCount(model), { dense: 106, embedding: 120, total: 226 })
  })
})

describe('priorBias: logits start at the log-odds of the positive rates', () => {
  const rates = { click: 0.04, purchase: 0.003 }
  const logOdds = (p: number) => Math.log(p / (1 - p))
  const biasOf = (model: string, task: string, name = `tower.${task}.logit.bias`) => {
    const m = buildModel(
      FUNNEL_SPEC,
      { model, embeddingDim: 4, towers: [4], priorBias: true },
      { positiveRates: rates },
    )
    return paramsFor(m).entries.get(name)!.values[0]
  }
  it('independent heads: log(p / (1 − p)) per task', () => {
    for (const model of ['nse', 'shared-bottom', 'mmoe', 'ple']) {
      for (const task of ['click', 'purchase'] as const)
        assert.ok(Math.abs(biasOf(model, task) - logOdds(rates[task])) < 1e-6, `${model} ${task}`)
    }
  })
  it('ResFlow: the purchase head adds to the click logit, so its bias is the difference of the log-odds; ESMM: the conditional rate', () => {
    assert.ok(Math.abs(biasOf('resflow', 'purchase') - (logOdds(0.003) - logOdds(0.04))) < 1e-6)
    assert.ok(Math.abs(biasOf('resflow', 'click') - logOdds(0.04)) < 1e-6)
    assert.ok(Math.abs(biasOf('esmm', 'purchase') - logOdds(0.003 / 0.04)) < 1e-6)
  })
  it('the mean predicted probability of an untrained model is near the rate (without: near 0.5)', async () => {
    for (const [priorBias, near] of [
      [true, rates],
      [false, { click: 0.5, purchase: 0.5 }],
    ] as const) {
      const m = buildModel(
        FUNNEL_SPEC,
        { model: 'resflow', embeddingDim: 4, towers: [8, 4], priorBias },
        { positiveRates: rates },
      )
      const out = (await runForward(m, paramsFor(m), funnelBatch(256, 3))).outputs
      for (const task of ['click', 'purchase'] as const) {
        const p = out[`p.${task}`]
        const mean = p.reduce((a, b) => a + b, 0) / p.length
        assert.ok(
          Math.abs(Math.log(mean / near[task])) < Math.log(3),
          `priorBias ${priorBias} ${task}: mean p ${mean} vs ${near[task]}`,
        )
      }
    }
  })
  it("with a positive weight w the start is the weighted loss's minimiser, log(w·p / (1 − p))", () => {
    const m = buildModel(
      FUNNEL_SPEC,
      { model: 'nse', embeddingDim: 4, towers: [4], priorBias: true, positiveWeights: { purchase: 10 } },
      { positiveRates: rates },
    )
    const bias = paramsFor(m).entries.get('tower.purchase.logit.bias')!.values[0]
    assert.ok(Math.abs(bias - Math.log((10 * 0.003) / 0.997)) < 1e-6, `${bias}`)
  })
  it('without the rates (or with priorBias off) the bias keeps its random init', () => {
    const m = buildModel(FUNNEL_SPEC, { model: 'nse', embeddingDim: 4, towers: [4], priorBias: true })
    assert.ok(Math.abs(paramsFor(m).entries.get('tower.click.logit.bias')!.values[0]) <= 0.5)
  })
})

describe('config errors', () => {
  it('an unknown model lists the available ones', () => {
    assert.throws(
      () => getModel('resflw'),
      /model: unknown model "resflw" \(available: single, nse, shared-bottom, esmm, omoe, mmoe, ple, aitm, resflow, resflow-logit, resflow-twin\)/,
    )
    assert.throws(() => buildModel(FUNNEL_SPEC, { model: 'mmeo' } as ModelConfigInput), /unknown model "mmeo"/)
  })

  it('an unknown option lists the allowed ones', () => {
    assert.throws(
      () => buildModel(FUNNEL_SPEC, { model: 'resflow', towerz: [1] } as ModelConfigInput),
      /^ConfigError: model: unknown option "towerz" for model "resflow" \(allowed: .*residual.*towers/,
    )
    assert.throws(
      () => buildModel(FUNNEL_SPEC, { model: 'nse', residual: 'full' } as ModelConfigInput),
      /unknown option "residual" for model "nse"/,
    )
  })

  it('bad values name the field, the allowed values and what was given', () => {
    assert.throws(
      () => buildModel(FUNNEL_SPEC, { model: 'resflow', residual: 'fulll' } as ModelConfigInput),
      /model\.residual: expected one of "none", "logit", "full", got "fulll"/,
    )
    assert.throws(() => buildModel(FUNNEL_SPEC, { model: 'mmoe', numExperts: 0 }), /model\.numExperts: /)
    assert.throws(
      () => buildModel(FUNNEL_SPEC, { model: 'resflow', lossWeights: { purchse: 2 } }),
      /model\.lossWeights: unknown task "purchse" \(tasks: click, purchase\)/,
    )
    assert.throws(
      () => buildModel(FUNNEL_SPEC, { model: 'resflow', towers: { click: [4] } }),
      /model\.towers: no tower sizes for task\(s\) "purchase"/,
    )
  })

  it('residual layers of unequal width say which layers differ; the logit residual allows them', () => {
    const towers = { click: [16, 64], purchase: [16, 32] }
    assert.throws(
      () => buildModel(FUNNEL_SPEC, { model: 'resflow', towers }),
      (e: Error) =>
        e.name === 'ConfigError' &&
        e.message ===
          'model.towers: residual layers must have equal widths: task "purchase" layer 1 has 32 units, task "click" layer 1 has 64',
    )
    assert.throws(
      () => buildModel(FUNNEL_SPEC, { model: 'resflow', towers: { click: [16], purchase: [16, 8] } }),
      /task "purchase" has 2 layers, task "click" has 1/,
    )
    assert.doesNotThrow(() => buildModel(FUNNEL_SPEC, { model: 'resflow-logit', towers }))
  })

  it('non-increasing needs a logit residual; twin towers need features on both sides', () => {
    assert.throws(
      () => buildModel(FUNNEL_SPEC, { model: 'resflow', residual: 'none', nonIncreasing: true }),
      /model\.nonIncreasing: needs a logit residual/,
    )
    const userOnly = {
      ...FUNNEL_SPEC,
      sparse: FUNNEL_SPEC.sparse.map((f) => ({ ...f, side: 'user' as const })),
      dense: FUNNEL_SPEC.dense.map((f) => ({ name: f.name })),
    }
    assert.throws(
      () => buildModel(userOnly, { model: 'resflow-twin' }),
      /resflow-twin needs features on both sides, the spec has no item features/,
    )
  })
})

describe('multi-task loss', () => {
  it('weights tasks, and with uncertainty weighting ∂L/∂s_k = w_k (½ − L_k) at s_k = 0', async () => {
    const base = { ...SMALL_CONFIGS.resflow, lossWeights: { click: 2 } }
    const onlyClick = buildModel(FUNNEL_SPEC, { model: 'resflow', ...base, lossWeights: { click: 1, purchase: 0 } })
    const onlyPurchase = buildModel(FUNNEL_SPEC, { model: 'resflow', ...base, lossWeights: { click: 0, purchase: 1 } })
    const weighted = buildModel(FUNNEL_SPEC, { model: 'resflow', ...base })
    const kendall = buildModel(FUNNEL_SPEC, { model: 'resflow', ...base, uncertaintyWeighting: true })
    const params = paramsFor(kendall)
    const lc = (await runGradients(onlyClick, params, batch)).loss
    const lp = (await runGradients(onlyPurchase, params, batch)).loss
    assert.ok(Math.abs((await runGradients(weighted, params, batch)).loss - (2 * lc + lp)) < 1e-5)
    const k = await runGradients(kendall, params, batch)
    assert.ok(Math.abs(k.loss - (2 * lc + lp)) < 1e-5, 'at s = 0, exp(−s) = 1 and ½ s = 0')
    assert.ok(Math.abs(k.grads['loss.log_var.click'][0] - 2 * (0.5 - lc)) < 1e-5)
    assert.ok(Math.abs(k.grads['loss.log_var.purchase'][0] - (0.5 - lp)) < 1e-5)
  })
})

describe('example configs', () => {
  it('every configs/models/*.yaml is a valid model config', async () => {
    const { readdirSync, readFileSync } = await import('node:fs')
    const { parse } = await import('yaml')
    const { parseModelConfig } = await import('../../src/models/registry.js')
    const dir = new URL('../../configs/models/', import.meta.url)
    const files = readdirSync(dir).filter((f) => f.endsWith('.yaml'))
    assert.ok(files.length >= 5)
    for (const f of files) assert.doesNotThrow(() => parseModelConfig(parse(readFileSync(new URL(f, dir), 'utf8'))), f)
  })
})

describe('multi-valued features', () => {
  it('pooled features join the shared input (and a side of the twin towers)', async () => {
    const spec: InputSpec = { ...FUNNEL_SPEC, multi: [{ name: 'tags', vocabSize: 12, pooling: 'mean', side: 'item' }] }
    const offsets = Int32Array.from({ length: batch.size + 1 }, (_, i) => 2 * i)
    const ids = Int32Array.from({ length: 2 * batch.size }, (_, i) => 1 + (i % 11))
    const b = { ...batch, multi: { tags: { offsets, ids } } }
    for (const name of ['resflow', 'resflow-twin'] as const) {
      const model = buildModel(spec, { model: name, ...SMALL_CONFIGS[name] })
      assert.ok(model.embeddings.some((e) => e.name === 'tags' && e.pooling === 'mean'))
      const { outputs } = await runForward(model, paramsFor(model), b)
      assert.equal(outputs['p.purchase'].length, b.size)
    }
  })
})
