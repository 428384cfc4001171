// Tests for src/metrics/fusion.ts.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { applyFusion, parseFusion, searchFusionWeights } from '../../src/metrics/fusion.js'
import { computeAuc } from '../../src/metrics/auc.js'
import { seededRandom } from './rng.js'

// Three rows built so that only purchase weight w ∈ (1.6, 2.67) ranks the buyer B above both others:
//   A: click 0.9, purchase 0.1,  not bought → 0.9 + 0.1w
//   B: click 0.5, purchase 0.35, bought     → 0.5 + 0.35w    B > A ⇔ 0.25w > 0.4 ⇔ w > 1.6
//   C: click 0.1, purchase 0.5,  not bought → 0.1 + 0.5w     B > C ⇔ 0.4 > 0.15w ⇔ w < 2.67
// Grid [0, 0.5, 1, 2, 4, 8]: only w = 2 gives purchase AUC 1 (A 1.1, B 1.2, C 1.1); w ≤ 1 gives ½ (B beats C only),
// w ≥ 4 gives ½ (B beats A only).
const probs = { click: Float32Array.from([0.9, 0.5, 0.1]), purchase: Float32Array.from([0.1, 0.35, 0.5]) }
const labels = { click: Float32Array.from([1, 1, 0]), purchase: Float32Array.from([0, 1, 0]) }

describe('applyFusion', () => {
  it('additive fusion is the weighted sum of task probabilities', () => {
    const s = applyFusion({ kind: 'additive', weights: { click: 1, purchase: 2 } }, probs)
    assert.deepEqual(Array.from(s), [0.9 + 0.2, 0.5 + 0.7, 0.1 + 1.0].map(Math.fround))
  })

  it('multiplicative fusion with unit exponents is the product, and a zero exponent drops a task', () => {
    const rand = seededRandom(5)
    const a = Float32Array.from({ length: 50 }, () => rand())
    const b = Float32Array.from({ length: 50 }, () => rand())
    a[0] = 0 // 0^1 = 0
    const s = applyFusion({ kind: 'multiplicative', weights: { click: 1, purchase: 1 } }, { click: a, purchase: b })
    assert.deepEqual(
      Array.from(s),
      Array.from(a, (x, i) => Math.fround(x * b[i])),
    )
    const onlyB = applyFusion({ kind: 'multiplicative', weights: { click: 0, purchase: 1 } }, { click: a, purchase: b })
    assert.deepEqual(Array.from(onlyB), Array.from(b))
  })

  it('names a task missing from probs', () => {
    assert.throws(
      () => applyFusion({ kind: 'additive', weights: { click: 1, buy: 1 } }, probs),
      /probs: missing task "buy" named in the fusion weights \(have: click, purchase\)/,
    )
  })
})

describe('parseFusion', () => {
  it('accepts the stored JSON form and rejects unknown kinds and keys with the field', () => {
    assert.deepEqual(parseFusion({ kind: 'additive', weights: { click: 1 } }), {
      kind: 'additive',
      weights: { click: 1 },
    })
    assert.throws(
      () => parseFusion({ kind: 'sum', weights: {} }, 'run/fusion.json'),
      /run\/fusion\.json: fusion\.kind: .*expected \{kind: additive \| multiplicative/,
    )
    assert.throws(() => parseFusion({ kind: 'additive', weights: {}, extra: 1 }), /fusion: .*extra/)
  })
})

describe('searchFusionWeights', () => {
  it('finds the known additive optimum and returns the whole sweep', () => {
    const result = searchFusionWeights(probs, labels, { kind: 'additive', grid: [0, 0.5, 1, 2, 4, 8] })
    assert.deepEqual(result.fusion, { kind: 'additive', weights: { click: 1, purchase: 2 } })
    assert.equal(result.value, 1)
    assert.equal(result.objective, 'auc(purchase)')
    assert.deepEqual(
      result.sweep.map((p) => p.weights.purchase),
      [0, 0.5, 1, 2, 4, 8],
    )
    assert.deepEqual(
      result.sweep.map((p) => p.value),
      [0.5, 0.5, 0.5, 1, 0.5, 0.5],
    )
  })

  it('maximises the mean AUC over tasks when asked, the first of equal values winning', () => {
    // click labels [1, 1, 0]: click AUC is 1 while C ranks last.
    //   w = 0: A 0.9, B 0.5, C 0.1 → click 1, purchase ½ → 0.75
    //   w = 1: A 1.0, B 0.85, C 0.6 → click 1, purchase ½ → 0.75
    //   w = 8: A 1.7, B 3.3, C 4.1 → click 0, purchase ½ → 0.25
    const result = searchFusionWeights(probs, labels, {
      kind: 'additive',
      grid: [0, 1, 8],
      objective: { kind: 'mean-auc' },
    })
    assert.equal(result.objective, 'mean auc(click, purchase)')
    assert.deepEqual(
      result.sweep.map((p) => p.auc),
      [
        { click: 1, purchase: 0.5 },
        { click: 1, purchase: 0.5 },
        { click: 0, purchase: 0.5 },
      ],
    )
    assert.deepEqual(
      result.sweep.map((p) => p.value),
      [0.75, 0.75, 0.25],
    )
    assert.deepEqual(result.fusion.weights, { click: 1, purchase: 0 })
  })

  it('finds a multiplicative exponent inside the window where the buyer ranks first', () => {
    // B > A ⇔ 0.5·0.35^a > 0.9·0.1^a ⇔ a > ln 1.8 / ln 3.5 ≈ 0.47;  B > C ⇔ a < ln 5 / ln(0.5/0.35) ≈ 4.51
    const result = searchFusionWeights(probs, labels, { kind: 'multiplicative', grid: [0, 0.25, 1, 8] })
    assert.deepEqual(result.fusion.weights, { click: 1, purchase: 1 })
    assert.equal(result.value, 1)
    assert.deepEqual(
      result.sweep.map((p) => p.value),
      [0.5, 0.5, 1, 0.5],
    ) // a = 0.25 loses to A, a = 8 to C
  })

  it('searches every weight after the first on a 3-task funnel and matches a direct AUC', () => {
    const rand = seededRandom(9)
    const n = 300
    const p = { view: new Float32Array(n), click: new Float32Array(n), buy: new Float32Array(n) }
    const y = { buy: new Float32Array(n) }
    for (let i = 0; i < n; i++) {
      p.view[i] = rand()
      p.click[i] = p.view[i] * rand()
      p.buy[i] = p.click[i] * rand()
      y.buy[i] = rand() < p.buy[i] * 2 ? 1 : 0
    }
    const result = searchFusionWeights(p, y, { kind: 'additive', grid: [0, 1, 4] })
    assert.equal(result.sweep.length, 9)
    assert.deepEqual(
      result.sweep.map((s) => [s.weights.click, s.weights.buy]),
      [
        [0, 0],
        [0, 1],
        [0, 4],
        [1, 0],
        [1, 1],
        [1, 4],
        [4, 0],
        [4, 1],
        [4, 4],
      ],
    )
    const direct = computeAuc(applyFusion(result.fusion, p), y.buy)
    assert.ok(Math.abs(direct - result.value) < 1e-3) // float32 rounding of applyFusion may reorder near-ties
    assert.equal(result.value, Math.max(...result.sweep.map((s) => s.value)))
  })

  it('refuses an objective task with one label class, and oversized grids', () => {
    assert.throws(
      () => searchFusionWeights(probs, { purchase: Float32Array.from([0, 0, 0]) }, { kind: 'additive' }),
      /labels\.purchase: AUC is undefined, all 3 labels are 0/,
    )
    const grid = Array.from({ length: 200 }, (_, i) => i)
    const three = { ...probs, repeat: probs.purchase }
    assert.throws(
      () =>
        searchFusionWeights(three, labels, {
          kind: 'additive',
          grid,
          objective: { kind: 'task-auc', task: 'purchase' },
        }),
      /200 values for 2 weights make 40000 combinations/,
    )
  })
})
