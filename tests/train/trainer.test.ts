import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import type { Batch } from '../../src/data/types.js'
import { Rng } from '../../src/engine/rng.js'
import type { EarlyStoppingConfig } from '../../src/train/early-stop.js'
import { type TrainData, TrainingDivergedError, fit } from '../../src/train/trainer.js'
import { silentProgress } from '../../src/train/progress.js'
import { TrainSession } from '../../src/train/session.js'
import { sliceBatch, tinyModel, xorData } from '../helpers/tiny-model.js'

const { spec, batch: all } = xorData(3000, 21)
const train = sliceBatch(all, 0, 2000)
const val = sliceBatch(all, 2000, 2500)
const test = sliceBatch(all, 2500, 3000)

/** Batches of 250 rows in a permutation that depends only on the epoch, as TrainData requires. */
function batchesOf(
  source: Batch,
  epoch: number,
  hooks: { onBatch?: (epoch: number, i: number, b: Batch) => Batch } = {},
): Batch[] {
  const order = new Rng(1000 + epoch).shuffle(Array.from({ length: source.size / 250 }, (_, i) => i))
  return order.map((k, i) =>
    (hooks.onBatch ?? ((_e, _i, b) => b))(epoch, i, sliceBatch(source, k * 250, k * 250 + 250)),
  )
}

function data(opts: { val?: Batch; onBatch?: (epoch: number, i: number, b: Batch) => Batch } = {}): TrainData {
  return { trainRows: train.size, trainBatches: (e) => batchesOf(train, e, opts), valBatches: () => [opts.val ?? val] }
}

const noStop: EarlyStoppingConfig = { metric: 'mean-auc', patience: null, minDelta: 0, restoreBest: false }
/** A fresh session of the same config (as a new process would build it); `workers` data-parallel, else 1. */
const session = (workers?: number) =>
  TrainSession.create(tinyModel(spec, { hidden: [16, 8], dropout: 0.1, batchNorm: true }), {
    seed: 7,
    workers,
    optimizer: { kind: 'adam', lr: 0.01 },
    sparseOptimizer: { kind: 'adam', lr: 0.02 },
    embeddingInitStd: 0.1,
  })
const tmp = () => mkdtempSync(join(tmpdir(), 'resflow-trainer-'))
/** The reference for the resume tests: a run of `epochs` epochs that nothing interrupts (its folder, its session). */
async function uninterrupted(epochs: number, workers?: number): Promise<{ dir: string; session: TrainSession }> {
  const dir = tmp()
  const s = await session(workers)
  await fit(s, data(), { runDir: dir, epochs, earlyStopping: noStop, fingerprint: 'x' })
  return { dir, session: s }
}
/** The training data, with the process killed when batch `batch` of epoch `epoch` is read. */
const killedAt = (epoch: number, batch: number) =>
  data({
    onBatch: (e, i, b) => {
      if (e === epoch && i === batch) throw new Error('killed')
      return b
    },
  })
/** The lines of a run's log.jsonl. */
const logOf = <T>(dir: string) =>
  readFileSync(join(dir, 'log.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as T)

describe('fit', () => {
  it('with 2 data-parallel workers, a run interrupted in epoch 2 and resumed ends bit for bit like an uninterrupted run', async () => {
    const { dir: whole, session: a } = await uninterrupted(3, 2)
    const broken = tmp()
    const crash = killedAt(2, 5)
    await assert.rejects(
      fit(await session(2), crash, {
        runDir: broken,
        epochs: 3,
        earlyStopping: noStop,
        fingerprint: 'x',
        checkpointBatches: 2,
      }),
      /killed/,
    )
    const b2 = await session(2)
    await fit(b2, data(), { runDir: broken, epochs: 3, earlyStopping: noStop, fingerprint: 'x', resume: true })
    assert.deepEqual(readFileSync(join(broken, 'weights.bin')), readFileSync(join(whole, 'weights.bin')))
    assert.deepEqual(Array.from((await b2.predict(test)).y), Array.from((await a.predict(test)).y))
    // and the workers change the result (BatchNorm per shard): the comparison above is not one of 1-worker runs
    const one = await session()
    await fit(one, data(), { runDir: tmp(), epochs: 3, earlyStopping: noStop, fingerprint: 'x' })
    assert.notDeepEqual(Array.from((await one.predict(test)).y), Array.from((await a.predict(test)).y))
    await Promise.all([a.release(), b2.release(), one.release()])
  })

  it('a run interrupted in epoch 3 and resumed ends bit for bit like an uninterrupted run', async () => {
    const { dir: whole, session: a } = await uninterrupted(5)

    const broken = tmp()
    const b1 = await session()
    const crash = killedAt(3, 4)
    await assert.rejects(
      fit(b1, crash, { runDir: broken, epochs: 5, earlyStopping: noStop, fingerprint: 'x' }),
      /killed/,
    )
    const b2 = await session() // a fresh process: the same config, nothing carried over in memory
    const resumed = await fit(b2, data(), {
      runDir: broken,
      epochs: 5,
      earlyStopping: noStop,
      fingerprint: 'x',
      resume: true,
    })

    assert.equal(resumed.history.length, 5)
    assert.deepEqual(readFileSync(join(broken, 'weights.bin')), readFileSync(join(whole, 'weights.bin')))
    assert.deepEqual(Array.from((await b2.predict(test)).y), Array.from((await a.predict(test)).y))
    const logs = (dir: string) => logOf<{ epoch: number; valAuc: unknown }>(dir)
    assert.deepEqual(
      logs(broken).map((l) => [l.epoch, l.valAuc]),
      logs(whole).map((l) => [l.epoch, l.valAuc]),
    )
  })

  it('checkpoints within an epoch: pausing changes nothing, and a crash resumes from the batch after the checkpoint', async () => {
    const { dir: whole, session: a } = await uninterrupted(4)

    // pausing every 3 batches (8 per epoch) to write a checkpoint: the same steps as not pausing
    const paused = tmp()
    const p = await session()
    await fit(p, data(), { runDir: paused, epochs: 4, earlyStopping: noStop, fingerprint: 'x', checkpointBatches: 3 })
    assert.deepEqual(readFileSync(join(paused, 'weights.bin')), readFileSync(join(whole, 'weights.bin')))

    // killed at batch 5 of epoch 3, after the checkpoint taken at its batch 3: resume trains batches 4…8
    const broken = tmp()
    const crash: TrainData = {
      ...data(),
      *trainBatches(e) {
        // lazily: the process dies while batch 5 of epoch 3 is being read
        for (const [i, b] of batchesOf(train, e).entries()) {
          if (e === 3 && i === 5) throw new Error('killed')
          yield b
        }
      },
    }
    await assert.rejects(
      fit(await session(), crash, {
        runDir: broken,
        epochs: 4,
        earlyStopping: noStop,
        fingerprint: 'x',
        checkpointBatches: 3,
      }),
      /killed/,
    )
    const notes: string[] = []
    const b2 = await session()
    await fit(b2, data(), {
      runDir: broken,
      epochs: 4,
      earlyStopping: noStop,
      fingerprint: 'x',
      resume: true,
      progress: { ...silentProgress, note: (m) => notes.push(m) },
    })
    assert.match(notes.join('\n'), /resumed from .*checkpoint\.bin in epoch 3 after 3 batches/)
    assert.deepEqual(readFileSync(join(broken, 'weights.bin')), readFileSync(join(whole, 'weights.bin')))
    assert.deepEqual(Array.from((await b2.predict(test)).y), Array.from((await a.predict(test)).y))
    const logs = (dir: string) => logOf<{ epoch: number; trainLoss: number; rows: number }>(dir)
    assert.deepEqual(
      logs(broken).map((l) => [l.epoch, l.trainLoss, l.rows]),
      logs(whole).map((l) => [l.epoch, l.trainLoss, l.rows]),
    )
  })

  it('refuses to resume a checkpoint of another experiment', async () => {
    const dir = tmp()
    await fit(await session(), data(), { runDir: dir, epochs: 1, earlyStopping: noStop, fingerprint: 'x' })
    await assert.rejects(
      fit(await session(), data(), { runDir: dir, epochs: 2, earlyStopping: noStop, fingerprint: 'y', resume: true }),
      /checkpoint\.bin: the checkpoint was written by a different experiment config/,
    )
  })

  it('stops early on the validation split, never on anything else, and restores the best epoch', async () => {
    // validation labels flipped: the better the model learns the training task, the worse its
    // validation AUC, so the best validation epoch is the first although training keeps improving
    const flipped: Batch = { ...val, labels: { y: val.labels.y.map((v) => 1 - v) } }
    const es: EarlyStoppingConfig = { metric: 'task-auc', task: 'y', patience: 2, minDelta: 0, restoreBest: true }
    const dir = tmp()
    const s = await session()
    const result = await fit(s, data({ val: flipped }), { runDir: dir, epochs: 10, earlyStopping: es })
    assert.equal(result.best.epoch, 1)
    assert.equal(result.stoppedEarly, true)
    assert.equal(result.history.length, 3)
    assert.ok(result.history[2].valAuc.y < result.history[0].valAuc.y)

    const one = await session()
    await fit(one, data({ val: flipped }), { runDir: tmp(), epochs: 1, earlyStopping: es })
    assert.deepEqual(
      Array.from((await s.predict(test)).y),
      Array.from((await one.predict(test)).y),
      'the restored weights are epoch 1',
    )

    // the same training data with the true validation labels trains on past epoch 3
    const honest = await fit(await session(), data(), { runDir: tmp(), epochs: 5, earlyStopping: es })
    assert.ok(honest.best.epoch > 1, `best epoch ${honest.best.epoch}`)
  })

  it('stops on a NaN loss with a message naming the step and the last good checkpoint', async () => {
    const dir = tmp()
    const poisoned = data({
      onBatch: (e, i, b) => (e === 2 && i === 2 ? { ...b, dense: b.dense.map((v, j) => (j === 0 ? NaN : v)) } : b),
    })
    const err = await fit(await session(), poisoned, { runDir: dir, epochs: 3, earlyStopping: noStop }).then(
      () => null,
      (e: unknown) => e,
    )
    assert.ok(err instanceof TrainingDivergedError, String(err))
    assert.match(
      err.message,
      /^step 11 \(epoch 2, batch 3\): training loss is NaN, stopped; last good checkpoint: .*checkpoint\.bin \(end of epoch 1\)/,
    )
    assert.equal(err.step, 11)
  })

  it('writes one log line per epoch with the validation AUC per task', async () => {
    const dir = tmp()
    await fit(await session(), data(), { runDir: dir, epochs: 2, earlyStopping: noStop })
    const lines = logOf<Record<string, unknown>>(dir)
    assert.deepEqual(
      lines.map((l) => l.epoch),
      [1, 2],
    )
    assert.deepEqual(Object.keys(lines[0]).sort(), [
      'best',
      'epoch',
      'monitor',
      'rows',
      'samplesPerSecond',
      'seconds',
      'trainLoss',
      'valAuc',
      'valLoss',
    ])
    assert.equal(lines[1].rows, 2000)
  })
})
