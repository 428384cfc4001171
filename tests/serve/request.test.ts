import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { RequestError } from '../../src/errors.js'
import type { RawFeature } from '../../src/export/predictor.js'
import { parseRankRequest } from '../../src/serve/request.js'

const features: RawFeature[] = [{ name: 'uid', kind: 'categorical' }, { name: 'tags', kind: 'list' }, { name: 'price', kind: 'numeric' }]

describe('rank request: integer ids beyond 2^53', () => {
  it('accepts big ids as strings, keeping every digit', () => {
    const { rows } = parseRankRequest('{"context": {"uid": "4611686018427387905", "tags": ["4611686018427387906"]}, "candidates": [{"price": 1}]}', features)
    assert.equal(rows[0]!.uid, '4611686018427387905')
    assert.deepEqual(rows[0]!.tags, ['4611686018427387906'])
  })

  it('accepts ids as JSON numbers while they are exact (up to 2^53 - 1)', () => {
    const { rows } = parseRankRequest('{"candidates": [{"uid": 9007199254740991, "tags": [3], "price": 1e300}]}', features)
    assert.equal(rows[0]!.uid, 9007199254740991)
  })

  it('refuses a JSON number id beyond 2^53 - 1 with a 400 naming the field', () => {
    for (const [body, field] of [
      ['{"candidates": [{"uid": 4611686018427387905, "tags": [], "price": 1}]}', 'body.candidates[0].uid'],
      ['{"context": {"uid": 9007199254740993}, "candidates": [{"tags": [], "price": 1}]}', 'body.context.uid'],
      ['{"context": {"uid": "1"}, "candidates": [{"tags": [1, 18446744073709551616], "price": 1}]}', 'body.candidates[0].tags[1]'],
    ] as const) {
      assert.throws(() => parseRankRequest(body, features), (err: unknown) => {
        assert.ok(err instanceof RequestError, String(err))
        assert.equal(err.status, 400)
        assert.equal(err.field, field)
        assert.match(err.message, new RegExp(`^${field.replace(/[[\].]/g, '\\$&')}: expected an exact integer id, got a JSON number beyond 2\\^53 - 1 \\(\\d+\\), which has lost digits; send the id as a string`))
        return true
      }, body)
    }
  })
})
