import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { computeAuc } from '../../src/metrics/auc.js'
import { TrainSession } from '../../src/train/session.js'
import type { Batch, InputSpec } from '../../src/data/types.js'
import { mixedBatch, mixedModel } from '../helpers/mixed-lookups.js'
import { Rng } from '../helpers/rng.js'
import { sliceBatch, tinyModel, xorData } from '../helpers/tiny-model.js'

/** Asserts that `b` holds the embedding tables and dense parameters of `a`, bit for bit. */
function assertSameWeights(b: TrainSession, a: TrainSession): void {
  for (const [k, t] of a.tables) assert.deepEqual(Array.from(b.tables.get(k)!.data), Array.from(t.data), k)
  for (const [k, e] of a.params.entries)
    assert.deepEqual(Array.from(b.params.entries.get(k)!.values), Array.from(e.values), k)
}

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
      for (let s = 0; s < train.size; s += 250)
        await session.trainStep(sliceBatch(train, s, Math.min(train.size, s + 250)))
    }
    const p = await session.predict(test)
    const auc = computeAuc(p.y, test.labels.y)
    assert.ok(auc > 0.95, `test AUC ${auc.toFixed(4)} ≤ 0.95`)
  })
})

describe('TrainSession determinism and modes', () => {
  async function trainTwice(seed: number, dropoutRate = 0.2) {
    const { spec, batch } = xorData(2000, 5)
    const s = await TrainSession.create(tinyModel(spec, { dropout: dropoutRate }), { seed })
    const losses: number[] = []
    for (let i = 0; i < 2000; i += 200) losses.push((await s.trainStep(sliceBatch(batch, i, i + 200))).loss)
    const p = await s.predict(sliceBatch(batch, 0, 300))
    return { losses, p: p.y, s, batch }
  }

  it('the same seed reproduces losses and predictions bit for bit; another seed does not', async () => {
    const a = await trainTwice(11)
    const b = await trainTwice(11)
    const c = await trainTwice(12)
    assert.deepEqual(a.losses, b.losses)
    assert.deepEqual(Array.from(a.p), Array.from(b.p))
    assert.notDeepEqual(a.losses, c.losses)
  })

  it('with dropout in the model, inference is deterministic (dropout is off at inference)', async () => {
    const { s, batch } = await trainTwice(11, 0.5)
    const rows = sliceBatch(batch, 0, 300)
    const p1 = await s.predict(rows)
    const p2 = await s.predict(rows)
    assert.deepEqual(Array.from(p1.y), Array.from(p2.y))
  })

  it('a step changes only the embedding rows its batch touches', async () => {
    const { spec, batch } = xorData(400, 9, 1000)
    const s = await TrainSession.create(tinyModel(spec), { seed: 1 })
    const table = s.tables.get('cat')!
    const before = table.weights()
    const part = sliceBatch(batch, 0, 50)
    await s.trainStep(part)
    const after = table.weights()
    const touched = new Set(part.sparse.cat)
    for (let r = 0; r < table.rows; r++) {
      const changed = after.subarray(r * 4, r * 4 + 4).some((v, j) => v !== before[r * 4 + j])
      assert.equal(changed, touched.has(r), `row ${r}`)
    }
  })
})

describe('pipelined training', () => {
  // 200-row batches: over 40 ids consecutive batches share almost every row (updated before the next
  // step and copied into its feed); over 600 ids most rows do not recur (updated while it runs)
  for (const { vocab, dropout, note } of [
    { vocab: 40, dropout: 0.1, note: 'consecutive batches share most rows' },
    { vocab: 600, dropout: 0, note: 'most rows do not recur (deferred updates)' },
  ]) {
    it(`trainBatches equals trainStep on each batch in order, bit for bit: ${note}`, async () => {
      const { spec, batch } = xorData(1600, 21, vocab)
      const parts = Array.from({ length: 8 }, (_, i) => sliceBatch(batch, i * 200, (i + 1) * 200))
      const a = await TrainSession.create(tinyModel(spec, { dropout }), { seed: 4 })
      const b = await TrainSession.create(tinyModel(spec, { dropout }), { seed: 4 })
      const lossesA: number[] = []
      for (const p of parts) lossesA.push((await a.trainStep(p)).loss)
      const lossesB: number[] = []
      await b.trainBatches(parts, (r) => {
        lossesB.push(r.loss)
      })
      assert.deepEqual(lossesB, lossesA)
      assertSameWeights(b, a)
      // predictions after pipelined training see every update
      assert.deepEqual(Array.from((await b.predict(parts[0])).y), Array.from((await a.predict(parts[0])).y))
    })
  }
})

describe('dense optimizer on the worker thread', () => {
  it('gives the same losses, gradient norms and parameters as on the main thread, bit for bit (AdamW + clipping too)', async () => {
    const { spec, batch } = xorData(1200, 23, 300)
    const parts = Array.from({ length: 6 }, (_, i) => sliceBatch(batch, i * 200, (i + 1) * 200))
    for (const optimizer of [
      { kind: 'adam' as const, lr: 0.01 },
      { kind: 'adamw' as const, lr: 0.01, weightDecay: 0.1, clipNorm: 0.05 },
    ]) {
      const run = async (workerThread: boolean) => {
        const s = await TrainSession.create(tinyModel(spec), { seed: 6, optimizer, workerThread })
        const steps: number[][] = []
        await s.trainBatches(parts, (r) => {
          steps.push([r.loss, r.gradNorm])
        })
        const p = await s.predict(parts[0])
        await s.release()
        return {
          steps,
          params: [...s.params.entries.values()].map((e) => Array.from(e.values)),
          moments: s.dense.state(),
          p: Array.from(p.y),
        }
      }
      const worker = await run(true)
      const main = await run(false)
      assert.deepEqual(worker.steps, main.steps, optimizer.kind)
      assert.ok(worker.steps.every(([, n]) => Number.isFinite(n) && n > 0))
      if (optimizer.clipNorm)
        assert.ok(
          worker.steps.some(([, n]) => n > optimizer.clipNorm),
          'clipping was exercised',
        )
      assert.deepEqual(worker.params, main.params, optimizer.kind)
      assert.equal(worker.moments.step, 6)
      assert.deepEqual(Object.keys(worker.moments.m).sort(), Object.keys(main.moments.m).sort())
      for (const k of Object.keys(main.moments.m))
        assert.deepEqual(Array.from(worker.moments.v[k]), Array.from(main.moments.v[k]), k)
      assert.deepEqual(worker.p, main.p)
    }
  })
})

describe('lookups: bookkeeping across failures, predictions and threads', () => {
  it('a batch rejected after its lookups were prepared leaves nothing behind', async () => {
    const { spec, batch } = xorData(800, 21, 40)
    const parts = [0, 1, 2, 3].map((i) => sliceBatch(batch, i * 200, (i + 1) * 200))
    const bad = { ...parts[1], dense: parts[1].dense.subarray(0, 10) } // wrong dense length, found after the lookups
    const a = await TrainSession.create(tinyModel(spec), { seed: 4 })
    const b = await TrainSession.create(tinyModel(spec), { seed: 4 })
    await a.trainStep(parts[0])
    await assert.rejects(b.trainBatches([parts[0], bad]), /dense block has 10 values/)
    const la: number[] = []
    const lb: number[] = []
    for (const p of parts.slice(2)) la.push((await a.trainStep(p)).loss)
    for (const p of parts.slice(2)) lb.push((await b.trainStep(p)).loss)
    assert.deepEqual(lb, la)
  })

  it('predict from onStep sees every update of the steps so far', async () => {
    const { spec, batch } = xorData(1000, 21, 600) // most rows are not read by the next batch: deferred
    const parts = Array.from({ length: 5 }, (_, i) => sliceBatch(batch, i * 200, (i + 1) * 200))
    const a = await TrainSession.create(tinyModel(spec), { seed: 4 })
    const b = await TrainSession.create(tinyModel(spec), { seed: 4 })
    const pa: number[][] = []
    for (const p of parts) {
      await a.trainStep(p)
      pa.push(Array.from((await a.predict(p)).y))
    }
    const pb: number[][] = []
    await b.trainBatches(parts, async (_r, _b, step) => {
      pb.push(Array.from((await b.predict(parts[step - 1])).y))
    })
    assert.deepEqual(pb, pa)
  })

  it('with two onnxruntime threads, two runs of the same seed are identical (row gradients summed on our side)', async () => {
    // 16 fields × 2048 rows over 50 ids: enough repeated rows for a parallel ScatterND to race
    const F = 16
    const B = 2048
    const spec: InputSpec = {
      sparse: Array.from({ length: F }, (_, i) => ({ name: `f${i}`, vocabSize: 50 })),
      multi: [],
      dense: [{ name: 'x' }],
      tasks: ['y'],
    }
    const rng = new Rng(1)
    const parts: Batch[] = [0, 1].map(() => ({
      size: B,
      sparse: Object.fromEntries(spec.sparse.map((f) => [f.name, Int32Array.from({ length: B }, () => rng.int(50))])),
      multi: {},
      dense: Float32Array.from({ length: B }, () => rng.next()),
      labels: { y: Float32Array.from({ length: B }, () => (rng.next() < 0.3 ? 1 : 0)) },
    }))
    const run = async () => {
      const s = await TrainSession.create(tinyModel(spec, { dim: 16 }), { seed: 4, threads: 2 })
      await s.trainBatches(parts)
      await s.release()
      return spec.sparse.flatMap((f) => Array.from(s.tables.get(f.name)!.data))
    }
    const first = await run()
    assert.deepEqual(await run(), first)
  })
})

describe('pipelined training with pooled features and several lookup groups', () => {
  // every lookup path (tests/helpers/mixed-lookups.ts), dropout, batches of uneven sizes, stops via onStep
  // and continuations
  const model = () => mixedModel({ hidden: [16], dropout: 0.2 })

  it('equals step-by-step training bit for bit, across stops and continuations', async () => {
    const rng = new Rng(5)
    const parts = [100, 37, 100, 64, 1, 100, 80, 55, 100, 23].map((n) => mixedBatch(rng, n))
    const opts = {
      seed: 3,
      optimizer: { kind: 'adam' as const, lr: 0.01 },
      sparseOptimizer: { kind: 'adam' as const, lr: 0.05 },
    }
    const a = await TrainSession.create(model(), opts)
    const b = await TrainSession.create(model(), opts)
    const la: number[] = []
    for (const p of parts) la.push((await a.trainStep(p)).loss)
    // b: batches 0-2 (stopped after 3), 3 by trainStep, 4-5 (stopped after 2), then 6-9
    const lb: number[] = []
    let n = 0
    await b.trainBatches(parts.slice(0, 6), (r) => {
      lb.push(r.loss)
      return ++n < 3
    })
    lb.push((await b.trainStep(parts[3])).loss)
    n = 0
    await b.trainBatches(parts.slice(4), (r) => {
      lb.push(r.loss)
      return ++n !== 2
    })
    await b.trainBatches(parts.slice(6))
    assert.deepEqual(lb.slice(0, 6), la.slice(0, 6))
    assertSameWeights(b, a)
    assert.deepEqual(Array.from((await b.predict(parts[0])).y), Array.from((await a.predict(parts[0])).y))
  })
})

describe('large embedding tables', () => {
  it('trains with a 2-million-row table and touches only the rows in the batch', async () => {
    const { spec, batch } = xorData(512, 13, 2_000_000)
    const s = await TrainSession.create(tinyModel(spec, { dim: 2 }), {
      seed: 2,
      sparseOptimizer: { kind: 'adagrad', lr: 0.05 },
    })
    const table = s.tables.get('cat')!
    assert.equal(table.rows, 2_000_000)
    const probe = [0, 1_999_999, batch.sparse.cat[0]]
    const before = probe.map((r) => Array.from(table.row(r)))
    await s.trainStep(batch)
    const after = probe.map((r) => Array.from(table.row(r)))
    assert.deepEqual(after[0], before[0])
    assert.deepEqual(after[1], before[1])
    assert.notDeepEqual(after[2], before[2])
  })
})

describe('pipelined training, edge cases', () => {
  it('a source that reuses its buffers for the next batch still trains as step by step', async () => {
    const { spec, batch } = xorData(1200, 31, 40)
    const parts = Array.from({ length: 6 }, (_, i) => sliceBatch(batch, i * 200, (i + 1) * 200))
    // one shared buffer set, overwritten on every next(): the session must not read a batch's ids late
    function* reusing() {
      const ids = new Int32Array(200)
      const y = new Float32Array(200)
      for (const p of parts) {
        ids.set(p.sparse.cat)
        y.set(p.labels.y)
        yield { ...p, sparse: { cat: ids }, labels: { y } }
      }
    }
    const a = await TrainSession.create(tinyModel(spec), { seed: 8 })
    for (const p of parts) await a.trainStep(p)
    const b = await TrainSession.create(tinyModel(spec), { seed: 8 })
    await b.trainBatches(reusing())
    assert.deepEqual(Array.from(b.tables.get('cat')!.data), Array.from(a.tables.get('cat')!.data))
  })

  it('a bad next batch fails after the current step is fully applied, as step by step would', async () => {
    const { spec, batch } = xorData(400, 32, 40)
    const good = sliceBatch(batch, 0, 200)
    const bad = { ...sliceBatch(batch, 200, 400), labels: {} }
    const a = await TrainSession.create(tinyModel(spec), { seed: 9 })
    await a.trainStep(good)
    const b = await TrainSession.create(tinyModel(spec), { seed: 9 })
    await assert.rejects(b.trainBatches([good, bad]), /batch has no label column "y"/)
    assert.equal(b.step, 1)
    assertSameWeights(b, a)
  })

  it('concurrent predictions each get their own rows', async () => {
    const { spec, batch } = xorData(400, 33, 40)
    const s = await TrainSession.create(tinyModel(spec), { seed: 1 })
    const b1 = sliceBatch(batch, 0, 100)
    const b2 = sliceBatch(batch, 100, 200)
    const [p1, p2] = await Promise.all([s.predict(b1), s.predict(b2)])
    assert.deepEqual(Array.from(p1.y), Array.from((await s.predict(b1)).y))
    assert.deepEqual(Array.from(p2.y), Array.from((await s.predict(b2)).y))
  })
})
