import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { pooledMoments, shardBatch, weightedSum } from '../../src/train/parallel.js'
import { gradName } from '../../src/nn/graph-names.js'
import {
  type ParallelDenseInit,
  createAfterRun,
  parallelDenseBuffers,
  sliceOf,
} from '../../src/train/parallel-dense.js'
import { TrainSession, type SessionOptions } from '../../src/train/session.js'
import { mixedBatch, mixedModel } from '../helpers/mixed-lookups.js'
import { Rng } from '../helpers/rng.js'

describe('sharding and merging', () => {
  it('splits a batch into contiguous shards of near-equal size whose weights sum to 1', () => {
    assert.deepEqual(
      shardBatch(10, 3).map((s) => [s.start, s.size]),
      [
        [0, 4],
        [4, 3],
        [7, 3],
      ],
    )
    assert.deepEqual(
      shardBatch(1, 4).map((s) => [s.start, s.size, s.weight]),
      [[0, 1, 1]],
    ) // no empty shard
    assert.deepEqual(
      shardBatch(7, 1).map((s) => [s.start, s.size, s.weight]),
      [[0, 7, 1]],
    )
    const w = shardBatch(1023, 4).reduce((a, s) => a + s.weight, 0)
    assert.ok(Math.abs(w - 1) < 1e-12)
  })

  it('with a leader, shard 0 (the calling thread) gets about half the rows of each other shard', () => {
    const sizes = (b: number, n: number) => shardBatch(b, n, true).map((s) => s.size)
    assert.deepEqual(sizes(1024, 2), [341, 683]) // ⌊1024 / 3⌋ and the rest
    assert.deepEqual(sizes(1024, 3), [204, 410, 410]) // ⌊1024 / 5⌋, then the rest split evenly
    assert.deepEqual(sizes(10, 4), [1, 3, 3, 3])
    assert.deepEqual(sizes(3, 4), [1, 1, 1]) // fewer rows than workers: one row each, still contiguous
    assert.deepEqual(sizes(7, 1), [7])
    for (const [b, n] of [
      [1023, 4],
      [2048, 3],
      [5, 2],
    ]) {
      const shards = shardBatch(b, n, true)
      assert.equal(
        shards.reduce((a, s) => a + s.size, 0),
        b,
      )
      shards.forEach((s, k) => assert.equal(s.start, k === 0 ? 0 : shards[k - 1].start + shards[k - 1].size))
      assert.ok(Math.abs(shards.reduce((a, s) => a + s.weight, 0) - 1) < 1e-12)
    }
  })

  it('the weighted sum of shard means is the whole batch mean', () => {
    const rows = [1, 2, 3, 4, 5, 6, 7]
    const shards = shardBatch(rows.length, 3)
    const means = shards.map((s) => [rows.slice(s.start, s.start + s.size).reduce((a, b) => a + b, 0) / s.size])
    assert.ok(
      Math.abs(
        weightedSum(
          means,
          shards.map((s) => s.weight),
        )[0] - 4,
      ) < 1e-6,
    )
  })

  it('pooled moments equal the mean and biased variance of the concatenated rows', () => {
    const rng = new Rng(2)
    const x = Array.from({ length: 11 }, () => [rng.next() * 3, rng.next() - 5])
    const shards = shardBatch(x.length, 3)
    const moments = (rows: number[][]) => {
      const m = [0, 1].map((c) => rows.reduce((a, r) => a + r[c], 0) / rows.length)
      const v = [0, 1].map((c) => rows.reduce((a, r) => a + (r[c] - m[c]) ** 2, 0) / rows.length)
      return { m, v }
    }
    const parts = shards.map((s) => moments(x.slice(s.start, s.start + s.size)))
    const pooled = pooledMoments(
      parts.map((p) => p.m),
      parts.map((p) => p.v),
      shards.map((s) => s.weight),
    )
    const whole = moments(x)
    for (let c = 0; c < 2; c++) {
      assert.ok(Math.abs(pooled.mean[c] - whole.m[c]) < 1e-5, `mean ${c}`)
      assert.ok(Math.abs(pooled.variance[c] - whole.v[c]) < 1e-5, `variance ${c}`)
    }
  })
})

// BatchNorm off unless asked (the layers' default is on)
const model = (opts: { dropout?: number; batchNorm?: boolean } = {}) =>
  mixedModel({ hidden: [16, 8], dropout: opts.dropout, batchNorm: opts.batchNorm ?? false })

/** Every trainable value of a session: dense parameters, then embedding weights. */
function snapshot(s: TrainSession): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>()
  for (const [k, e] of s.params.entries) out.set(k, Float32Array.from(e.values))
  for (const [k, t] of s.tables) out.set(`table.${k}`, t.weights())
  return out
}

describe('data-parallel workers', () => {
  it('workers: 2 is deterministic: two runs are bit-equal (uneven batches, a batch of one row, dropout, stops)', async () => {
    const run = async () => {
      const rng = new Rng(5)
      const parts = [100, 37, 100, 64, 1, 100, 80, 55].map((n) => mixedBatch(rng, n))
      const s = await TrainSession.create(model({ dropout: 0.2 }), {
        seed: 3,
        workers: 2,
        optimizer: { kind: 'adam', lr: 0.01 },
        sparseOptimizer: { kind: 'adam', lr: 0.05 },
      })
      const losses: number[] = []
      let n = 0
      await s.trainBatches(parts.slice(0, 5), (r) => {
        losses.push(r.loss)
        return ++n < 3
      })
      await s.trainBatches(parts.slice(3), (r) => {
        losses.push(r.loss)
      })
      const p = (await s.predict(parts[0])).y
      const state = snapshot(s)
      assert.equal(s.parallelProfile?.steps, 8)
      await s.release()
      return { losses, p, state }
    }
    const a = await run()
    const b = await run()
    assert.deepEqual(b.losses, a.losses)
    assert.deepEqual(Array.from(b.p), Array.from(a.p))
    for (const [k, v] of a.state) assert.deepEqual(Array.from(b.state.get(k)!), Array.from(v), k)
  })

  // Adam with a huge eps makes the first update linear in the gradient: Δw = −lr·g / (|g| + eps) ≈ −g·lr/eps,
  // so equal updates mean equal gradients (dense, unique rows, pooled rows), up to float rounding
  for (const { note, dense } of [
    { note: 'Adam', dense: { kind: 'adam' as const, lr: 1, eps: 1e4 } },
    // clipping active (the norm is far above 1e-3): the workers' global norm must match one worker's
    {
      note: 'AdamW with weight decay and clipping',
      dense: { kind: 'adamw' as const, lr: 1, eps: 0.1, weightDecay: 1e-3, clipNorm: 1e-3 },
    },
  ])
    it(`one step with 2 or 3 workers (and 2 onnxruntime threads each: row gradients per occurrence) makes the same update as 1 worker on the whole batch (${note}; no BatchNorm; dropout masks shared)`, async () => {
      const opts: SessionOptions = {
        seed: 9,
        optimizer: dense,
        sparseOptimizer: { kind: 'adam', lr: 1, eps: 1e4 },
        embeddingInitStd: 0.3,
      }
      const batch = mixedBatch(new Rng(8), 301)
      const one = await TrainSession.create(model({ dropout: 0.3 }), opts)
      const before = snapshot(one)
      const r1 = await one.trainStep(batch)
      const d1 = snapshot(one)
      for (const { workers, threads } of [
        { workers: 2, threads: 1 },
        { workers: 3, threads: 1 },
        { workers: 2, threads: 2 },
      ]) {
        const many = await TrainSession.create(model({ dropout: 0.3 }), { ...opts, workers, threads })
        const rn = await many.trainStep(batch)
        const dn = snapshot(many)
        assert.ok(Math.abs(rn.loss - r1.loss) < 1e-5 * Math.abs(r1.loss), `loss ${rn.loss} vs ${r1.loss}`)
        assert.ok(
          Math.abs(rn.gradNorm - r1.gradNorm) < 1e-4 * r1.gradNorm,
          `gradient norm ${rn.gradNorm} vs ${r1.gradNorm}`,
        )
        let changed = 0
        for (const [k, w0] of before) {
          const a = d1.get(k)!
          const b = dn.get(k)!
          let scale = 0
          for (let i = 0; i < w0.length; i++) scale = Math.max(scale, Math.abs(a[i] - w0[i]))
          for (let i = 0; i < w0.length; i++) {
            const da = a[i] - w0[i]
            const db = b[i] - w0[i]
            if (da !== 0) changed++
            assert.ok(Math.abs(da - db) <= 1e-3 * scale + 1e-9, `${workers} workers, ${k}[${i}]: update ${db} vs ${da}`)
          }
        }
        assert.ok(changed > 100, `only ${changed} values changed: the comparison would be vacuous`)
        await many.release()
      }
      await one.release()
    })

  it('with BatchNorm, the running statistics are those of the whole batch (pooled), not of a shard', async () => {
    const batch = mixedBatch(new Rng(4), 200)
    const opts: SessionOptions = { seed: 2, embeddingInitStd: 0.3 }
    const one = await TrainSession.create(model({ batchNorm: true }), opts)
    const two = await TrainSession.create(model({ batchNorm: true }), { ...opts, workers: 2 })
    const shardOnly = await TrainSession.create(model({ batchNorm: true }), opts)
    await one.trainStep(batch)
    await two.trainStep(batch)
    // the first BatchNorm's input is a per-row function of the inputs, so its batch statistics do not
    // depend on the sharding: pooled over the shards they equal one worker's on the whole batch
    const firstHalf = {
      ...batch,
      size: 100,
      sparse: Object.fromEntries(Object.entries(batch.sparse).map(([k, v]) => [k, v.subarray(0, 100)])),
      multi: { m: { offsets: batch.multi.m.offsets.subarray(0, 101), ids: batch.multi.m.ids } },
      dense: batch.dense.subarray(0, 100),
      labels: { y: batch.labels.y.subarray(0, 100) },
    }
    await shardOnly.trainStep(firstHalf)
    for (const stat of ['running_mean', 'running_var']) {
      const name = `tower.0.bn.${stat}`
      const a = one.params.entries.get(name)!.values
      const b = two.params.entries.get(name)!.values
      const c = shardOnly.params.entries.get(name)!.values
      let far = 0
      for (let i = 0; i < a.length; i++) {
        assert.ok(Math.abs(a[i] - b[i]) < 1e-5, `${name}[${i}]: ${b[i]} (2 workers) vs ${a[i]} (1 worker)`)
        far = Math.max(far, Math.abs(a[i] - c[i]))
      }
      assert.ok(far > 1e-4, `${name}: a half batch gives the same statistics, the test would not see a shard's`)
    }
    await Promise.all([one.release(), two.release(), shardOnly.release()])
  })

  it('rejects workers that are not a positive integer, and workers > 1 without worker threads', async () => {
    await assert.rejects(TrainSession.create(model(), { seed: 1, workers: 0 }), /workers must be a positive integer/)
    await assert.rejects(TrainSession.create(model(), { seed: 1, workers: 2, workerThread: false }), /workerThread/)
  })
})

describe("the workers' slices of the dense parameters", () => {
  it('cover every value exactly once, in order, for any number of workers', () => {
    for (const total of [0, 1, 7, 43270]) {
      for (const n of [1, 2, 3, 5, 32]) {
        let next = 0
        for (let k = 0; k < n; k++) {
          const { lo, hi } = sliceOf(total, k, n)
          assert.equal(lo, next, `total ${total}, ${n} workers, slice ${k}`)
          assert.ok(hi >= lo && hi - lo <= Math.ceil(total / n))
          next = hi
        }
        assert.equal(next, total)
      }
    }
  })
})

describe('a failed run among the data-parallel participants', () => {
  it('stops the others at their barrier at once instead of after the 120 s timeout', () => {
    const shared = (n: number) => new Float32Array(new SharedArrayBuffer(n * 4))
    const params = [{ name: 'w', values: shared(4), m: shared(4), v: shared(4), decay: false }]
    const buffers = parallelDenseBuffers(
      params.map((p) => ({ values: p.values })),
      2,
    )
    const init = { config: { kind: 'adam' as const, lr: 0.001 }, params, workers: 2, ...buffers }
    const [leader, worker] = [0, 1].map((k) => createAfterRun({ ...init, worker: k } as ParallelDenseInit))
    worker.abort?.() // e.g. its onnxruntime run threw
    const t0 = performance.now()
    assert.throws(
      () => leader.report({ [gradName('w')]: Float32Array.of(1, 2, 3, 4) }, { step: 1, weights: [0.5, 0.5] }),
      /another worker's run failed/,
    )
    assert.ok(performance.now() - t0 < 1000, 'the leader waited instead of stopping')
  })
})
