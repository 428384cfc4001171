/**
 * fastEncodeRank (serve/fast-body.ts) against the path it stands in for, JSON.parse + encodeRankRequest: on
 * random bodies (rows and columns, context before, after or absent, any whitespace and key order, numbers of
 * every shape, categorical values as strings and numbers, repeated and unseen values) it either declines
 * (null) or returns the same encoding bit for bit. Plain bodies it must take; bodies the slow path refuses
 * (and bytes mutated at random) it must decline. Numbers are checked to the last bit through a bucketed
 * column whose edges are the values sent and the doubles just above them.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { Preprocessing } from '../../src/data/preprocessing.js'
import { parseDatasetSchema } from '../../src/data/schema.js'
import { codecFromPreprocessing } from '../../src/export/codec.js'
import { compiledCodec } from '../../src/serve/columnar.js'
import { fastEncodeRank } from '../../src/serve/fast-body.js'
import { ItemStore } from '../../src/serve/item-store.js'
import { type EncodedRank, encodeRankRequest } from '../../src/serve/rank-encode.js'
import type { RankLimits } from '../../src/serve/request.js'
import { Rng } from '../helpers/rng.js'

/** The double just above x (x finite). */
function nextUp(x: number): number {
  if (x === 0) return Number.MIN_VALUE
  const f = new Float64Array([x])
  const i = new BigInt64Array(f.buffer)
  i[0] += x > 0 ? 1n : -1n
  return f[0]
}

const digits = (rng: Rng, n: number, lead: boolean) =>
  Array.from({ length: n }, (_, k) => (k === 0 && lead ? 1 + rng.int(9) : rng.int(10))).join('')

/** A JSON number's text: integers, decimals, long mantissas, exponents; `maxExp` keeps it finite. */
function numberText(rng: Rng, maxExp = 25): string {
  const sign = rng.next() < 0.3 ? '-' : ''
  const shape = rng.int(6)
  const int = rng.next() < 0.3 ? '0' : digits(rng, 1 + rng.int(rng.next() < 0.2 ? 22 : 6), true)
  const frac = shape >= 1 && shape <= 4 ? `.${digits(rng, 1 + rng.int(shape === 4 ? 26 : 4), false)}` : ''
  const exp = shape >= 3 ? `${rng.next() < 0.5 ? 'e' : 'E'}${['', '+', '-'][rng.int(3)]}${rng.int(maxExp)}` : ''
  return sign + int + frac + exp
}

const SPECIAL = ['0', '-0', '-0.0', '0.000', '5e-324', '2.2250738585072014e-308', '9007199254740993', '0.1']
const MORE_SPECIAL = ['0.30000000000000004', '1.7976931348623157e308', '123456789012345.678', '1e22', '1e23']
const rngPool = new Rng(99)
/** numbers the bucketed column "x" has edges at (and just above) */
const POOL = [...SPECIAL, ...MORE_SPECIAL, ...Array.from({ length: 150 }, () => numberText(rngPool))]
const edges = [...new Set(POOL.flatMap((t) => [JSON.parse(t) as number, nextUp(JSON.parse(t) as number)]))]
  .filter(Number.isFinite)
  .sort((a, b) => a - b)

const schema = parseDatasetSchema({
  csv: { trim: true, nullValues: ['', 'NA'] },
  sparse: [{ name: 'uid' }, { name: 'city' }, { name: 'code' }],
  multi: [{ name: 'tags', separator: '|' }],
  dense: [
    { name: 'age', fillMissing: 30 },
    { name: 'price' },
    { name: 'x', transform: 'quantile' },
    { name: 'age_q', column: 'age', transform: 'quantile', fillMissing: 30 },
  ],
  tasks: [{ name: 'click' }],
})
const INTS = ['7', '12', '-3', '0', '99', '1000', '123456789012345', '4503599627370496']
const PREP: Preprocessing = {
  version: 1,
  schema,
  sparse: [
    { name: 'uid', column: 'uid', valueType: 'int', vocab: ['7', '12', '-3', '1000', '123456789012345'] },
    {
      name: 'city',
      column: 'city',
      valueType: 'string',
      vocab: ['paris', 'rome', '42', 'berlin-the-long-name', 'C)a'],
    },
    { name: 'code', column: 'code', valueType: 'int', vocab: INTS },
  ],
  multi: [{ name: 'tags', column: 'tags', separator: '|', pooling: 'mean', vocab: ['a', 'b', 'c'] }],
  dense: [
    { name: 'age', column: 'age', transform: 'standardize', fill: 30, mean: 35, std: 10, min: 0, max: 90 },
    { name: 'price', column: 'price', transform: 'log1p-standardize', mean: 1, std: 0.5, min: 0, max: 100 },
  ],
  buckets: [
    { name: 'x', column: 'x', edges },
    { name: 'age_q', column: 'age', edges: [20, 40, 60], fill: 30 },
  ],
  tasks: ['click'],
  fit: { files: [], rows: 0 },
}
const codec = codecFromPreprocessing(PREP)
const compiled = compiledCodec(codec)!
const LIMITS: RankLimits = { maxCandidates: 10_000 }
const FEATURES = compiled.columns.map((c) => c.feature.name)

const pick = <T>(rng: Rng, xs: readonly T[]): T => xs[rng.int(xs.length)]
const str = (s: string) => JSON.stringify(s)

/** A value's JSON text for feature `name`; `awkward`: sometimes one the fast path declines or the slow one refuses. */
function valueText(rng: Rng, name: string, awkward: boolean): string {
  if (awkward && rng.next() < 0.04)
    return pick(rng, [
      'true',
      'false',
      '[1]',
      '{"a":1}',
      '"caf\\u00e9"',
      '"café"',
      '"a\\"b"',
      '1.5',
      '9007199254740993',
      '1e999',
      '-1e999',
      '"12"',
      'null',
      '["a","b"]',
      '01',
      '.5',
      '1.',
      '+1',
      '- 1',
      'nul',
      '"tab\there"',
    ])
  switch (name) {
    case 'uid':
      return pick(rng, [
        ...['7', '12', '-3', '0', '99', '123456789012345', '7.0', '1e3', '-0', '12.000'],
        ...['007', ' 12 ', '7', 'x', 'NA', '', '12.0', 'a-long-unseen-value'].map(str),
        'null',
      ])
    case 'city':
      return pick(rng, [
        ...['paris', ' rome ', 'berlin', '42', 'NA', '', 'berlin-the-long-name', 'x y', 'a{b}[c]:,'].map(str),
        '42',
        '7',
        'null',
      ])
    case 'code':
      return rng.next() < 0.8 ? pick(rng, INTS) : pick(rng, ['5', '-0', '12e0', str('12'), str('0012')])
    case 'tags':
      return pick(rng, ['a|b', 'a', 'NA', '', 'b||z', 'c|x', 'unseen'].map(str).concat('null'))
    case 'age':
      return rng.next() < 0.1 ? 'null' : numberText(rng)
    case 'price':
      return numberText(rng)
    default: // x
      return rng.next() < 0.05 ? 'null' : rng.next() < 0.7 ? pick(rng, POOL) : numberText(rng)
  }
}

interface Shape {
  n: number
  form: 'rows' | 'columns'
  context: 'none' | 'before' | 'after'
  /** probability of whitespace at each place JSON allows it */
  space: number
  /** keys in a new order in every row (else one order for all) */
  shuffle: boolean
  awkward: boolean
}

/** A random body of the given shape: its text (and, for columns, features with one value in every row). */
function body(rng: Rng, s: Shape): string {
  const w = () => (rng.next() < s.space ? pick(rng, [' ', '\n', '\t', '\r\n', '  ']) : '')
  const inContext = new Set(s.context === 'none' ? [] : FEATURES.filter(() => rng.next() < 0.35))
  let own = FEATURES.filter((f) => !inContext.has(f))
  if (s.form === 'columns' && own.length === 0) {
    own = [FEATURES[0]]
    inContext.delete(FEATURES[0])
  }
  // some features repeat one value in every candidate (runs), others draw from small pools or anew
  const constant = new Map(own.filter(() => rng.next() < 0.4).map((f) => [f, valueText(rng, f, s.awkward)]))
  const order = rng.shuffle([...own])
  order.sort((a, b) => Number(constant.has(a)) - Number(constant.has(b))) // repeated ones last, as user features
  const value = (f: string) => constant.get(f) ?? valueText(rng, f, s.awkward)
  const object = (keys: string[], v: (k: string) => string) =>
    `{${w()}${keys.map((k) => `${str(k)}${w()}:${w()}${v(k)}`).join(`${w()},${w()}`)}${w()}}`
  const list = (items: string[]) => `[${w()}${items.join(`${w()},${w()}`)}${w()}]`
  const candidates =
    s.form === 'rows'
      ? list(Array.from({ length: s.n }, () => object(s.shuffle ? rng.shuffle([...order]) : order, value)))
      : object(order, (f) => list(Array.from({ length: s.n }, () => value(f))))
  const parts = [`${w()}"candidates"${w()}:${w()}${candidates}`]
  if (s.context !== 'none') {
    const context = `${w()}"context"${w()}:${w()}${object([...inContext], (f) => valueText(rng, f, s.awkward))}`
    if (s.context === 'before') parts.unshift(context)
    else parts.push(context)
  }
  return `${w()}{${parts.join(`${w()},`)}${w()}}${w()}`
}

function randomShape(rng: Rng, awkward: boolean): Shape {
  return {
    n: 1 + rng.int(rng.next() < 0.2 ? 120 : 12),
    form: rng.next() < 0.5 ? 'rows' : 'columns',
    context: pick(rng, ['none', 'before', 'after'] as const),
    space: pick(rng, [0, 0, 0.1, 0.5]),
    shuffle: rng.next() < 0.3,
    awkward,
  }
}

const bytes = (a: ArrayBufferView) => Buffer.from(a.buffer, a.byteOffset, a.byteLength)

/** Bit-for-bit the same encoding (float cells compared as bytes, so -0 and NaN payloads count). */
function assertSame(got: EncodedRank | null, want: EncodedRank, msg: string): void {
  assert.ok(got, `${msg}: declined a plain body`)
  assert.equal(got.batch.size, want.batch.size, msg)
  assert.deepEqual(Object.keys(got.batch.sparse), Object.keys(want.batch.sparse), msg)
  for (const [name, ids] of Object.entries(want.batch.sparse))
    assert.ok(bytes(got.batch.sparse[name]).equals(bytes(ids)), `${msg}: sparse ${name}`)
  assert.deepEqual(Object.keys(got.batch.multi), Object.keys(want.batch.multi), msg)
  for (const [name, m] of Object.entries(want.batch.multi)) {
    assert.ok(bytes(got.batch.multi[name].offsets).equals(bytes(m.offsets)), `${msg}: offsets ${name}`)
    assert.ok(bytes(got.batch.multi[name].ids).equals(bytes(m.ids)), `${msg}: ids ${name}`)
  }
  assert.ok(bytes(got.batch.dense).equals(bytes(want.batch.dense)), `${msg}: dense`)
  assert.deepEqual(got.batch.labels, want.batch.labels, msg)
  assert.deepEqual([...got.index], [...want.index], msg)
  assert.deepEqual([got.skipped, got.lookups, got.misses], [want.skipped, want.lookups, want.misses], msg)
}

type Slow = { ok: true; value: EncodedRank } | { ok: false; error: unknown }

function slow(text: string, limits = LIMITS, store?: ItemStore): Slow {
  try {
    return { ok: true, value: encodeRankRequest(JSON.parse(text), compiled, limits, store) }
  } catch (error) {
    return { ok: false, error }
  }
}

/** The contract: null, or exactly the slow path's result; null whenever the slow path refuses the body. */
function check(text: string, msg: string, limits = LIMITS, store?: ItemStore): 'taken' | 'declined' {
  const fast = fastEncodeRank(Buffer.from(text), compiled, limits)
  const want = slow(text, limits, store)
  if (!want.ok) {
    assert.equal(fast, null, `${msg}: took a body the slow path refuses (${String(want.error)})`)
    return 'declined'
  }
  if (fast === null) return 'declined'
  assertSame(fast, want.value, msg)
  return 'taken'
}

describe('fastEncodeRank', () => {
  it('takes plain bodies of every shape and encodes them exactly as JSON.parse + encodeRankRequest', () => {
    const rng = new Rng(1)
    for (let k = 0; k < 400; k++) {
      const shape = randomShape(rng, false)
      const text = body(rng, shape)
      const want = slow(text)
      assert.ok(want.ok, `body ${k} should be valid: ${want.ok ? '' : String(want.error)}`)
      assertSame(fastEncodeRank(Buffer.from(text), compiled, LIMITS), want.value, `body ${k} ${JSON.stringify(shape)}`)
    }
  })

  it('declines or matches on bodies with awkward values, and declines every one the slow path refuses', () => {
    const rng = new Rng(2)
    const outcome = { taken: 0, declined: 0 }
    for (let k = 0; k < 400; k++) outcome[check(body(rng, randomShape(rng, true)), `body ${k}`)]++
    assert.ok(outcome.taken > 50 && outcome.declined > 50, JSON.stringify(outcome))
  })

  it('declines or matches on plain bodies with a byte changed, cut short or extended', () => {
    const rng = new Rng(3)
    const noise = '{}[]:,"\\ \n0123456789.-+eEnulltruefalsexé\u0000'
    for (let k = 0; k < 300; k++) {
      const text = body(rng, { ...randomShape(rng, false), n: 1 + rng.int(6) })
      for (let m = 0; m < 8; m++) {
        const at = rng.int(text.length)
        const c = noise[rng.int(noise.length)]
        const mutated = [
          text.slice(0, at) + c + text.slice(at + 1),
          text.slice(0, at) + c + text.slice(at),
          text.slice(0, at) + text.slice(at + 1),
          text.slice(0, at),
        ][m % 4]
        check(mutated, `body ${k} mutation ${m} at ${at}: ${JSON.stringify(mutated.slice(at - 10, at + 10))}`)
      }
    }
  })

  it('decodes every number shape to the same double as JSON.parse', () => {
    // x's bucket edges are each pooled value and the double above it: one ulp off lands in another bucket
    const rng = new Rng(4)
    const texts = [...POOL, ...Array.from({ length: 400 }, () => numberText(rng, 300))].filter((t) =>
      Number.isFinite(JSON.parse(t)),
    )
    const rows = texts.map(
      (t, i) => `{"x":${t},"uid":7,"city":"rome","code":${INTS[i % INTS.length]},"tags":"a",
      "age":${texts[(i * 7) % texts.length]},"price":${texts[(i * 13) % texts.length]}}`,
    )
    const text = `{"candidates":[${rows.join(',')}]}`
    assertSame(fastEncodeRank(Buffer.from(text), compiled, LIMITS), (slow(text) as { value: EncodedRank }).value, 'x')
    const columns = `{"candidates":{"x":[${texts.join(',')}],"uid":[${texts.map(() => '"7"').join(',')}],"city":[${texts.map(() => '42').join(',')}],"code":[${texts.map(() => '12').join(',')}],"tags":[${texts.map(() => 'null').join(',')}],"age":[${texts.join(',')}],"price":[${texts.join(',')}]}}`
    assertSame(
      fastEncodeRank(Buffer.from(columns), compiled, LIMITS),
      (slow(columns) as { value: EncodedRank }).value,
      'x',
    )
  })

  it('declines each thing outside the plain case', () => {
    const row = '"uid":7,"city":"rome","code":12,"tags":"a|b","age":31.5,"price":9.99,"x":0.1'
    const plain = `{"candidates":[{${row}},{${row}}]}`
    assert.equal(check(plain, 'plain'), 'taken')
    const declined: [string, string][] = [
      ['a string escape', plain.replace('"rome"', '"r\\u006fme"')],
      ['non-ASCII text', plain.replace('"rome"', '"röme"')],
      ['a duplicate key', plain.replace('"uid":7', '"uid":7,"uid":8')],
      ['an unknown key', plain.replace('"uid":7', '"uid":7,"colour":1')],
      ['a missing feature', plain.replace('"uid":7,', '')],
      ['true', plain.replace('"code":12', '"code":true')],
      ['a nested value', plain.replace('"code":12', '"code":[12]')],
      ['a list value', plain.replace('"tags":"a|b"', '"tags":["a","b"]')],
      ['a fractional id', plain.replace('"code":12', '"code":1.5')],
      ['an id beyond 2^53', plain.replace('"code":12', '"code":9007199254740993')],
      ['null without a fill value', plain.replace('"price":9.99', '"price":null')],
      ['a string for a number', plain.replace('"price":9.99', '"price":"9.99"')],
      ['an infinite number', plain.replace('"price":9.99', '"price":1e400')],
      ['a feature in context too', plain.replace('{"candidates"', '{"context":{"uid":7},"candidates"')],
      ['item_ids', '{"item_ids":[1,2]}'],
      ['a duplicate top-level key', plain.replace('{"candidates"', '{"context":{},"context":{},"candidates"')],
      ['no candidates', '{"candidates":[]}'],
      ['an empty column object', '{"candidates":{}}'],
      ['columns of different lengths', '{"candidates":{"uid":[7,7],"city":["a"]}}'],
      ['context null', plain.replace('{"candidates"', '{"context":null,"candidates"')],
      ['trailing bytes', `${plain}x`],
      ['a second value', `${plain} {}`],
      ['a leading zero', plain.replace('"code":12', '"code":012')],
      ['a malformed number', plain.replace('"price":9.99', '"price":9.9.9')],
      ['a number and a sign', plain.replace('"code":12', '"code":12-1')],
      ['a duplicate column', `{"candidates":{${row.replace(/:([^,]+)/g, ':[$1,$1]')},"uid":[8,9]}}`],
      // "é" is C3 A9: its bytes packed 7 bits each (OR-ed) would read as "C)a", a vocabulary value seen before
      [
        'non-ASCII text after a seen value',
        `{"candidates":[{${row.replace('rome', 'C)a')}},{${row.replace('rome', 'éa')}}]}`,
      ],
      ['not an object', '[]'],
      ['an empty body', ''],
    ]
    // a key twice in one candidate and missing there, the other way round in another: every feature counted n times
    const without = (key: string) => row.split(',').filter((kv) => !kv.startsWith(`"${key}"`))
    const twice = (a: string, b: string) => `{"${a}":1,${without(b).join(',')}}`
    declined.push([
      'a key twice, another missing',
      `{"candidates":[${twice('uid', 'price')},${twice('price', 'uid')}]}`,
    ])
    // the same, each row's duplicate coming with a rest of the row copied from the row before
    const r = (keys: string, uid: number) =>
      `{${[...keys].map((k) => ({ a: '"city":1', b: '"code":1', c: '"tags":"t"', d: `"uid":${uid}` })[k]).join(',')}}`
    const rows = [r('abcd', 5), r('bacd', 5), r('cbcd', 5), r('abcd', 6), r('cbad', 7), r('bcad', 7), r('abad', 7)]
    const context = '"context":{"age":30,"price":1,"x":2}'
    declined.push(['keys twice in copied rows', `{${context},"candidates":[${rows.join(',')}]}`])
    for (const [why, text] of declined) {
      assert.equal(fastEncodeRank(Buffer.from(text), compiled, LIMITS), null, why)
      assert.equal(check(text, why), 'declined', why)
    }
    // over the limit, the slow path answers 413; at the limit both take it
    assert.equal(check(plain, 'over the limit', { maxCandidates: 1 }), 'declined')
    assert.equal(check(plain, 'at the limit', { maxCandidates: 2 }), 'taken')
    const columns = `{"candidates":{${row.replace(/:([^,]+)/g, ':[$1,$1]')}}}`
    assert.equal(check(columns, 'columns over the limit', { maxCandidates: 1 }), 'declined')
    assert.equal(check(columns, 'columns at the limit', { maxCandidates: 2 }), 'taken')
  })

  it('matches on large bodies: repeated row tails, runs of equal values, the scratch batch grown', () => {
    const rng = new Rng(5)
    for (const form of ['rows', 'columns'] as const)
      for (const n of [1023, 1024, 1025, 3000]) {
        const text = body(rng, { n, form, context: 'before', space: 0, shuffle: false, awkward: false })
        assert.equal(check(text, `${form} × ${n}`), 'taken')
      }
    // a tail that changes now and then (runs broken and restarted), rows of a different key order in between
    const user = (v: number) => `"city":"c${v}","tags":"a","age":${v}.5`
    const rows = Array.from({ length: 2000 }, (_, i) => {
      const item = `"uid":${i % 37},"code":${INTS[i % 5]},"price":${(i * 0.37).toFixed(2)},"x":${pick(rng, POOL)}`
      const tail = user(Math.floor(i / 150) % 3)
      return i % 97 === 5 ? `{${tail},${item}}` : `{${item},${tail}}`
    })
    assert.equal(check(`{"candidates":[${rows.join(',')}]}`, 'broken runs'), 'taken')
    // long values (past the packed cache) that differ in their last byte only
    const long = Array.from({ length: 40 }, (_, i) => {
      const city = i % 3 ? 'berlin-the-long-name' : 'berlin-the-long-namf'
      return `{"uid":7,"city":"${city}","code":12,"tags":"a","age":1,"price":0.500000${1 + 8 * (i % 2)},"x":0.12345678}`
    })
    assert.equal(check(`{"candidates":[${long.join(',')}]}`, 'long values'), 'taken')
  })

  it('with an item store: takes full rows (no lookups), declines candidates the store must complete', () => {
    const table = compiled.writer(3)
    const held = ['code', 'price', 'x'].map((f) => compiled.byName.get(f)!)
    ;[
      [12, 3.5, 0.1],
      [99, 7.25, 2],
    ].forEach((r, i) => held.forEach((c, k) => table.put(c, i, r[k], () => 'items')))
    const store = new ItemStore('items.csv', 'code', 'error', ['12', '99'], held, table)
    const full = '{"candidates":[{"uid":7,"city":"rome","code":12,"tags":"a","age":31,"price":3.5,"x":0.1}]}'
    assert.equal(check(full, 'full rows', LIMITS, store), 'taken')
    const byId = '{"context":{"uid":7,"city":"rome","tags":"a","age":31},"candidates":[{"code":12},{"code":99}]}'
    const want = slow(byId, LIMITS, store)
    assert.ok(want.ok && want.value.lookups === 2)
    assert.equal(fastEncodeRank(Buffer.from(byId), compiled, LIMITS), null)
  })
})
