import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { blockPermutation, makeEncodedDataset, permutation } from '../../src/data/dataset.js'
import type { InputSpec } from '../../src/data/types.js'

const isPermutation = (p: Int32Array) => [...p].sort((a, b) => a - b).every((v, i) => v === i)

/** n rows whose every column encodes the row number, so a batch shows which rows it holds. */
function rowsDataset(n: number) {
  const spec: InputSpec = {
    sparse: [{ name: 'a', vocabSize: n }],
    multi: [{ name: 'm', vocabSize: n, pooling: 'sum' }],
    dense: [{ name: 'x' }, { name: 'y' }],
    tasks: ['click'],
  }
  const offsets = new Int32Array(n + 1)
  for (let i = 0; i < n; i++) offsets[i + 1] = offsets[i] + (i % 3) // row i has i % 3 ids, each = i
  const ids = new Int32Array(offsets[n])
  for (let i = 0; i < n; i++) ids.fill(i, offsets[i], offsets[i + 1])
  const row = Int32Array.from({ length: n }, (_, i) => i)
  const dense = new Float32Array(2 * n)
  for (let i = 0; i < n; i++) {
    dense[2 * i] = i
    dense[2 * i + 1] = -i
  }
  const columns = {
    sparse: { a: row },
    multi: { m: { offsets, ids } },
    dense,
    labels: { click: Float32Array.from(row, (i) => i % 2) },
    group: Float64Array.from(row),
    extra: { p: Float32Array.from(row) },
  }
  return makeEncodedDataset(spec, columns, {
    files: [],
    read: n,
    rows: n,
    filtered: 0,
    droppedFunnel: 0,
    skippedBad: 0,
  })
}

describe('block shuffle', () => {
  it('is a seeded permutation whose runs of blockSize rows come from one block', () => {
    for (const [n, size] of [
      [1000, 64],
      [1000, 128],
      [130, 64],
      [5, 8],
    ]) {
      const p = blockPermutation(n, size, 7)
      assert.ok(isPermutation(p), `n=${n} size=${size}`)
      assert.deepEqual(blockPermutation(n, size, 7), p)
      assert.notDeepEqual(blockPermutation(n, size, 8), p)
      // each output block is one input block: rows [k·size, (k+1)·size) of the file, in shuffled order
      for (let s = 0; s < n; ) {
        const block = Math.floor(p[s] / size)
        const len = Math.min(size, n - block * size)
        const run = [...p.subarray(s, s + len)]
        assert.ok(
          run.every((r) => Math.floor(r / size) === block),
          `run at ${s}`,
        )
        s += len
      }
    }
    const inside = blockPermutation(1000, 100, 1)
    assert.ok(
      [...inside.subarray(0, 100)].some((r, i, a) => i > 0 && r !== a[i - 1] + 1),
      'rows inside a block are shuffled too',
    )
  })

  it('blockSize 1 is the full Fisher–Yates shuffle (unchanged seeded order)', () => {
    const ds = rowsDataset(300)
    const full = [...ds.batches(64, { shuffle: true, seed: 3 })].flatMap((b) => [...b.sparse.a])
    const one = [...ds.batches(64, { shuffle: true, seed: 3, blockSize: 1 })].flatMap((b) => [...b.sparse.a])
    assert.deepEqual(one, full)
    assert.deepEqual(full, [...permutation(300, 3)])
  })

  it('gathers every column of every row once per epoch, consistently across columns', () => {
    const n = 1001
    const ds = rowsDataset(n)
    for (const reuseBuffers of [false, true]) {
      const seen: number[] = []
      for (const b of ds.batches(100, { shuffle: true, seed: 5, blockSize: 64, reuseBuffers })) {
        for (let i = 0; i < b.size; i++) {
          const r = b.sparse.a[i]
          seen.push(r)
          assert.equal(b.dense[2 * i], r)
          assert.equal(b.dense[2 * i + 1], -r)
          assert.equal(b.labels.click[i], r % 2)
          assert.equal(b.group?.[i], r)
          assert.equal(b.extra?.p[i], r)
          const m = b.multi.m
          assert.deepEqual([...m.ids.subarray(m.offsets[i], m.offsets[i + 1])], Array(r % 3).fill(r))
        }
      }
      assert.deepEqual(
        seen.sort((a, b) => a - b),
        Array.from({ length: n }, (_, i) => i),
      )
    }
  })

  it('rejects a blockSize that is not a positive integer', () => {
    const ds = rowsDataset(10)
    assert.throws(
      () => [...ds.batches(4, { shuffle: true, blockSize: 0 })],
      /blockSize must be a positive integer, got 0/,
    )
  })
})
