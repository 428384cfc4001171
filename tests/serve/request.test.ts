import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { RequestError } from '../../src/errors.js'
import type { RawFeature } from '../../src/export/codec.js'
import { jsonDepthScanner, parseRankRequest } from '../../src/serve/request.js'
import { Rng } from '../helpers/rng.js'

const features: RawFeature[] = [
  { name: 'uid', kind: 'categorical' },
  { name: 'tags', kind: 'list' },
  { name: 'price', kind: 'numeric' },
]

describe('rank request: integer ids beyond 2^53', () => {
  it('accepts big ids as strings, keeping every digit', () => {
    const { rows } = parseRankRequest(
      '{"context": {"uid": "4611686018427387905", "tags": ["4611686018427387906"]}, "candidates": [{"price": 1}]}',
      features,
    )
    assert.equal(rows[0].uid, '4611686018427387905')
    assert.deepEqual(rows[0].tags, ['4611686018427387906'])
  })

  it('accepts ids as JSON numbers while they are exact (up to 2^53 - 1)', () => {
    const { rows } = parseRankRequest(
      '{"candidates": [{"uid": 9007199254740991, "tags": [3], "price": 1e300}]}',
      features,
    )
    assert.equal(rows[0].uid, 9007199254740991)
  })

  it('refuses a JSON number id beyond 2^53 - 1 with a 400 naming the field', () => {
    for (const [body, field] of [
      ['{"candidates": [{"uid": 4611686018427387905, "tags": [], "price": 1}]}', 'body.candidates[0].uid'],
      ['{"context": {"uid": 9007199254740993}, "candidates": [{"tags": [], "price": 1}]}', 'body.context.uid'],
      [
        '{"context": {"uid": "1"}, "candidates": [{"tags": [1, 18446744073709551616], "price": 1}]}',
        'body.candidates[0].tags[1]',
      ],
    ] as const) {
      assert.throws(
        () => parseRankRequest(body, features),
        (err: unknown) => {
          assert.ok(err instanceof RequestError, String(err))
          assert.equal(err.status, 400)
          assert.equal(err.field, field)
          assert.match(
            err.message,
            new RegExp(
              `^${field.replace(/[[\].]/g, '\\$&')}: expected an exact integer id, got a JSON number beyond 2\\^53 - 1 \\(\\d+\\), which has lost digits; send the id as a string`,
            ),
          )
          return true
        },
        body,
      )
    }
  })
})

describe('rank request: nesting depth, checked before parsing', () => {
  /** The depth after each whole text, byte by byte: the reference the chunked scanner must agree with. */
  function referenceDepth(text: string): number {
    let [depth, max, inString, escaped] = [0, 0, false, false]
    for (const c of text) {
      if (inString) {
        if (escaped) escaped = false
        else if (c === '\\') escaped = true
        else if (c === '"') inString = false
      } else if (c === '"') inString = true
      else if (c === '[' || c === '{') max = Math.max(max, ++depth)
      else if (c === ']' || c === '}') depth--
    }
    return max
  }
  /** Whether the scanner accepts `text` fed in three pieces cut at a and b. */
  function scannerAccepts(text: string, max: number, a: number, b: number): boolean {
    const bytes = Buffer.from(text)
    const scan = jsonDepthScanner(max)
    try {
      for (const piece of [bytes.subarray(0, a), bytes.subarray(a, b), bytes.subarray(b)]) scan(piece)
      return true
    } catch (err) {
      assert.ok(err instanceof RequestError && err.field === 'body', String(err))
      return false
    }
  }

  it('agrees with a byte-by-byte count on random texts of quotes, backslashes and brackets, however they are cut', () => {
    const rng = new Rng(12)
    const alphabet = ['"', '\\', '[', ']', '{', '}', 'a']
    for (let t = 0; t < 5000; t++) {
      const text = Array.from({ length: 1 + rng.int(30) }, () => alphabet[rng.int(alphabet.length)]).join('')
      const max = rng.int(4)
      const a = rng.int(text.length + 1)
      const b = a + rng.int(text.length - a + 1)
      assert.equal(
        scannerAccepts(text, max, a, b),
        referenceDepth(text) <= max,
        `${JSON.stringify(text)} cut at ${a}, ${b}, max ${max}`,
      )
    }
  })

  it('refuses a body nested deeper than 8 levels at the first bracket too deep, and counts no bracket inside a string', () => {
    assert.throws(
      () => parseRankRequest('['.repeat(100_000) + ']'.repeat(100_000), features),
      /^RequestError: body: nested deeper than 8 levels \(at byte 8\)/,
    )
    const deepString = JSON.stringify({ candidates: [{ uid: '[[[[[[[[[[{{{{{{{{{{\\"', tags: [], price: 1 }] })
    assert.equal(parseRankRequest(deepString, features).rows.length, 1)
  })

  it('cuts a long unknown name in the message and the field to 40 characters and its length', () => {
    assert.throws(
      () => parseRankRequest(JSON.stringify({ context: { ['x'.repeat(100_000)]: 1 }, candidates: [{}] }), features),
      (err: unknown) => {
        assert.ok(err instanceof RequestError)
        assert.equal(err.field, `body.context.${'x'.repeat(40)}…(100000 characters)`)
        assert.ok(err.message.length < 300)
        return true
      },
    )
  })
})
