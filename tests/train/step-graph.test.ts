import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { InputSpec } from '../../src/data/types.js'
import { topoSort } from '../../src/engine/autodiff.js'
import { EmbeddingTable, packedLayout } from '../../src/nn/embedding.js'
import {
  FEATURES_INPUT,
  afterName,
  gatheredName,
  gradName,
  isAfterName,
  labelName,
  lookupIdsName,
  lookupRowsName,
  probName,
  statMeanName,
  statPair,
  statVarName,
  uniqueRowsDim,
} from '../../src/nn/graph-names.js'
import { lookupGroups } from '../../src/nn/lookup.js'
import { ParamStore } from '../../src/nn/params.js'
import { buildInferenceGraph, buildStepGraph, lookupGradName, mergePlan } from '../../src/train/step-graph.js'
import { tinyModel } from '../helpers/tiny-model.js'

// two single-valued features of one dim, a pooled one, two dense columns, two tasks, BatchNorm
const spec: InputSpec = {
  sparse: [
    { name: 'a', vocabSize: 10 },
    { name: 'b', vocabSize: 7 },
  ],
  multi: [{ name: 'm', vocabSize: 5, pooling: 'mean' }],
  dense: [{ name: 'x' }, { name: 'z' }],
  tasks: ['click', 'buy'],
}

function setup() {
  const model = tinyModel(spec, { hidden: [6], batchNorm: true })
  const params = new ParamStore(1)
  const tables = new Map(
    model.embeddings.map((e, i) => [e.name, new EmbeddingTable(e, { kind: 'adam', lr: 1e-3 }, i + 1, 0.01)]),
  )
  const groups = lookupGroups(tables)
  const layout = packedLayout(
    model.embeddings.filter((e) => e.pooling),
    spec.dense.length,
  )
  return { model, params, groups, layout }
}

describe('graph names', () => {
  it('statPair finds the variance of a mean output, and only of a mean output', () => {
    assert.deepEqual(statPair(statMeanName('tower.bn0')), {
      mean: 'stat.tower.bn0.mean',
      variance: statVarName('tower.bn0'),
    })
    assert.equal(statPair(statVarName('tower.bn0')), null)
    assert.equal(statPair(gradName('tower.bn0.mean')), null)
  })

  it('after-run names are recognised, gradient names are not', () => {
    assert.ok(isAfterName(afterName('gradNorm')))
    assert.ok(!isAfterName(gradName('after')))
  })
})

describe('step graph', () => {
  it('declares its inputs and outputs under the names of nn/graph-names.ts', () => {
    const { model, params, groups, layout } = setup()
    const g = buildStepGraph(model, params, layout, groups, true)
    assert.equal(groups.length, 1)
    const dim = groups[0].dim
    assert.equal(groups[0].rowsInput, lookupRowsName(dim))
    assert.equal(groups[0].idsInput, lookupIdsName(dim))
    assert.equal(groups[0].uniqueDim, uniqueRowsDim(dim))
    assert.ok(g.trainableNames.length > 0)
    assert.equal(g.batchStats.length, 1)
    const expected = [
      'loss',
      ...g.trainableNames.map(gradName),
      gradName(lookupRowsName(dim)),
      gradName(FEATURES_INPUT),
      statMeanName(g.batchStats[0].name),
      statVarName(g.batchStats[0].name),
      probName('click'),
      probName('buy'),
    ]
    assert.deepEqual(Object.keys(g.outputs), expected)
    // the step graph's inputs, reached from its outputs
    const inputs = new Set(
      topoSort(Object.values(g.outputs))
        .filter((t) => t.op === 'input')
        .map((t) => t.name!),
    )
    for (const name of [
      FEATURES_INPUT,
      lookupRowsName(dim),
      lookupIdsName(dim),
      labelName('click'),
      ...g.trainableNames,
    ])
      assert.ok(inputs.has(name), `no input ${name}`)
  })

  it("without summing rows in the graph, returns the gathered vectors' gradient instead", () => {
    const { model, params, groups, layout } = setup()
    const g = buildStepGraph(model, params, layout, groups, false)
    const dim = groups[0].dim
    assert.equal(lookupGradName(groups[0], false), gradName(gatheredName(dim)))
    assert.ok(gradName(gatheredName(dim)) in g.outputs)
    assert.ok(!(gradName(lookupRowsName(dim)) in g.outputs))
  })

  it('the merge plan sums per-batch values, concatenates per-row ones and pools statistics', () => {
    const { model, params, groups, layout } = setup()
    const g = buildStepGraph(model, params, layout, groups, false)
    const plan = mergePlan(g.outputs)
    const dim = groups[0].dim
    const bn = g.batchStats[0].name
    assert.deepEqual(plan.moments, [{ mean: statMeanName(bn), variance: statVarName(bn) }])
    assert.deepEqual(plan.averaged, ['loss', ...g.trainableNames.map(gradName)])
    assert.deepEqual(plan.rowGradients, [gradName(gatheredName(dim)), gradName(FEATURES_INPUT)])
    assert.deepEqual(plan.rows, [probName('click'), probName('buy')])
  })

  it('the inference graph returns one probability per task', () => {
    const { model, params, groups, layout } = setup()
    buildStepGraph(model, params, layout, groups, true) // creates the parameters, as the session does
    assert.deepEqual(Object.keys(buildInferenceGraph(model, params, layout, groups)), [
      probName('click'),
      probName('buy'),
    ])
  })
})
