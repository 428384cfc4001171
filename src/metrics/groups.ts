/**
 * Row indices bucketed by group id, for the per-group metrics (GAUC, NDCG@K, Recall@K).
 *
 * Group ids are mapped to dense ids 0..G-1 in order of first appearance, then a counting sort puts the
 * rows of group g at order[starts[g] .. starts[g+1]). O(n), no comparator sort.
 */
import type { Groups } from './types.js'

export interface GroupIndex {
  /** row indices, grouped */
  order: Uint32Array // [B]
  /** group g owns order[starts[g] .. starts[g+1]) */
  starts: Uint32Array // [G+1]
  count: number // G
}

export function indexGroups(groups: Groups): GroupIndex {
  const n = groups.length
  const dense = new Uint32Array(n)
  let count = 0
  const ids = new Map<number, number>()
  for (let i = 0; i < n; i++) {
    const key = groups[i]
    let id = ids.get(key)
    if (id === undefined) {
      id = count++
      ids.set(key, id)
    }
    dense[i] = id
  }
  const starts = new Uint32Array(count + 1)
  for (let i = 0; i < n; i++) starts[dense[i] + 1]++
  for (let g = 0; g < count; g++) starts[g + 1] += starts[g]
  const next = starts.slice(0, count)
  const order = new Uint32Array(n)
  for (let i = 0; i < n; i++) order[next[dense[i]]++] = i
  return { order, starts, count }
}

/**
 * Scores of the positive and negative rows of one group, each sorted ascending, written into
 * caller-owned scratch buffers (returned as subarrays) so a pass over all groups allocates nothing
 * per group.
 */
export function splitGroupSorted(
  index: GroupIndex,
  g: number,
  scores: ArrayLike<number>,
  labels: ArrayLike<number>,
  scratchPos: Float64Array,
  scratchNeg: Float64Array,
): { pos: Float64Array; neg: Float64Array } {
  let p = 0
  let q = 0
  for (let r = index.starts[g]; r < index.starts[g + 1]; r++) {
    const i = index.order[r]
    if (labels[i] === 1) scratchPos[p++] = scores[i]
    else scratchNeg[q++] = scores[i]
  }
  const pos = scratchPos.subarray(0, p)
  const neg = scratchNeg.subarray(0, q)
  pos.sort()
  neg.sort()
  return { pos, neg }
}
