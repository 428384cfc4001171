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
 * errors: they map to the out-of-vocabulary id 0. Every rejection is a RequestError whose message
 * and `field` name the path, e.g. `body.candidates[3].price: expected a finite number, got "12"`.
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

/** Checks one value against its feature's kind; returns it as a raw value. */
function checkValue(field: string, f: RawFeature, v: unknown): RawValue {
  if (v === null) return f.nullable === false ? fail(field, 'expected a value, got null (the feature has no fill value for missing ones)') : null
  switch (f.kind) {
    case 'numeric':
      if (typeof v !== 'number') fail(field, `expected a finite number, got ${describe(v)}`)
      if (!Number.isFinite(v)) fail(field, `expected a finite number, got ${v}`)
      return v
    case 'categorical':
      if (typeof v === 'string') return v
      if (typeof v === 'number') return Number.isFinite(v) ? v : fail(field, `expected a string or a finite number, got ${v}`)
      return fail(field, `expected a string or a number, got ${describe(v)}`)
    case 'list':
      if (typeof v === 'string') return v // the joined form, as in the data files
      if (!Array.isArray(v)) fail(field, `expected a list of strings or numbers, got ${describe(v)}`)
      v.forEach((x, i) => {
        if (typeof x === 'string') return
        if (typeof x !== 'number') fail(`${field}[${i}]`, `expected a string or a number, got ${describe(x)}`)
        if (!Number.isFinite(x)) fail(`${field}[${i}]`, `expected a finite number, got ${x}`)
      })
      return v as (string | number)[]
  }
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
    shared[name] = checkValue(`body.context.${name}`, kind, v)
  }

  const candidates = value.candidates
  if (candidates === undefined) fail('body.candidates', 'missing (expected a list of candidate feature objects)')
  if (!Array.isArray(candidates)) fail('body.candidates', `expected a list of candidate feature objects, got ${describe(candidates)}`)
  if (candidates.length === 0) fail('body.candidates', 'expected at least 1 candidate, got 0')
  if (candidates.length > limits.maxCandidates) fail('body.candidates', `${candidates.length} candidates, over the limit of ${limits.maxCandidates} (hint: split the request)`, 413)

  // the features each candidate must bring itself
  const own = features.filter((f) => !Object.hasOwn(shared, f.name))
  const rows: RawRow[] = new Array(candidates.length)
  for (let i = 0; i < candidates.length; i++) {
    const c: unknown = candidates[i]
    const at = `body.candidates[${i}]`
    if (!isObject(c)) fail(at, `expected an object of feature values, got ${describe(c)}`)
    const row: Record<string, RawValue> = { ...shared }
    let given = 0
    for (const name in c) {
      const kind = kinds.get(name)
      if (!kind) fail(`${at}.${name}`, `unknown feature (features: ${allowed()})`)
      if (Object.hasOwn(shared, name)) fail(`${at}.${name}`, 'also given in context (give a feature in one place)')
      row[name] = checkValue(`${at}.${name}`, kind, c[name])
      given++
    }
    if (given !== own.length) {
      const missing = own.find((f) => !Object.hasOwn(c, f.name))!
      fail(`${at}.${missing.name}`, 'missing feature (not in the candidate nor in context)')
    }
    rows[i] = row
  }
  return { rows }
}
