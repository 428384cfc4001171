import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { computeAuc } from '../../src/metrics/index.js'
import { TrainSession } from '../../src/train/session.js'
import { sliceBatch, tinyModel, xorData } from '../helpers/tiny-model.js'

describe('TrainSession', () => {
  it('an MLP learns a non-linear task to test AUC > 0.95', async () => {
    const { spec, batch } = xorData(12000, 1)
    const train = sliceBatch(batch, 0, 10000)
    const test = sliceBatch(batch, 10000, 12000)
    const session = await TrainSession.create(tinyModel(spec, { hidden: [32, 16] }), {
      seed: 3,
      optimizer: { kind: 'adam', lr: 0.01 },
      sparseOptimizer: { kind: 'adam', lr: 0.02 },
      embeddingInitStd: 0.1,
    })
    for (let epoch = 0; epoch < 8; epoch++) {
      for (let s = 0; s < train.size; s += 250) await session.trainStep(sliceBatch(train, s, Math.min(train.size, s + 250)))
    }
    const p = await session.predict(test)
    const auc = computeAuc(p.y!, test.labels.y!)
    assert.ok(auc > 0.95, `test AUC ${auc.toFixed(4)} ≤ 0.95`)
  })
})
