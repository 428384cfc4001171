/**
 * Ranking within groups (a user's session, a query): NDCG@K and Recall@K, relevance = label (0/1,
 * e.g. purchase), averaged over groups with equal weight.
 *
 *   DCG@K  = Σ_{i<K} rel_i / log2(i + 2)        (i = 0-based position; for 0/1 labels rel = 2^rel − 1)
 *   NDCG@K = DCG@K / IDCG@K,  IDCG@K = Σ_{i<min(K, P_g)} 1 / log2(i + 2)
 *   Recall@K = (relevant rows in the top K) / P_g
 *
 * Ties: rows with equal scores have no order, so a tied block is scored by its expectation over all
 * orders (as scikit-learn's ndcg_score does): each position in the block gets the block's mean
 * relevance. A block straddling position K contributes its share of relevant rows to Recall@K.
 *
 * A group without a positive row has no NDCG or recall; it is skipped and counted in `groupsSkipped`.
 * `value` is NaN when no group qualifies.
 */
import { checkGroups, checkK, checkScoresAndLabels } from './check.js'
import { indexGroups, splitGroupSorted } from './groups.js'
import type { Groups, Labels, Scores } from './types.js'

export interface RankingResult {
  value: number
  k: number
  groupsUsed: number
  groupsSkipped: number
}

export function computeNdcgAtK(scores: Scores, labels: Labels, groups: Groups, k: number): RankingResult {
  return perGroup('computeNdcgAtK', scores, labels, groups, k, ndcgOfGroup)
}

export function computeRecallAtK(scores: Scores, labels: Labels, groups: Groups, k: number): RankingResult {
  return perGroup('computeRecallAtK', scores, labels, groups, k, recallOfGroup)
}

/** A tied block of one group's ranking: positions [start, start + size), `relevant` of them positive. */
type Visit = (start: number, size: number, relevant: number) => void

function perGroup(
  where: string,
  scores: Scores,
  labels: Labels,
  groups: Groups,
  k: number,
  score: (pos: Float64Array, neg: Float64Array, k: number) => number,
): RankingResult {
  checkScoresAndLabels(where, scores, labels)
  checkGroups(where, groups, labels.length)
  checkK(where, k)
  const index = indexGroups(groups)
  const scratchPos = new Float64Array(labels.length)
  const scratchNeg = new Float64Array(labels.length)
  const result: RankingResult = { value: NaN, k, groupsUsed: 0, groupsSkipped: 0 }
  let sum = 0
  for (let g = 0; g < index.count; g++) {
    const { pos, neg } = splitGroupSorted(index, g, scores, labels, scratchPos, scratchNeg)
    if (pos.length === 0) {
      result.groupsSkipped++
      continue
    }
    sum += score(pos, neg, k)
    result.groupsUsed++
  }
  if (result.groupsUsed > 0) result.value = sum / result.groupsUsed
  return result
}

/** Walks tied blocks from the highest score down, stopping past position k. */
function forEachBlock(pos: Float64Array, neg: Float64Array, k: number, visit: Visit): void {
  let p = pos.length
  let q = neg.length
  let start = 0
  while ((p > 0 || q > 0) && start < k) {
    const s = Math.max(p > 0 ? pos[p - 1] : -Infinity, q > 0 ? neg[q - 1] : -Infinity)
    const p0 = p
    const q0 = q
    while (p > 0 && pos[p - 1] === s) p--
    while (q > 0 && neg[q - 1] === s) q--
    const relevant = p0 - p
    const size = relevant + (q0 - q)
    visit(start, size, relevant)
    start += size
  }
}

function discount(i: number): number {
  return 1 / Math.log2(i + 2)
}

function ndcgOfGroup(pos: Float64Array, neg: Float64Array, k: number): number {
  let dcg = 0
  forEachBlock(pos, neg, k, (start, size, relevant) => {
    let discounts = 0
    for (let i = start; i < Math.min(start + size, k); i++) discounts += discount(i)
    dcg += (relevant / size) * discounts
  })
  let idcg = 0
  for (let i = 0; i < Math.min(k, pos.length); i++) idcg += discount(i)
  return dcg / idcg
}

function recallOfGroup(pos: Float64Array, neg: Float64Array, k: number): number {
  let hits = 0
  forEachBlock(pos, neg, k, (start, size, relevant) => {
    hits += (relevant * (Math.min(start + size, k) - start)) / size
  })
  return hits / pos.length
}
