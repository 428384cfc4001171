import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { overfitNotes, runCompare } from '../../src/train/compare.js'
import { loadExperiment } from '../../src/train/experiment.js'

function tiny(extra: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'resflow-compare-'))
  const text = readFileSync(new URL('../../configs/synthetic_test.yaml', import.meta.url), 'utf8')
    .replace('dir: ../.cache/synthetic_test', `dir: ${join(dir, 'data')}`)
    .replace(/compare:[\s\S]*$/, extra)
  const file = join(dir, 'experiment.yaml')
  writeFileSync(file, text)
  return file
}

describe('runCompare', () => {
  it('sweeps one model setting: one labelled model per value, the same seeds, the same data', async () => {
    const e = loadExperiment(
      tiny('compare:\n  seeds: 1\n  sweep: { field: model.residual, values: [none, full], label: residual }\n'),
    )
    e.epochs = 1
    const result = await runCompare(e, {
      models: ['resflow'],
      seeds: 1,
      outDir: mkdtempSync(join(tmpdir(), 'resflow-compare-out-')),
    })
    const models = [...new Set(result.records.map((r) => r.model))].filter((m) => !m.startsWith('bayes'))
    assert.deepEqual(models, ['resflow residual=none', 'resflow residual=full'])
    const auc = (model: string) =>
      result.records.find(
        (r) => r.model === model && r.split === 'test' && r.task === 'purchase' && r.metric === 'auc',
      )!.value
    assert.notEqual(auc(models[0]), auc(models[1]), 'the swept setting changes the model')
    const params = (model: string) => result.records.find((r) => r.model === model && r.metric === 'parameters')!.value
    assert.equal(params(models[0]), params(models[1]), 'residuals add no parameters')
  })

  it('notes a model that overfits from the first epoch, and only then', () => {
    const run = (seed: number, aucs: number[]) => ({
      model: 'nse',
      seed,
      history: aucs.map((a, i) => ({ epoch: i + 1, trainLoss: 0, valLoss: 0, valAuc: { click: a, purchase: a } })),
    })
    const notes = overfitNotes([
      run(1, [0.7, 0.68, 0.65]),
      run(2, [0.69, 0.7, 0.66]),
      { ...run(1, [0.6, 0.62, 0.63]), model: 'resflow' },
    ])
    assert.deepEqual(notes, [
      "nse: overfits from the first epoch in 1 of 2 seed(s): validation mean AUC peaked at epoch 1 (seed 1: 0.7000) and fell to 0.6500 by epoch 3; early stopping kept epoch 1's weights",
    ])
  })

  it('sweeps a data setting: a chain of 2 and of 3 tasks, each on its own generated data', async () => {
    const e = loadExperiment(
      tiny(
        'compare:\n  sweep: { field: data.generate.tasks, values: [[click, purchase], [click, cart, purchase]], label: tasks }\n',
      ),
    )
    e.epochs = 1
    e.fusion = null
    const result = await runCompare(e, {
      models: ['resflow'],
      seeds: 1,
      outDir: mkdtempSync(join(tmpdir(), 'resflow-compare-out-')),
    })
    const tasksOf = (model: string) => [
      ...new Set(
        result.records.filter((r) => r.model === model && r.split === 'test' && r.metric === 'auc').map((r) => r.task),
      ),
    ]
    assert.deepEqual(tasksOf('resflow tasks=click→purchase'), ['click', 'purchase'])
    assert.deepEqual(tasksOf('resflow tasks=click→cart→purchase'), ['click', 'cart', 'purchase'])
    assert.deepEqual(result.report.tasks, ['click', 'cart', 'purchase'])
  })
})
