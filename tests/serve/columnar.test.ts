/**
 * The one-pass serving encoder (serve/columnar.ts + serve/rank-encode.ts) against the data layer's
 * `encodeRows` (through the codec's `encode`), an independent implementation of the same mapping: every
 * request form must give exactly the batch `encodeRows` gives for the same raw rows, on a preprocessing
 * with every kind of column (integer and string ids, trimming and null strings, buckets with and without
 * a fill value, transformed numbers, a multi-valued column, a column read by two features).
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { Preprocessing } from '../../src/data/preprocessing.js'
import { parseDatasetSchema } from '../../src/data/schema.js'
import type { Batch } from '../../src/data/types.js'
import { RequestError } from '../../src/errors.js'
import { codecFromPreprocessing } from '../../src/export/codec.js'
import { toInt64 } from '../../src/export/feeds.js'
import type { RawRow } from '../../src/export/codec.js'
import { compiledCodec } from '../../src/serve/columnar.js'
import { encodeRankRequest } from '../../src/serve/rank-encode.js'
import { Rng } from '../helpers/rng.js'

const schema = parseDatasetSchema({
  csv: { trim: true, nullValues: ['', 'NA'] },
  sparse: [{ name: 'uid' }, { name: 'city' }],
  multi: [{ name: 'tags', separator: '|' }],
  dense: [
    { name: 'age', fillMissing: 30 },
    { name: 'price' },
    { name: 'score', transform: 'quantile' },
    { name: 'age_q', column: 'age', transform: 'quantile', fillMissing: 30 },
  ],
  tasks: [{ name: 'click' }],
})
const PREP: Preprocessing = {
  version: 1,
  schema,
  sparse: [
    { name: 'uid', column: 'uid', valueType: 'int', vocab: ['7', '12', '-3', '123456789012345678901'] },
    { name: 'city', column: 'city', valueType: 'string', vocab: ['paris', 'rome', '42'] },
  ],
  multi: [{ name: 'tags', column: 'tags', separator: '|', pooling: 'mean', vocab: ['a', 'b', 'c'] }],
  dense: [
    { name: 'age', column: 'age', transform: 'standardize', fill: 30, mean: 35, std: 10, min: 0, max: 90 },
    { name: 'price', column: 'price', transform: 'log1p-standardize', mean: 1, std: 0.5, min: 0, max: 100 },
  ],
  buckets: [
    { name: 'score', column: 'score', edges: [0.2, 0.5, 0.8] },
    { name: 'age_q', column: 'age', edges: [20, 40, 60], fill: 30 },
  ],
  tasks: ['click'],
  fit: { files: [], rows: 0 },
}
const codec = codecFromPreprocessing(PREP)
const compiled = compiledCodec(codec)!
const LIMITS = { maxCandidates: 10_000 }

/** Seeded rows with every awkward value the encoders must agree on. */
function rows(n: number, seed: number): Record<string, unknown>[] {
  const rng = new Rng(seed)
  const pick = <T>(xs: T[]): T => xs[rng.int(xs.length)]
  return Array.from({ length: n }, () => ({
    uid: pick<unknown>([7, 12, '007', ' 12 ', '7.0', -3, '-3', 99, 'x', null, 'NA', '', '123456789012345678901']),
    city: pick<unknown>(['paris', ' rome ', 'berlin', 42, '42', null, 'NA']),
    tags: pick<unknown>([['a', 'b'], 'a|c', [], 'NA', null, ['NA'], 'b||z', ['c', 'x']]),
    age: pick<unknown>([25, 61.5, null, 0, 90]),
    price: rng.next() * 50,
    score: pick<unknown>([0.1, 0.5, 0.79, null, 2]),
  }))
}

function assertSameBatch(got: Batch, want: Batch, msg: string): void {
  assert.equal(got.size, want.size, msg)
  for (const name of Object.keys(want.sparse))
    assert.deepEqual([...got.sparse[name]], [...want.sparse[name]], `${msg}: sparse ${name}`)
  for (const name of Object.keys(want.multi)) {
    assert.deepEqual([...got.multi[name].offsets], [...want.multi[name].offsets], `${msg}: offsets ${name}`)
    assert.deepEqual([...got.multi[name].ids], [...want.multi[name].ids], `${msg}: ids ${name}`)
  }
  assert.deepEqual([...got.dense], [...want.dense], `${msg}: dense`)
}

const refuse = (body: unknown, field: string, status: number, message?: RegExp) =>
  assert.throws(
    () => encodeRankRequest(body, compiled, LIMITS),
    (err: unknown) => {
      assert.ok(err instanceof RequestError, String(err))
      assert.equal(err.field, field)
      assert.equal(err.status, status)
      if (message) assert.match(err.message, message)
      return true
    },
  )

describe('one-pass encoder', () => {
  it('row, columnar and context forms encode exactly as encodeRows does', () => {
    const list = rows(300, 1)
    const want = codec.encode(list as RawRow[])
    const names = Object.keys(list[0])
    const asRows = encodeRankRequest({ candidates: list }, compiled, LIMITS)
    assertSameBatch(asRows.batch, want, 'rows')
    assert.deepEqual(
      [...asRows.index],
      list.map((_, i) => i),
    )
    const columns = Object.fromEntries(names.map((k) => [k, list.map((r) => r[k])]))
    assertSameBatch(encodeRankRequest({ candidates: columns }, compiled, LIMITS).batch, want, 'columns')
    // a shared value in context, the rest per candidate (rows and columns)
    const shared = list.map((r) => ({ ...r, city: ' rome ', tags: 'a|b' }))
    const wantShared = codec.encode(shared as RawRow[])
    const own = list.map(({ city: _c, tags: _t, ...r }) => r)
    assertSameBatch(
      encodeRankRequest({ context: { city: ' rome ', tags: 'a|b' }, candidates: own }, compiled, LIMITS).batch,
      wantShared,
      'context + rows',
    )
    const ownColumns = Object.fromEntries(
      names.filter((k) => k !== 'city' && k !== 'tags').map((k) => [k, list.map((r) => r[k])]),
    )
    assertSameBatch(
      encodeRankRequest({ context: { city: ' rome ', tags: 'a|b' }, candidates: ownColumns }, compiled, LIMITS).batch,
      wantShared,
      'context + columns',
    )
  })

  it('encodes a second time the same (the memoised ids agree with the first mapping)', () => {
    const list = rows(200, 2)
    const first = encodeRankRequest({ candidates: list }, compiled, LIMITS).batch
    const again = encodeRankRequest({ candidates: list }, compiled, LIMITS).batch
    assertSameBatch(again, first, 'again')
    assertSameBatch(again, codec.encode(list as RawRow[]), 'vs encodeRows')
  })

  it('names the value at fault in each form', () => {
    const ok: Record<string, unknown>[] = rows(3, 3).map((r) => ({ ...r, age: 20 }))
    const cols: Record<string, unknown[]> = Object.fromEntries(Object.keys(ok[0]).map((k) => [k, ok.map((r) => r[k])]))
    refuse(
      { candidates: ok.map((r, i) => (i === 2 ? { ...r, price: '12' } : r)) },
      'body.candidates[2].price',
      400,
      /expected a finite number, got "12"/,
    )
    refuse(
      { candidates: { ...cols, price: [1, 2, '12'] } },
      'body.candidates.price[2]',
      400,
      /expected a finite number, got "12"/,
    )
    refuse(
      { candidates: { ...cols, price: [1, 2] } },
      'body.candidates.price',
      400,
      /2 values, but body\.candidates\.uid has 3/,
    )
    refuse({ candidates: { ...cols, price: 5 } }, 'body.candidates.price', 400, /expected a list of values/)
    refuse(
      { candidates: { ...cols, price: [1, null, 3] } },
      'body.candidates.price[1]',
      400,
      /expected a value, got null/,
    )
    refuse({ candidates: { ...cols, uid: [1, 2, 2 ** 60] } }, 'body.candidates.uid[2]', 400, /exact integer id/)
    const { price: _p, ...noPrice } = cols
    refuse({ candidates: noPrice }, 'body.candidates.price', 400, /missing feature/)
    refuse({ candidates: ok.map(({ price: _q, ...r }) => r) }, 'body.candidates[0].price', 400, /missing feature/)
    refuse({ candidates: { ...cols, colour: [1, 2, 3] } }, 'body.candidates.colour', 400, /unknown feature/)
    refuse({ context: { price: 3 }, candidates: cols }, 'body.candidates.price', 400, /also given in context/)
    refuse({ candidates: {} }, 'body.candidates', 400, /at least 1 feature column/)
    refuse(
      { candidates: Object.fromEntries(Object.keys(cols).map((k) => [k, []])) },
      'body.candidates',
      400,
      /at least 1 candidate/,
    )
    refuse({ item_ids: [1, 2] }, 'body.item_ids', 400, /unknown key \(allowed: context, candidates\)/)
    refuse(
      { candidates: Object.fromEntries(Object.keys(cols).map((k) => [k, new Array(10_001).fill(ok[0][k])])) },
      'body.candidates',
      413,
    )
  })

  it('int32 ids become the same int64 feed values as BigInt conversion gives', () => {
    const ids = Int32Array.from([0, 1, 7, 2 ** 31 - 1, -1, -(2 ** 31), 123456])
    assert.deepEqual(
      [...toInt64(ids)],
      [...ids].map((v) => BigInt(v)),
    )
  })
})
