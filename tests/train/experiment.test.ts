import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { parse } from 'yaml'
import { buildModel, parseModelConfig } from '../../src/models/registry.js'
import { loadExperiment, modelConfigFor } from '../../src/train/experiment.js'
import { prepareData } from '../../src/train/prepare.js'
import { FUNNEL_SPEC, funnelBatch } from '../helpers/funnel.js'
import { paperKeeps, writeKuaiRandLog } from '../helpers/kuairand-log.js'
import { paramsFor, runGradients } from '../models/forward.js'

const configs = fileURLToPath(new URL('../../configs/', import.meta.url))
const root = mkdtempSync(join(tmpdir(), 'resflow-experiment-'))
after(() => rmSync(root, { recursive: true, force: true }))

/** Mean binary cross-entropy with a positive-class weight, in float64 from the logits. */
function bce(z: Float32Array, y: Float32Array, positiveWeight: number): number {
  let sum = 0
  for (let i = 0; i < z.length; i++) {
    const p = 1 / (1 + Math.exp(-z[i]))
    sum -= positiveWeight * y[i] * Math.log(p) + (1 - y[i]) * Math.log(1 - p)
  }
  return sum / z.length
}

const bnParameters = (names: Iterable<string>) => [...names].filter((n) => /\.bn\./.test(n))

describe('experiment configs', () => {
  it('fuse additively unless told otherwise (the paper found additive better than multiplicative)', () => {
    const file = join(root, 'no-fusion.yaml')
    writeFileSync(file, 'data: { dataset: synthetic, dir: data }\nmodel: { model: resflow }\n')
    assert.equal(loadExperiment(file).fusion?.kind, 'additive')
    writeFileSync(
      file,
      'data: { dataset: synthetic, dir: data }\nmodel: { model: resflow }\nfusion: { kind: multiplicative }\n',
    )
    assert.equal(loadExperiment(file).fusion?.kind, 'multiplicative')
  })

  it('every configs/*.yaml loads, and the demo fuses additively', () => {
    const files = readdirSync(configs).filter((f) => f.endsWith('.yaml'))
    assert.ok(files.includes('aliccp.yaml') && files.includes('kuairand.yaml'))
    for (const f of files) assert.doesNotThrow(() => loadExperiment(join(configs, f)), f)
    assert.equal(loadExperiment(join(configs, 'synthetic.yaml')).fusion?.kind, 'additive')
  })
})

describe('the layer recipe in a comparison', () => {
  it("model's inputBatchNorm, init, preluSlopes and blockBatchNorm apply to every compared model; towers do not", () => {
    const e = {
      model: {
        model: 'resflow',
        towers: [8, 4],
        inputBatchNorm: true,
        init: 'xavier',
        preluSlopes: 'unit',
        blockBatchNorm: false,
      },
      compare: { models: { mmoe: { numExperts: 2 } }, seeds: 1, parallel: 1 },
    } as unknown as Parameters<typeof modelConfigFor>[0]
    assert.deepEqual(modelConfigFor(e, 'mmoe'), {
      model: 'mmoe',
      inputBatchNorm: true,
      init: 'xavier',
      preluSlopes: 'unit',
      blockBatchNorm: false,
      numExperts: 2,
    })
    const mmoe = buildModel(FUNNEL_SPEC, modelConfigFor(e, 'mmoe'))
    assert.deepEqual(mmoe.layers, { init: 'xavier', preluSlopes: 'unit', blockBatchNorm: false })
  })
})

describe('the Ali-CCP preset (configs/aliccp.yaml)', () => {
  const e = loadExperiment(join(configs, 'aliccp.yaml'))
  const options = parseModelConfig(modelConfigFor(e, e.model.model)).options

  it("has the released code's settings: loss weights 2 / 1, positive weights 100 / 500, D = 32, Adam 4e-4", () => {
    assert.equal(e.data.dataset, 'aliccp')
    assert.equal(e.model.model, 'resflow')
    assert.deepEqual(options.lossWeights, { click: 2, purchase: 1 })
    assert.deepEqual(options.positiveWeights, { click: 100, purchase: 500 })
    assert.equal(options.embeddingDim, 32)
    assert.deepEqual(options.towers, [128, 64])
    assert.equal(options.residual, 'full')
    assert.deepEqual(
      [e.optimizer.kind, e.optimizer.lr, e.sparseOptimizer.kind, e.sparseOptimizer.lr],
      ['adam', 4e-4, 'adam', 4e-4],
    )
    assert.equal(e.fusion?.kind, 'additive')
  })

  it('matches configs/models/resflow-aliccp.yaml option for option', () => {
    const preset = parse(readFileSync(join(configs, 'models', 'resflow-aliccp.yaml'), 'utf8')) as { model: string }
    assert.deepEqual(parseModelConfig(preset).options, options)
  })

  it('builds ResFlow with input and block BatchNorm whose loss is 2·BCE(click; 100) + BCE(purchase; 500)', async () => {
    const model = buildModel(FUNNEL_SPEC, modelConfigFor(e, e.model.model))
    const params = paramsFor(model)
    const bn = bnParameters(params.entries.keys())
    assert.ok(bn.includes('input.bn.gamma'), `input BatchNorm (got ${bn.join(', ')})`)
    assert.ok(
      bn.some((n) => n.startsWith('tower.purchase.')),
      'BatchNorm in the towers',
    )
    const batch = funnelBatch(64, 5)
    const { loss, outputs } = await runGradients(model, params, batch)
    const want =
      2 * bce(outputs['z.click'], batch.labels.click, 100) + bce(outputs['z.purchase'], batch.labels.purchase, 500)
    assert.ok(Math.abs(loss - want) <= 1e-4 * want, `loss ${loss} vs ${want}`)
  })
})

describe('the KuaiRand preset (configs/kuairand.yaml)', () => {
  const e = loadExperiment(join(configs, 'kuairand.yaml'))
  const dir = join(root, 'kuairand')
  mkdirSync(dir)
  const rows = {
    train: writeKuaiRandLog(join(dir, 'log_train.csv'), 300, 11),
    val: writeKuaiRandLog(join(dir, 'log_val.csv'), 100, 12),
  }
  writeKuaiRandLog(join(dir, 'log_test.csv'), 100, 13)
  const tasks = [5, 10, 20, 30, 40, 50, 60, 70, 80].map((t) => `watch_${t}s`)

  it('reads the nine watch tasks from the filtered rows, without a click task', async () => {
    assert.equal(e.data.dataset, 'kuairand')
    const data = await prepareData({ ...e.data, dir })
    assert.deepEqual(data.spec.tasks, tasks)
    assert.equal(data.rows.train, rows.train.filter(paperKeeps).length)
    assert.equal(data.rows.val, rows.val.filter(paperKeeps).length)
    assert.ok(data.rows.train < rows.train.length)
  })

  it('builds the logit-only chain with no BatchNorm, positive weights 0.9 + 0.05·i and a plain sum of losses', async () => {
    assert.deepEqual([e.optimizer.lr, e.sparseOptimizer.lr], [1e-3, 1e-3])
    assert.equal(e.fusion, null)
    const data = await prepareData({ ...e.data, dir })
    const config = modelConfigFor(e, e.model.model)
    const { options } = parseModelConfig(config)
    assert.equal(options.embeddingDim, 8)
    const weights = options.positiveWeights as Record<string, number>
    assert.deepEqual(Object.keys(weights), tasks)
    tasks.forEach((t, i) => assert.ok(Math.abs(weights[t] - (0.9 + 0.05 * i)) < 1e-12, `${t}: ${weights[t]}`))
    assert.deepEqual(options.lossWeights, {})

    const model = buildModel(data.spec, config, { positiveRates: data.positiveRates })
    assert.equal(model.name, 'resflow-logit')
    assert.deepEqual(model.tasks, tasks)
    const params = paramsFor(model)
    assert.deepEqual(bnParameters(params.entries.keys()), [])
    const withBn = buildModel(data.spec, { ...config, blockBatchNorm: true, inputBatchNorm: true })
    assert.ok(
      bnParameters(paramsFor(withBn).entries.keys()).length > 0,
      'the check above would see BatchNorm parameters',
    )

    const [batch] = data.trainBatches(1, 0, 64)
    const { loss, outputs } = await runGradients(model, params, batch)
    const want = tasks.reduce((sum, t) => sum + bce(outputs[`z.${t}`], batch.labels[t], weights[t]), 0)
    assert.ok(Math.abs(loss - want) <= 1e-4 * want, `loss ${loss} vs ${want}`)
  })
})
