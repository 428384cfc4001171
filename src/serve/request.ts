/**
 * The /v1/rank request, validated against the model's feature schema:
 *
 *   { "context":    { feature: value, ... },        shared (user, context) features, sent once
 *     "candidates": [ { feature: value, ... }, ...] each candidate's own features }
 *
 * Every feature of the model must be given exactly once per candidate: in the context or in the
 * candidate (not both, so it is never ambiguous which one counts). Values are raw, as in the data:
 * categorical → string or number, numeric → a finite number, multi-valued → a list of strings or
 * numbers (or the separator-joined string, as in the data); null is a missing value (mapped as in training). Unknown categorical values are not
 * errors: they map to the out-of-vocabulary id 0. An id given as a JSON number must be exact: beyond 2^53 - 1
 * a JSON number has lost digits (4611686018427387905 parses as ...904), so such ids are sent as strings.
 * Every rejection is a RequestError whose message and `field` name the path, e.g.
 * `body.candidates[3].price: expected a finite number, got "12"`.
 */
import { RequestError } from '../errors.js'
import type { RawFeature, RawRow, RawValue } from '../export/predictor.js'

export interface RankLimits {
  /** most candidates per request */
  maxCandidates: number
}

export const DEFAULT_LIMITS: RankLimits = { maxCandidates: 10_000 }

export interface ParsedRank {
  /** one raw row per candidate: the context merged with the candidate's features */
  rows: RawRow[]
}

function fail(field: string, message: string, status = 400): never {
  throw new RequestError(`${field}: ${message}`, { field, status })
}

function describe(v: unknown): string {
  if (v === null) return 'null'
  if (Array.isArray(v)) return 'a list'
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)
  if (typeof v === 'number') return String(v)
  return typeof v === 'object' ? 'an object' : typeof v
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

/** An id given as a JSON number: refused when it is an integer beyond 2^53 - 1, where digits are lost in parsing. */
function checkId(v: number, at: () => string): number {
  if (Number.isInteger(v) && !Number.isSafeInteger(v)) {
    fail(at(), `expected an exact integer id, got a JSON number beyond 2^53 - 1 (${v}), which has lost digits; send the id as a string`)
  }
  return v
}

/** Checks one value against its feature's kind; returns it as a raw value. `at` names it in errors. */
function checkValue(f: RawFeature, v: unknown, at: () => string): RawValue {
  switch (typeof v) {
    case 'number':
      if (f.kind === 'list') return fail(at(), `expected a list of strings or numbers, got ${v}`)
      if (!Number.isFinite(v)) return fail(at(), `expected a finite number, got ${v}`)
      return f.kind === 'categorical' ? checkId(v, at) : v
    case 'string':
      if (f.kind === 'numeric') return fail(at(), `expected a finite number, got ${describe(v)}`)
      return v // a category, or a list in its separator-joined form as in the data files
  }
  if (v === null) return f.nullable === false ? fail(at(), 'expected a value, got null (the feature has no fill value for missing ones)') : null
  if (f.kind === 'list' && Array.isArray(v)) {
    v.forEach((x, i) => {
      if (typeof x === 'string') return
      if (typeof x !== 'number') fail(`${at()}[${i}]`, `expected a string or a number, got ${describe(x)}`)
      if (!Number.isFinite(x)) fail(`${at()}[${i}]`, `expected a finite number, got ${x}`)
      checkId(x, () => `${at()}[${i}]`)
    })
    return v as (string | number)[]
  }
  const expected = f.kind === 'numeric' ? 'a finite number' : f.kind === 'list' ? 'a list of strings or numbers' : 'a string or a number'
  return fail(at(), `expected ${expected}, got ${describe(v)}`)
}

/** Parses and validates a raw body (string) or an already-parsed JSON value. */
export function parseRankRequest(body: unknown, features: readonly RawFeature[], limits: RankLimits = DEFAULT_LIMITS): ParsedRank {
  let value = body
  if (typeof body === 'string' || body instanceof Uint8Array) {
    const text = typeof body === 'string' ? body : new TextDecoder().decode(body)
    if (text.trim() === '') fail('body', 'empty (expected JSON {"context": {...}, "candidates": [...]})')
    try {
      value = JSON.parse(text)
    } catch (err) {
      fail('body', `malformed JSON: ${(err as Error).message}`)
    }
  }
  if (!isObject(value)) fail('body', `expected a JSON object {"context": {...}, "candidates": [...]}, got ${describe(value)}`)
  for (const key of Object.keys(value)) {
    if (key !== 'context' && key !== 'candidates') fail(`body.${key}`, 'unknown key (allowed: context, candidates)')
  }
  const kinds = new Map(features.map((f) => [f.name, f]))
  const allowed = () => features.map((f) => f.name).join(', ')

  const context = value.context ?? {}
  if (!isObject(context)) fail('body.context', `expected an object of feature values, got ${describe(context)}`)
  const shared: Record<string, RawValue> = {}
  for (const [name, v] of Object.entries(context)) {
    const kind = kinds.get(name)
    if (!kind) fail(`body.context.${name}`, `unknown feature (features: ${allowed()})`)
    shared[name] = checkValue(kind, v, () => `body.context.${name}`)
  }

  const candidates = value.candidates
  if (candidates === undefined) fail('body.candidates', 'missing (expected a list of candidate feature objects)')
  if (!Array.isArray(candidates)) fail('body.candidates', `expected a list of candidate feature objects, got ${describe(candidates)}`)
  if (candidates.length === 0) fail('body.candidates', 'expected at least 1 candidate, got 0')
  if (candidates.length > limits.maxCandidates) fail('body.candidates', `${candidates.length} candidates, over the limit of ${limits.maxCandidates} (hint: split the request)`, 413)

  // the features each candidate must bring itself; field paths are only built for errors
  const own = features.filter((f) => !Object.hasOwn(shared, f.name))
  const sharedEntries = Object.entries(shared)
  const rows: RawRow[] = new Array(candidates.length)
  for (let i = 0; i < candidates.length; i++) {
    const c: unknown = candidates[i]
    if (!isObject(c)) fail(`body.candidates[${i}]`, `expected an object of feature values, got ${describe(c)}`)
    const row: Record<string, RawValue> = {}
    for (const [name, v] of sharedEntries) row[name] = v
    let given = 0
    for (const name of Object.keys(c)) {
      const feature = kinds.get(name)
      if (!feature) fail(`body.candidates[${i}].${name}`, `unknown feature (features: ${allowed()})`)
      if (Object.hasOwn(shared, name)) fail(`body.candidates[${i}].${name}`, 'also given in context (give a feature in one place)')
      row[name] = checkValue(feature, c[name], () => `body.candidates[${i}].${name}`)
      given++
    }
    if (given !== own.length) {
      const missing = own.find((f) => !Object.hasOwn(c, f.name))!
      fail(`body.candidates[${i}].${missing.name}`, 'missing feature (not in the candidate nor in context)')
    }
    rows[i] = row
  }
  return { rows }
}
