/** The README's library example, run as written (smaller), through the public entry point. */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { TrainSession, buildModel, computeAuc, generateSynthetic, openDataset } from '../../src/index.js'

describe('public API', () => {
  it('the README example trains ResFlow on synthetic data to a purchase AUC above chance', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'resflow-readme-'))
    try {
      await generateSynthetic({ outDir: dir, rows: 100_000, seed: 1, tasks: ['click', 'purchase'] })
      const data = await openDataset({ dataset: 'synthetic', path: dir })
      const model = buildModel(data.spec, { model: 'resflow', towers: [32, 16], embeddingDim: 8 })
      const session = await TrainSession.create(model, {
        seed: 1,
        optimizer: { kind: 'adam', lr: 2e-3 },
        sparseOptimizer: { kind: 'adam', lr: 2e-3 },
      })
      for (let epoch = 0; epoch < 2; epoch++)
        await session.trainBatches(data.train.batches(1024, { shuffle: true, seed: epoch }))
      const val = data.val!.all()
      const probs = await session.predict(val)
      const click = computeAuc(probs.click, val.labels.click)
      const purchase = computeAuc(probs.purchase, val.labels.purchase)
      // ~10k validation rows hold ~400 clicks and ~32 purchases: chance is 0.5 ± 0.015 (click), ± 0.05 (purchase)
      assert.ok(click > 0.6, `click AUC ${click}`)
      assert.ok(purchase > 0.6, `purchase AUC ${purchase}`)
      await session.release()
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
