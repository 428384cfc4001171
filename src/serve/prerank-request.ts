/**
 * The body of a pre-rank request and its response, validated without HTTP (the route only parses JSON
 * and calls these around `PreRanker.rank`):
 *
 *   { "context":  { column: value, ... },   the user/context-side features, once
 *     "item_ids": [7, 9, "sku-12", ...],      candidates by id (or "candidates": [{"<itemKey>": 7}, ...])
 *     "k":        100 }                       how many to return (default DEFAULT_PRERANK_K)
 *   → { "model", "version", "candidates": N, "results": [{"index", "id", "score", "tasks": {task: p}}, ...] }
 *
 * `index` is the candidate's position in the request, as in /v1/rank's results. Item features cannot be
 * overridden per request: item vectors are computed once, at load. Errors are RequestErrors naming the
 * field (`body.item_ids[3]`, `body.context.hour`, `body.k`).
 */
import { RequestError } from '../errors.js'
import type { RawRow } from '../export/codec.js'
import type { ItemId } from './prerank-index.js'
import type { PreRanker, PrerankResult } from './prerank.js'

export const DEFAULT_PRERANK_K = 100

export interface PrerankLimits {
  /** most candidate ids per request */
  maxCandidates: number
}

export const DEFAULT_PRERANK_LIMITS: PrerankLimits = { maxCandidates: 100_000 }

export interface PrerankRequest {
  context: RawRow
  ids: ItemId[]
  k: number
}

/** A name from the request as it appears in messages: long ones cut to their first 40 characters (as /v1/rank does). */
function clip(name: string): string {
  return name.length > 64 ? `${name.slice(0, 40)}…(${name.length} characters)` : name
}

function fail(field: string, message: string): never {
  throw new RequestError(`${field}: ${message}`, { field })
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

function describe(v: unknown): string {
  if (v === undefined) return 'nothing'
  const text = JSON.stringify(v)
  return text.length > 40 ? `${text.slice(0, 40)}…` : text
}

function itemId(v: unknown, field: string): ItemId {
  if (typeof v === 'string' && v !== '') return v
  if (typeof v === 'number' && Number.isFinite(v)) {
    if (Number.isInteger(v) && !Number.isSafeInteger(v))
      fail(field, `${v} is not an exact integer id (beyond 2^53 - 1 a number loses digits); send the id as a string`)
    return v
  }
  return fail(field, `expected an item id (a string or a number), got ${describe(v)}`)
}

/** Validates a parsed JSON body into (context, ids, k). `itemKey` is the pre-ranker's item key column. */
export function parsePrerankRequest(
  body: unknown,
  itemKey: string,
  limits: PrerankLimits = DEFAULT_PRERANK_LIMITS,
): PrerankRequest {
  if (!isObject(body))
    fail('body', `expected a JSON object {"context": {...}, "item_ids": [...], "k": n}, got ${describe(body)}`)
  for (const key of Object.keys(body)) {
    if (!['context', 'item_ids', 'candidates', 'k'].includes(key))
      fail(`body.${clip(key)}`, 'unknown field (allowed: context, item_ids, candidates, k)')
  }
  const context = body.context ?? {}
  if (!isObject(context)) fail('body.context', `expected an object of user/context features, got ${describe(context)}`)
  for (const [name, v] of Object.entries(context)) {
    const ok =
      v === null ||
      typeof v === 'string' ||
      (typeof v === 'number' && Number.isFinite(v)) ||
      (Array.isArray(v) && v.every((x) => typeof x === 'string' || (typeof x === 'number' && Number.isFinite(x))))
    if (!ok)
      fail(
        `body.context.${clip(name)}`,
        `expected a string, a finite number, null or a list of them, got ${describe(v)}`,
      )
  }

  let ids: ItemId[]
  if (body.item_ids !== undefined && body.candidates !== undefined)
    fail('body', 'give the candidates once: "item_ids" or "candidates", not both')
  if (body.item_ids !== undefined) {
    if (!Array.isArray(body.item_ids))
      fail('body.item_ids', `expected a list of item ids, got ${describe(body.item_ids)}`)
    ids = body.item_ids.map((v, i) => itemId(v, `body.item_ids[${i}]`))
  } else if (body.candidates !== undefined) {
    if (!Array.isArray(body.candidates))
      fail('body.candidates', `expected a list of {"${itemKey}": id}, got ${describe(body.candidates)}`)
    ids = body.candidates.map((c, i) => {
      if (!isObject(c)) fail(`body.candidates[${i}]`, `expected {"${itemKey}": id}, got ${describe(c)}`)
      const other = Object.keys(c).find((key) => key !== itemKey)
      if (other !== undefined) {
        fail(
          `body.candidates[${i}].${clip(other)}`,
          `pre-ranking takes candidates by "${itemKey}" only: item vectors are computed at load, so item features cannot be overridden per request (use /v1/rank for that)`,
        )
      }
      return itemId(c[itemKey], `body.candidates[${i}].${itemKey}`)
    })
  } else {
    return fail('body.item_ids', `missing (expected a list of item ids, or "candidates": [{"${itemKey}": id}, ...])`)
  }
  if (ids.length === 0) fail('body.item_ids', 'expected at least one candidate id, got none')
  if (ids.length > limits.maxCandidates) {
    throw new RequestError(
      `body.item_ids: ${ids.length} candidates, over the limit of ${limits.maxCandidates} per request`,
      { field: 'body.item_ids', status: 413 },
    )
  }

  const k = body.k ?? DEFAULT_PRERANK_K
  if (typeof k !== 'number' || !Number.isInteger(k) || k < 1)
    fail('body.k', `expected a positive integer, got ${describe(k)}`)
  return { context: context as RawRow, ids, k }
}

export interface PrerankResponse {
  model: string
  version: string
  /** how many candidates were scored */
  candidates: number
  results: { index: number; id: ItemId; score: number; tasks: Record<string, number> }[]
}

/** The response object of a ranked request (JSON.stringify it). */
export function prerankResponse(ranker: Pick<PreRanker, 'model' | 'version'>, result: PrerankResult): PrerankResponse {
  return {
    model: ranker.model,
    version: ranker.version,
    candidates: result.candidates,
    results: result.hits.map((h) => ({ index: h.position, id: h.id, score: h.score, tasks: h.probs })),
  }
}
