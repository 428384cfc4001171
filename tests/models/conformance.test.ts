/**
 * Every registry entry: builds, gives [B, 1] outputs per task, learns the synthetic funnel to a
 * validation AUC well above trivial, and repeats exactly with the same seed. New models join
 * automatically (their small config is enforced by the type of SMALL_CONFIGS).
 *
 * Threshold: a constant or random scorer has AUC 0.5; on 2000 validation rows (≈ 370 clicks,
 * ≈ 150 purchases) the AUC of a random scorer has a standard deviation of about 0.015 (click) and
 * 0.025 (purchase), so 0.70 is > 8σ above chance for both: no model passes it by luck. The generator's
 * true probabilities reach ≈ 0.86 (click) and ≈ 0.88 (purchase); after 3 epochs the small models
 * reach 0.74–0.83, so 0.70 leaves a margin for seeds and thread counts.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { computeAuc } from '../../src/metrics/auc.js'
import { MODEL_NAMES, buildModel } from '../../src/models/registry.js'
import { TrainSession } from '../../src/train/session.js'
import { funnelData, rowsOf } from '../helpers/funnel.js'
import { SMALL_CONFIGS } from './small-configs.js'

const AUC_THRESHOLD = 0.7
const data = funnelData({ train: 4000, val: 2000 })

async function session(name: string, seed: number) {
  const model = buildModel(data.spec, { model: name, ...SMALL_CONFIGS[name as keyof typeof SMALL_CONFIGS] })
  return TrainSession.create(model, {
    seed,
    optimizer: { kind: 'adam', lr: 0.01 },
    sparseOptimizer: { kind: 'adam', lr: 0.02 },
    embeddingInitStd: 0.1,
  })
}

async function train(s: TrainSession, epochs: number, batchSize = 250): Promise<number[]> {
  const losses: number[] = []
  for (let e = 0; e < epochs; e++) {
    for (let i = 0; i < data.train.size; i += batchSize)
      losses.push((await s.trainStep(rowsOf(data.train, i, Math.min(data.train.size, i + batchSize)))).loss)
  }
  return losses
}

describe('every registered model', () => {
  for (const name of MODEL_NAMES) {
    describe(name, () => {
      it('trains on the synthetic funnel to validation AUC > 0.70 for every task', async (t) => {
        const s = await session(name, 1)
        const losses = await train(s, 3)
        assert.ok(losses.every(Number.isFinite), `non-finite loss: ${losses}`)
        const p = await s.predict(data.val)
        for (const task of data.spec.tasks) {
          assert.equal(p[task].length, data.val.size, `${task}: one probability per row`)
          const auc = computeAuc(p[task], data.val.labels[task])
          t.diagnostic(`${task} validation AUC ${auc.toFixed(4)}`)
          assert.ok(auc > AUC_THRESHOLD, `${name} ${task}: validation AUC ${auc.toFixed(4)} ≤ ${AUC_THRESHOLD}`)
        }
        await s.release()
      })

      it('repeats exactly with the same seed, and not with another', async () => {
        const run = async (seed: number) => {
          const s = await session(name, seed)
          const losses = await train(s, 1, 1000)
          const p = await s.predict(rowsOf(data.val, 0, 200))
          await s.release()
          return { losses, p: Array.from(p[data.spec.tasks[1]]) }
        }
        const a = await run(5)
        const b = await run(5)
        const c = await run(6)
        assert.deepEqual(a, b)
        assert.notDeepEqual(a.losses, c.losses)
      })
    })
  }
})
