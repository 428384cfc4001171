/** Partial selection for ranking: the best k of n scores without sorting all n. */

/**
 * Positions of the k largest scores, best first; equal scores keep the lower position first. A size-k
 * min-heap of the best so far (its root the worst kept): O(n log k), a full sort only when k ≥ n.
 */
export function topK(score: ArrayLike<number>, k: number): Int32Array {
  const n = score.length
  // a before b in the result: higher score, or equal score and lower position
  const better = (a: number, b: number) => score[a] > score[b] || (score[a] === score[b] && a < b)
  if (k >= n)
    return Int32Array.from({ length: n }, (_, i) => i).sort((a, b) => (better(a, b) ? -1 : better(b, a) ? 1 : 0))
  const heap = new Int32Array(k) // heap[0] is the worst kept
  let size = 0
  const siftDown = (i: number) => {
    for (;;) {
      const l = 2 * i + 1
      const r = l + 1
      let worst = i
      if (l < size && better(heap[worst], heap[l])) worst = l
      if (r < size && better(heap[worst], heap[r])) worst = r
      if (worst === i) return
      const t = heap[i]
      heap[i] = heap[worst]
      heap[worst] = t
      i = worst
    }
  }
  for (let i = 0; i < n; i++) {
    if (size < k) {
      // sift up
      let c = size++
      heap[c] = i
      while (c > 0) {
        const p = (c - 1) >> 1
        if (!better(heap[p], heap[c])) break
        const t = heap[p]
        heap[p] = heap[c]
        heap[c] = t
        c = p
      }
    } else if (better(i, heap[0])) {
      heap[0] = i
      siftDown(0)
    }
  }
  return heap.sort((a, b) => (better(a, b) ? -1 : better(b, a) ? 1 : 0))
}
