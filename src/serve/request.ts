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
 * `body.candidates[3].price: expected a finite number, got "12"`. Names and values from the request are
 * cut short in messages (`clip`), so a 1 MB key is not sent back.
 *
 * `parseRankRequest` is the row form for codecs without a compiled encoder (RowCodec.compiled); codecs from a
 * fitted preprocessing take the one-pass path of rank-encode.ts, which reuses `checkValue` and the messages
 * here and adds the columnar and id forms.
 *
 * What a request may cost is bounded before it is parsed: nesting deeper than MAX_JSON_DEPTH is refused
 * by a scan that stops at the first bracket too deep (JSON.parse took 8.3 s on 8 MB of nested brackets,
 * blocking every other request; the server scans bodies as they arrive), and the server's body limit
 * is the largest legal request (`maxRankBodyBytes`).
 */
import { RequestError } from '../errors.js'
import type { RawFeature, RawRow, RawValue } from '../export/codec.js'

export interface RankLimits {
  /** most candidates per request */
  maxCandidates: number
}

export const DEFAULT_LIMITS: RankLimits = { maxCandidates: 10_000 }

/**
 * Deepest nesting of a rank request: body → candidates → candidate → list value is 4. The slack keeps
 * field-level errors for near misses (a list of lists), while a body of nested brackets is refused at
 * its 9th bracket instead of being parsed.
 */
export const MAX_JSON_DEPTH = 8

/**
 * Bytes a feature value may take in a request, on top of its quoted name: an id or a category of
 * ~50 characters, a number at full precision, or a short list. Sets the default body limit.
 */
export const VALUE_BYTES = 64

/**
 * The largest legal request: `maxCandidates` candidates, each carrying every feature (nothing shared in
 * context) at VALUE_BYTES per value, plus 64 KiB for the envelope and the context. With 10 features
 * and 10,000 candidates that is about 8 MB.
 */
export function maxRankBodyBytes(features: readonly RawFeature[], limits: RankLimits = DEFAULT_LIMITS): number {
  const candidate = features.reduce((bytes, f) => bytes + JSON.stringify(f.name).length + 2 + VALUE_BYTES, 2) // "name": value, … {}
  return 64 * 1024 + limits.maxCandidates * candidate
}

/** A name from the request as it appears in messages and field paths: one over 64 characters becomes its first 40 and its length. */
export function clip(name: string): string {
  return name.length > 64 ? `${name.slice(0, 40)}…(${name.length} characters)` : name
}

export interface ParsedRank {
  /** one raw row per candidate: the context merged with the candidate's features */
  rows: RawRow[]
}

export function fail(field: string, message: string, status = 400): never {
  throw new RequestError(`${field}: ${message}`, { field, status })
}

export function describe(v: unknown): string {
  if (v === null) return 'null'
  if (Array.isArray(v)) return 'a list'
  if (typeof v === 'string')
    return v.length > 40 ? `${JSON.stringify(v.slice(0, 40))}…(${v.length} characters)` : JSON.stringify(v)
  if (typeof v === 'number') return String(v)
  return typeof v === 'object' ? 'an object' : typeof v
}

export const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v)

/** An id given as a JSON number: refused when it is an integer beyond 2^53 - 1, where digits are lost in parsing. */
function checkId(v: number, at: () => string): number {
  if (Number.isInteger(v) && !Number.isSafeInteger(v)) {
    fail(
      at(),
      `expected an exact integer id, got a JSON number beyond 2^53 - 1 (${v}), which has lost digits; send the id as a string`,
    )
  }
  return v
}

/** Checks one value against its feature's kind; returns it as a raw value. `at` names it in errors. */
export function checkValue(f: RawFeature, v: unknown, at: () => string): RawValue {
  switch (typeof v) {
    case 'number':
      if (f.kind === 'list') return fail(at(), `expected a list of strings or numbers, got ${v}`)
      if (!Number.isFinite(v)) return fail(at(), `expected a finite number, got ${v}`)
      return f.kind === 'categorical' ? checkId(v, at) : v
    case 'string':
      if (f.kind === 'numeric') return fail(at(), `expected a finite number, got ${describe(v)}`)
      return v // a category, or a list in its separator-joined form as in the data files
  }
  if (v === null)
    return f.nullable === false
      ? fail(at(), 'expected a value, got null (the feature has no fill value for missing ones)')
      : null
  if (f.kind === 'list' && Array.isArray(v)) {
    v.forEach((x, i) => {
      if (typeof x === 'string') return
      if (typeof x !== 'number') fail(`${at()}[${i}]`, `expected a string or a number, got ${describe(x)}`)
      if (!Number.isFinite(x)) fail(`${at()}[${i}]`, `expected a finite number, got ${x}`)
      checkId(x, () => `${at()}[${i}]`)
    })
    return v as (string | number)[]
  }
  const expected =
    f.kind === 'numeric'
      ? 'a finite number'
      : f.kind === 'list'
        ? 'a list of strings or numbers'
        : 'a string or a number'
  return fail(at(), `expected ${expected}, got ${describe(v)}`)
}

/**
 * A check of JSON nesting for a body read in pieces (as it arrives): counts brackets outside strings
 * and throws a RequestError at the first one deeper than `max`, so a body of nested brackets is
 * refused at its 9th byte without being buffered or parsed. No allocation; one pass over the bytes with
 * the fewest tests per byte (inside a string only a quote or a backslash matters): about 2 ms per MB,
 * where skipping each string with Buffer's indexOf took 3.5 (most strings of a rank body are short keys).
 */
export function jsonDepthScanner(max = MAX_JSON_DEPTH): (chunk: Uint8Array) => void {
  let depth = 0
  let offset = 0 // bytes seen before this chunk
  let inString = false
  let escaped = false // inside a string, the last byte was a backslash that escapes the next
  return (b) => {
    const n = b.length
    let i = 0
    while (i < n) {
      if (inString) {
        for (; i < n; i++) {
          const c = b[i]
          if (escaped) escaped = false
          else if (c === 0x5c) escaped = true
          else if (c === 0x22) {
            inString = false
            i++
            break
          }
        }
        continue
      }
      const c = b[i]
      if (c === 0x22) inString = true
      else if (c === 0x5b || c === 0x7b) {
        if (++depth > max)
          fail(
            'body',
            `nested deeper than ${max} levels (at byte ${offset + i}); a rank request nests 4: body, candidates, candidate, list value`,
          )
      } else if (c === 0x5d || c === 0x7d) depth--
      i++
    }
    offset += n
  }
}

/** A raw body (string or UTF-8 bytes) parsed as JSON, its nesting checked first; any other value is taken as already parsed. */
export function parseJsonBody(body: unknown): unknown {
  if (typeof body !== 'string' && !(body instanceof Uint8Array)) return body
  jsonDepthScanner()(typeof body === 'string' ? Buffer.from(body) : body) // before anything that costs
  const text =
    typeof body === 'string' ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8')
  if (text.trim() === '') fail('body', 'empty (expected JSON {"context": {...}, "candidates": [...]})')
  try {
    return JSON.parse(text)
  } catch (err) {
    return fail('body', `malformed JSON: ${(err as Error).message}`)
  }
}

/** Parses and validates a raw body (string or UTF-8 bytes) or an already-parsed JSON value. */
export function parseRankRequest(
  body: unknown,
  features: readonly RawFeature[],
  limits: RankLimits = DEFAULT_LIMITS,
): ParsedRank {
  const value = parseJsonBody(body)
  if (!isObject(value))
    fail('body', `expected a JSON object {"context": {...}, "candidates": [...]}, got ${describe(value)}`)
  for (const key of Object.keys(value)) {
    if (key !== 'context' && key !== 'candidates')
      fail(`body.${clip(key)}`, 'unknown key (allowed: context, candidates)')
  }
  const kinds = new Map(features.map((f) => [f.name, f]))
  const allowed = () => features.map((f) => f.name).join(', ')

  const context = value.context ?? {}
  if (!isObject(context)) fail('body.context', `expected an object of feature values, got ${describe(context)}`)
  const shared: Record<string, RawValue> = {}
  for (const [name, v] of Object.entries(context)) {
    const kind = kinds.get(name)
    if (!kind) fail(`body.context.${clip(name)}`, `unknown feature (features: ${allowed()})`)
    shared[name] = checkValue(kind, v, () => `body.context.${name}`)
  }

  const candidates = value.candidates
  if (candidates === undefined) fail('body.candidates', 'missing (expected a list of candidate feature objects)')
  if (!Array.isArray(candidates))
    fail('body.candidates', `expected a list of candidate feature objects, got ${describe(candidates)}`)
  if (candidates.length === 0) fail('body.candidates', 'expected at least 1 candidate, got 0')
  if (candidates.length > limits.maxCandidates)
    fail(
      'body.candidates',
      `${candidates.length} candidates, over the limit of ${limits.maxCandidates} (hint: split the request)`,
      413,
    )

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
      if (!feature) fail(`body.candidates[${i}].${clip(name)}`, `unknown feature (features: ${allowed()})`)
      if (Object.hasOwn(shared, name))
        fail(`body.candidates[${i}].${name}`, 'also given in context (give a feature in one place)')
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
