/**
 * Funnel consistency. In a funnel (impression → click → purchase) a later task's probability should not
 * exceed the earlier one's: P(purchase) ≤ P(click). The violation rate between consecutive tasks is
 *
 *   rate(k) = #{ i : p_k[i] > p_{k−1}[i] + tolerance } / n
 *
 * The default tolerance 1e-6 absorbs float32 rounding of equal probabilities (float32 spacing near 1 is
 * 6e-8) without hiding real violations. `anyRate` counts rows violating at least one pair.
 */
import { DataError } from '../errors.js'
import { checkFinite } from './check.js'
import type { Scores } from './types.js'

export const FUNNEL_TOLERANCE = 1e-6

export interface FunnelPairViolation {
  upper: string // task k−1
  lower: string // task k
  rate: number
  count: number
}

export interface FunnelViolations {
  pairs: FunnelPairViolation[]
  anyRate: number
  anyCount: number
  rows: number
}

/** `tasks` lists the task names in funnel order; `probs` must hold each of them. */
export function computeFunnelViolations(
  probs: Record<string, Scores>,
  tasks: string[],
  tolerance = FUNNEL_TOLERANCE,
): FunnelViolations {
  if (tasks.length < 2) {
    throw new DataError(
      `computeFunnelViolations: tasks: expected at least 2 tasks in funnel order, got [${tasks.join(', ')}]`,
      { field: 'tasks' },
    )
  }
  const columns = tasks.map((task) => {
    const column = probs[task]
    if (!column) {
      throw new DataError(
        `computeFunnelViolations: probs: missing task "${task}" (have: ${Object.keys(probs).join(', ')})`,
        { field: `probs.${task}` },
      )
    }
    checkFinite('computeFunnelViolations', `probs.${task}`, column)
    return column
  })
  const rows = columns[0].length
  for (const [t, column] of columns.entries()) {
    if (column.length !== rows) {
      throw new DataError(
        `computeFunnelViolations: probs.${tasks[t]}: expected ${rows} rows like probs.${tasks[0]}, got ${column.length}`,
        { field: `probs.${tasks[t]}` },
      )
    }
  }
  const counts = new Array<number>(tasks.length - 1).fill(0)
  let anyCount = 0
  for (let i = 0; i < rows; i++) {
    let violated = false
    for (let t = 1; t < columns.length; t++) {
      if (columns[t][i] > columns[t - 1][i] + tolerance) {
        counts[t - 1]++
        violated = true
      }
    }
    if (violated) anyCount++
  }
  const rate = (count: number) => (rows > 0 ? count / rows : NaN)
  return {
    pairs: counts.map((count, t) => ({ upper: tasks[t], lower: tasks[t + 1], rate: rate(count), count })),
    anyRate: rate(anyCount),
    anyCount,
    rows,
  }
}
