/**
 * A small seeded impression → click → purchase funnel for model tests (in memory, no files).
 *
 * Features: user-side `user` (40 ids), `ucat` (8), dense `age`, `activity`; item-side `item` (30 ids),
 * `icat` (8), dense `price`. Each categorical value has a hidden 3-d vector; the true logits are
 *   click:              −2.3 + 1.6·⟨a_ucat, b_icat⟩ + 0.8·age + 0.6·tanh(2·activity·price) + 0.5·bias_item
 *   purchase | click:   −0.6 + 1.4·⟨c_user, b_icat⟩ − 0.9·price + 0.5·age
 * (an interaction of user and item, so twin towers can learn it too). purchase happens only after a
 * click. Click rate ≈ 15%, purchase rate ≈ 5%. True probabilities ride along as extra p_click, p_purchase.
 */
import type { Batch, InputSpec } from '../../src/data/types.js'
import { Rng } from './rng.js'

export const FUNNEL_SPEC: InputSpec = {
  sparse: [
    { name: 'user', vocabSize: 40, side: 'user' },
    { name: 'ucat', vocabSize: 8, side: 'user' },
    { name: 'item', vocabSize: 30, side: 'item' },
    { name: 'icat', vocabSize: 8, side: 'item' },
  ],
  multi: [],
  dense: [
    { name: 'age', side: 'user' },
    { name: 'activity', side: 'user' },
    { name: 'price', side: 'item' },
  ],
  tasks: ['click', 'purchase'],
}

function vectors(rng: Rng, n: number, dim: number): Float64Array[] {
  return Array.from({ length: n }, () => Float64Array.from({ length: dim }, () => rng.normal()))
}
const dot = (a: Float64Array, b: Float64Array) => a.reduce((s, v, i) => s + v * b[i], 0)
const sigmoid = (z: number) => 1 / (1 + Math.exp(-z))

export function funnelBatch(rows: number, seed: number, world = 7): Batch {
  const w = new Rng(world) // the hidden "world" is fixed; `seed` only draws rows
  const a = vectors(w, 8, 3)
  const b = vectors(w, 8, 3)
  const c = vectors(w, 40, 3)
  const itemBias = Array.from({ length: 30 }, () => w.normal())
  const itemCat = Array.from({ length: 30 }, () => 1 + w.int(7))
  const rng = new Rng(seed)
  const user = new Int32Array(rows)
  const ucat = new Int32Array(rows)
  const item = new Int32Array(rows)
  const icat = new Int32Array(rows)
  const dense = new Float32Array(rows * 3)
  const click = new Float32Array(rows)
  const purchase = new Float32Array(rows)
  const pClick = new Float32Array(rows)
  const pPurchase = new Float32Array(rows)
  for (let r = 0; r < rows; r++) {
    user[r] = 1 + rng.int(39)
    ucat[r] = 1 + (user[r] % 7)
    item[r] = 1 + rng.int(29)
    icat[r] = itemCat[item[r]]
    const age = rng.normal()
    const activity = rng.normal()
    const price = rng.normal()
    dense.set([age, activity, price], r * 3)
    const zc =
      -2.3 +
      (1.6 * dot(a[ucat[r]], b[icat[r]])) / Math.sqrt(3) +
      0.8 * age +
      0.6 * Math.tanh(2 * activity * price) +
      0.5 * itemBias[item[r]]
    const zp = -0.6 + (1.4 * dot(c[user[r]], b[icat[r]])) / Math.sqrt(3) - 0.9 * price + 0.5 * age
    pClick[r] = sigmoid(zc)
    pPurchase[r] = pClick[r] * sigmoid(zp)
    click[r] = rng.next() < pClick[r] ? 1 : 0
    purchase[r] = click[r] && rng.next() < sigmoid(zp) ? 1 : 0
  }
  return {
    size: rows,
    sparse: { user, ucat, item, icat },
    multi: {},
    dense,
    labels: { click, purchase },
    extra: { p_click: pClick, p_purchase: pPurchase },
  }
}

/** {spec, train, val} with independent rows from the same world. */
export function funnelData(opts: { train?: number; val?: number; seed?: number } = {}): {
  spec: InputSpec
  train: Batch
  val: Batch
} {
  const seed = opts.seed ?? 1
  return {
    spec: FUNNEL_SPEC,
    train: funnelBatch(opts.train ?? 4000, seed),
    val: funnelBatch(opts.val ?? 2000, seed + 1000),
  }
}

/** Rows [start, end) of a batch, as views. */
export function rowsOf(b: Batch, start: number, end: number): Batch {
  const nd = b.dense.length / b.size
  const pick = <T extends Int32Array | Float32Array>(r: Record<string, T>) =>
    Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v.subarray(start, end) as T])) as Record<string, T>
  return {
    size: end - start,
    sparse: pick(b.sparse),
    multi: {},
    dense: b.dense.subarray(start * nd, end * nd),
    labels: pick(b.labels),
  }
}
