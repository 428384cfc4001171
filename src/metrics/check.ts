/**
 * Input checks shared by every metric. They run in one pass over the rows and fail on the first bad
 * value with its index, so a NaN score or a label of 2 never turns into a plausible-looking number.
 */
import { DataError } from '../errors.js'
import type { Groups, Labels, Scores } from './types.js'

/** Throws unless `scores` and `labels` have the same length, scores are finite and labels are 0/1. */
export function checkScoresAndLabels(where: string, scores: Scores, labels: Labels): void {
  if (scores.length !== labels.length) {
    throw new DataError(`${where}: scores and labels differ in length (${scores.length} ≠ ${labels.length})`, {
      field: where,
    })
  }
  checkFinite(where, 'scores', scores)
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i]
    if (y !== 0 && y !== 1) {
      throw new DataError(`${where}: labels[${i}]: expected 0 or 1, got ${y}`, { field: `labels[${i}]` })
    }
  }
}

/** Throws unless every value is finite. */
export function checkFinite(where: string, name: string, values: Scores | Groups): void {
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i])) {
      throw new DataError(`${where}: ${name}[${i}]: expected a finite number, got ${values[i]}`, {
        field: `${name}[${i}]`,
      })
    }
  }
}

/** Throws unless `groups` has `rows` finite entries. */
export function checkGroups(where: string, groups: Groups, rows: number): void {
  if (groups.length !== rows) {
    throw new DataError(`${where}: groups and labels differ in length (${groups.length} ≠ ${rows})`, { field: where })
  }
  checkFinite(where, 'groups', groups)
}

/** Throws unless `k` is a positive integer. */
export function checkK(where: string, k: number): void {
  if (!Number.isInteger(k) || k < 1) {
    throw new DataError(`${where}: k: expected a positive integer, got ${k}`, { field: 'k' })
  }
}
