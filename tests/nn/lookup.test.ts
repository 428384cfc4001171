import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { DataError } from '../../src/errors.js'
import { EmbeddingTable } from '../../src/nn/embedding.js'
import { LookupGroup, lookupGroups } from '../../src/nn/lookup.js'

const adam = { kind: 'adam' as const, lr: 0.01 }
const table = (name: string, rows: number, dim: number, seed: number) =>
  new EmbeddingTable({ name, rows, dim }, adam, seed, 0.1)

describe('LookupGroup', () => {
  it('feeds each unique (table, row) once and every id as its position (hand-checked)', () => {
    const a = table('a', 5, 2, 1)
    const b = table('b', 3, 2, 2)
    const g = new LookupGroup(['a', 'b'], [a, b])
    const lb = g.allocate(4)
    g.prepare([Int32Array.of(4, 1, 4, 0), Int32Array.of(2, 2, 0, 2)], lb, true)
    // unique in order of first sight, table a first: a4 a1 a0 b2 b0
    assert.equal(lb.count, 5)
    const { rows, ids } = g.feeds(lb, 4)
    assert.deepEqual(Array.from(ids, Number), [0, 3, 1, 3, 0, 4, 2, 3]) // [B, F] row-major
    const expect = [...a.row(4), ...a.row(1), ...a.row(0), ...b.row(2), ...b.row(0)]
    assert.deepEqual(Array.from(rows), expect)
    // marks stay until unmark: a second marked batch reusing them would be wrong, so unmark clears them
    g.unmark(lb)
    g.prepare([Int32Array.of(1, 1, 1, 1), Int32Array.of(0, 0, 0, 0)], lb, true)
    assert.equal(lb.count, 2)
    // inference mode: one row per occurrence, no marks
    g.unmark(lb)
    g.prepare([Int32Array.of(1, 1, 1, 1), Int32Array.of(0, 0, 0, 0)], lb, false)
    assert.equal(lb.count, 8)
  })

  it('an id outside its table is a DataError naming the feature and the batch row', () => {
    const g = new LookupGroup(['city'], [table('city', 3, 2, 1)])
    assert.throws(
      () => g.prepare([Int32Array.of(0, 3)], g.allocate(2), true),
      (e: unknown) => e instanceof DataError && /feature "city": id 3 at batch row 1 .*3 rows/.test(e.message),
    )
    assert.throws(() => g.prepare([Int32Array.of(-1)], g.allocate(1), false), /id -1/)
  })

  it('a batch that fails on a bad id leaves no marks behind', () => {
    const a = table('a', 4, 2, 1)
    const b = table('b', 2, 2, 2)
    const g = new LookupGroup(['a', 'b'], [a, b])
    const lb = g.allocate(3)
    assert.throws(
      () => g.prepare([Int32Array.of(0, 1, 2), Int32Array.of(1, 5, 0)], lb, true),
      /feature "b": id 5 at batch row 1/,
    )
    // had a0 a1 a2 b1 stayed marked, this batch would reuse their stale positions and count fewer rows
    g.prepare([Int32Array.of(2, 1, 0), Int32Array.of(0, 0, 1)], lb, true)
    assert.equal(lb.count, 5)
    assert.deepEqual(Array.from(g.feeds(lb, 3).ids, Number), [0, 3, 1, 3, 2, 4])
  })

  it('summed row gradients give the same update as the per-occurrence path of EmbeddingTable.update', () => {
    const ids = Int32Array.of(3, 1, 3, 3, 0, 1)
    const occ = Float32Array.from({ length: ids.length * 2 }, (_, i) => Math.sin(i + 1)) // d loss / d looked-up vector, per occurrence
    const ref = table('t', 4, 2, 7)
    const mine = table('t', 4, 2, 7)
    const g = new LookupGroup(['t'], [mine])
    for (let step = 0; step < 3; step++) {
      ref.update(ids, occ)
      const lb = g.allocate(ids.length)
      g.prepare([ids], lb, true)
      const summed = new Float32Array(lb.count * 2) // what the graph's ScatterND add returns
      for (let k = 0; k < ids.length; k++) {
        const u = Number(lb.ids[k])
        summed[2 * u] += occ[2 * k]
        summed[2 * u + 1] += occ[2 * k + 1]
      }
      const deferred = g.applyStep(lb, summed, null)
      assert.equal(deferred.length, lb.count) // no next batch: every row is deferred
      g.applyDeferred(lb, summed, deferred)
      g.unmark(lb)
    }
    for (let r = 0; r < 4; r++)
      for (let j = 0; j < 2; j++) assert.ok(Math.abs(mine.row(r)[j] - ref.row(r)[j]) < 1e-7, `row ${r}`)
    assert.deepEqual(mine.row(2), ref.row(2)) // never looked up: untouched on both sides
    assert.equal(mine.step, 3)
  })

  it('groups single-valued tables by dim and leaves pooled ones out', () => {
    const tables = new Map([
      ['a', table('a', 3, 4, 1)],
      ['p', new EmbeddingTable({ name: 'p', rows: 3, dim: 4, pooling: 'sum' }, adam, 2)],
      ['b', table('b', 3, 8, 3)],
      ['c', table('c', 3, 4, 4)],
    ])
    assert.deepEqual(
      lookupGroups(tables).map((g) => [g.dim, g.names]),
      [
        [4, ['a', 'c']],
        [8, ['b']],
      ],
    )
  })
})
