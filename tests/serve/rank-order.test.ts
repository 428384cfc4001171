/**
 * The candidate order of /v1/rank (serve/rank.ts `byScore`): highest fused score first, ties by lower
 * index, -0 equal to 0, NaN last. Checked against a plain comparator sort on scores with many ties,
 * negatives, infinities, signed zeros and NaNs. The answer written from the typed arrays (`toJson`) is
 * JSON.stringify of the answer object.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { Rng } from '../../src/engine/rng.js'
import { byScore, toJson, toResponse } from '../../src/serve/rank.js'

/** The definition, slowly: a comparator sort of the indexes. */
function reference(score: Float32Array): number[] {
  const key = (x: number) => (Number.isNaN(x) ? Number.NEGATIVE_INFINITY : x)
  const nan = (x: number) => (Number.isNaN(x) ? 1 : 0)
  return Array.from({ length: score.length }, (_, i) => i).sort(
    (a, b) => nan(score[a]) - nan(score[b]) || key(score[b]) - key(score[a]) || a - b,
  )
}

describe('byScore', () => {
  it('orders as the comparator sort, ties by index, over random scores with ties and special values', () => {
    const rng = new Rng(3)
    const specials = [0, -0, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, Number.NaN, 1e-40, -1e-40]
    for (let trial = 0; trial < 50; trial++) {
      const n = 1 + rng.int(1500)
      const score = new Float32Array(n)
      for (let i = 0; i < n; i++) {
        const r = rng.next()
        score[i] =
          r < 0.1 ? specials[rng.int(specials.length)] : r < 0.5 ? rng.int(5) / 4 - 0.5 : (rng.next() - 0.3) * 100
      }
      assert.deepEqual([...byScore(score)], reference(score), `trial ${trial}`)
    }
  })

  it('reads a view at an offset of a larger buffer', () => {
    const all = new Float32Array([9, 0.5, 0.25, 0.75, 9])
    assert.deepEqual([...byScore(all.subarray(1, 4))], [2, 0, 1])
  })

  it('toJson writes what JSON.stringify(toResponse(...)) writes, non-finite numbers as null, skipped and request indexes included', () => {
    const rng = new Rng(5)
    for (const [n, skipped] of [
      [0, []],
      [7, [2, 9]],
      [300, []],
    ] as [number, number[]][]) {
      const draw = () => {
        const r = rng.next()
        return r < 0.05 ? Number.NaN : r < 0.1 ? Number.POSITIVE_INFINITY : rng.next() * 0.3
      }
      const score = Float32Array.from({ length: n }, draw)
      const probs = {
        click: Float32Array.from({ length: n }, draw),
        'buy "now"': Float32Array.from({ length: n }, draw),
      }
      const ranked = {
        model: 'resflow',
        version: 'v"1',
        tasks: ['click', 'buy "now"'],
        probs,
        score,
        order: byScore(score),
        index: skipped.length > 0 ? Uint32Array.from({ length: n }, (_, i) => i + (i >= 2 ? 1 : 0)) : null,
        skipped,
      }
      assert.equal(toJson(ranked), JSON.stringify(toResponse(ranked)), `${n} candidates`)
    }
  })
})
