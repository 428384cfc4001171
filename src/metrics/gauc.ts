/**
 * Group AUC: the AUC within each group (user or query), averaged with weights equal to group size.
 *
 *   GAUC = Σ_g n_g · AUC_g / Σ_g n_g   over groups g holding both a positive and a negative row
 *
 * A group with one class only has no AUC; it is skipped and counted in `groupsSkipped` /
 * `rowsSkipped`, so the caller can see how much of the data the number describes. `value` is NaN when
 * no group qualifies.
 */
import { aucOfSorted } from './auc.js'
import { checkGroups, checkScoresAndLabels } from './check.js'
import { indexGroups, splitGroupSorted } from './groups.js'
import type { Groups, Labels, Scores } from './types.js'

export interface GaucResult {
  value: number
  groupsUsed: number
  groupsSkipped: number
  rowsUsed: number
  rowsSkipped: number
}

export function computeGauc(scores: Scores, labels: Labels, groups: Groups): GaucResult {
  checkScoresAndLabels('computeGauc', scores, labels)
  checkGroups('computeGauc', groups, labels.length)
  const index = indexGroups(groups)
  const scratchPos = new Float64Array(labels.length)
  const scratchNeg = new Float64Array(labels.length)
  let weighted = 0
  const result: GaucResult = { value: NaN, groupsUsed: 0, groupsSkipped: 0, rowsUsed: 0, rowsSkipped: 0 }
  for (let g = 0; g < index.count; g++) {
    const { pos, neg } = splitGroupSorted(index, g, scores, labels, scratchPos, scratchNeg)
    const size = pos.length + neg.length
    if (pos.length === 0 || neg.length === 0) {
      result.groupsSkipped++
      result.rowsSkipped += size
      continue
    }
    weighted += size * aucOfSorted(pos, neg)
    result.groupsUsed++
    result.rowsUsed += size
  }
  if (result.rowsUsed > 0) result.value = weighted / result.rowsUsed
  return result
}
