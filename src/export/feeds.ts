/**
 * Encoded batch → the feeds of an exported graph (see onnx.ts for the input convention): int64 ids,
 * multi-valued features padded to the longest list with per-id pooling weights, the dense block.
 */
import type { Batch } from '../data/types.js'
import type { Feed } from '../engine/runtime.js'
import { ExportError } from '../errors.js'
import type { FeatureLayout } from './onnx.js'

export interface GraphFeeds {
  feeds: Record<string, Feed>
  /** values of the symbolic dims: B and each L_<feature> */
  dims: Record<string, number>
}

export function batchFeeds(layout: FeatureLayout, batch: Batch): GraphFeeds {
  const B = batch.size
  const feeds: Record<string, Feed> = {}
  const dims: Record<string, number> = { B }
  for (const name of layout.sparse) {
    const ids = batch.sparse[name]
    if (!ids) throw new ExportError(`batch: no sparse column "${name}"`, { field: name })
    const out = new BigInt64Array(B)
    for (let i = 0; i < B; i++) out[i] = BigInt(ids[i]!)
    feeds[`ids.${name}`] = out
  }
  for (const { name, pooling } of layout.multi) {
    const col = batch.multi[name]
    if (!col) throw new ExportError(`batch: no multi-valued column "${name}"`, { field: name })
    let L = 1 // ONNX needs a non-empty axis; an all-empty batch gets one padding slot
    for (let i = 0; i < B; i++) L = Math.max(L, col.offsets[i + 1]! - col.offsets[i]!)
    const ids = new BigInt64Array(B * L) // padding id 0 with weight 0
    const weights = new Float32Array(B * L)
    for (let i = 0; i < B; i++) {
      const lo = col.offsets[i]!
      const n = col.offsets[i + 1]! - lo
      const w = pooling === 'mean' ? 1 / n : 1
      for (let k = 0; k < n; k++) {
        ids[i * L + k] = BigInt(col.ids[lo + k]!)
        weights[i * L + k] = w
      }
    }
    feeds[`ids.${name}`] = ids
    feeds[`weights.${name}`] = weights
    dims[`L_${name}`] = L
  }
  if (layout.dense.length > 0) {
    if (batch.dense.length !== B * layout.dense.length) {
      throw new ExportError(`batch: dense has ${batch.dense.length} values, expected ${B} rows × ${layout.dense.length} features`, { field: 'dense' })
    }
    feeds.dense = batch.dense
  }
  return { feeds, dims }
}
