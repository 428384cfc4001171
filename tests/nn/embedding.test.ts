import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { EmbeddingTable } from '../../src/nn/embedding.js'

const table = (kind: 'adam' | 'adagrad', pooling?: 'sum' | 'mean', l2 = 0) =>
  new EmbeddingTable({ name: 'f', rows: 10, dim: 2, pooling }, { kind, lr: 0.1, l2 }, 7, 0.5)

describe('EmbeddingTable', () => {
  it('gathers rows and pools multi-valued lists (sum, mean, empty)', () => {
    const t = table('adam', 'mean')
    const out = new Float32Array(6)
    t.gatherPooled({ offsets: Int32Array.of(0, 2, 2, 3), ids: Int32Array.of(1, 3, 4) }, out)
    const r1 = t.row(1),
      r3 = t.row(3),
      r4 = t.row(4)
    assert.ok(Math.abs(out[0] - (r1[0] + r3[0]) / 2) < 1e-7)
    assert.deepEqual([out[2], out[3]], [0, 0])
    assert.deepEqual([out[4], out[5]], [r4[0], r4[1]])
  })

  it('updates only the touched rows', () => {
    const t = table('adam')
    const before = t.weights()
    t.update(Int32Array.of(2, 5, 2), Float32Array.of(1, -1, 0.5, 0.5, 1, 1))
    const after = t.weights()
    for (let r = 0; r < 10; r++) {
      const changed = after[2 * r] !== before[2 * r] || after[2 * r + 1] !== before[2 * r + 1]
      assert.equal(changed, r === 2 || r === 5, `row ${r} changed=${changed}`)
    }
  })

  it('lazy Adam: the first step moves each coordinate by lr · g/(|g| + eps) of the summed gradient', () => {
    const t = table('adam')
    const w0 = t.row(2)
    // row 2 appears twice: gradients (1, -1) and (1, 3) sum to (2, 2)
    t.update(Int32Array.of(2, 2), Float32Array.of(1, -1, 1, 3))
    const w1 = t.row(2)
    assert.ok(Math.abs(w0[0] - w1[0] - 0.1) < 1e-6)
    assert.ok(Math.abs(w0[1] - w1[1] - 0.1) < 1e-6)
  })

  it('Adagrad with L2: w −= lr · g / sqrt(g²), g = grad + l2·w', () => {
    const t = table('adagrad', undefined, 0.5)
    const w0 = t.row(4)
    t.update(Int32Array.of(4), Float32Array.of(0.2, -0.3))
    const w1 = t.row(4)
    for (let j = 0; j < 2; j++) {
      const g = [0.2, -0.3][j] + 0.5 * w0[j]
      assert.ok(Math.abs(w1[j] - (w0[j] - (0.1 * g) / (Math.abs(g) + 1e-10))) < 1e-6)
    }
  })

  it('mean pooling spreads a row gradient over its ids', () => {
    const t = new EmbeddingTable({ name: 'f', rows: 10, dim: 1, pooling: 'mean' }, { kind: 'adagrad', lr: 1 }, 1, 0.5)
    const w0 = [t.row(1)[0], t.row(3)[0]]
    // one row with ids [1, 3] gets gradient 4: each id receives 2, Adagrad's first step moves by lr·sign
    t.update(Int32Array.of(1, 3), Float32Array.of(4), Int32Array.of(0, 2))
    assert.ok(Math.abs(t.row(1)[0] - (w0[0] - 1)) < 1e-6)
    assert.ok(Math.abs(t.row(3)[0] - (w0[1] - 1)) < 1e-6)
  })
})
