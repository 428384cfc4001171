/**
 * Generic config loading: YAML or JSON file → value checked by a zod schema. Errors name the file and
 * the field path, show what was given, and list the allowed keys or values:
 *   configs/x.yaml: model.towers[1]: expected a positive integer, got "64x"
 *   configs/x.yaml: trainer: unknown key "batchsize" (allowed: batchSize, epochs, lr, seed)
 */
import { readFileSync } from 'node:fs'
import { extname } from 'node:path'
import { parse as parseYaml } from 'yaml'
import type { z } from 'zod'
import { ConfigError } from '../errors.js'

/** Reads `file` (.yaml, .yml or .json) and validates it with `schema`; throws ConfigError naming file and field. */
export function loadConfigFile<S extends z.ZodType>(file: string, schema: S): z.output<S> {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (cause) {
    throw new ConfigError(`${file}: cannot read config file (${(cause as Error).message})`, { file, cause })
  }
  return parseConfigText(text, file, schema)
}

/** Parses YAML/JSON text (JSON is YAML) and validates it; `file` is only used in messages. */
export function parseConfigText<S extends z.ZodType>(text: string, file: string, schema: S): z.output<S> {
  let raw: unknown
  try {
    raw = extname(file) === '.json' ? JSON.parse(text) : parseYaml(text)
  } catch (cause) {
    throw new ConfigError(
      `${file}: not valid ${extname(file) === '.json' ? 'JSON' : 'YAML'}: ${(cause as Error).message}`,
      { file, cause },
    )
  }
  return validateConfig(raw, file, schema)
}

/** Validates an already-parsed value; `where` names its origin (a file or e.g. "--config"). */
export function validateConfig<S extends z.ZodType>(raw: unknown, where: string, schema: S): z.output<S> {
  const result = schema.safeParse(raw)
  if (result.success) return result.data
  throw configErrorOf(result.error, raw, schema, { where })
}

/** How configErrorOf words its lines. */
export interface IssueWording {
  /** the file or flag the value came from, prefixed to every line */
  where?: string
  /** the path of the value inside its file, prefixed to every field (e.g. "model", "fusion") */
  root?: string
  /** what an unknown key is called: "unknown key" (default) or e.g. "unknown option" */
  keyNoun?: string
  /** said after the unknown keys, before the allowed ones (e.g. ` for model "resflow"`) */
  keyContext?: string
  /** appended to every line (e.g. the expected shape) */
  hint?: string
}

/**
 * The one way a failed zod parse becomes a ConfigError: one line per issue, "where: field: what was
 * expected, got what", unknown keys listed with the allowed ones; `field` names the first issue's path.
 */
export function configErrorOf(
  error: z.ZodError,
  raw: unknown,
  schema: z.ZodType,
  wording: IssueWording = {},
): ConfigError {
  const issues = error.issues.map(unwrapUnion)
  const root = wording.root ? [wording.root] : []
  const lines = issues.map((issue) => {
    const line = formatIssue(issue, raw, schema, root, wording)
    return `${wording.where ? `${wording.where}: ` : ''}${line}${wording.hint ? ` ${wording.hint}` : ''}`
  })
  const first = issues[0]
  return new ConfigError(lines.join('\n'), {
    file: wording.where,
    field: first ? formatPath([...root, ...first.path]) : undefined,
    cause: error,
  })
}

/** A union (towers: a list or a per-task record) fails as a whole; report the branch that got furthest. */
function unwrapUnion(issue: z.core.$ZodIssue): z.core.$ZodIssue {
  if (issue.code !== 'invalid_union' || issue.errors.length === 0) return issue
  const candidates = issue.errors.flat().map((i) => ({ ...i, path: [...issue.path, ...i.path] }) as z.core.$ZodIssue)
  return candidates.reduce((best, i) => (i.path.length > best.path.length ? i : best))
}

/** `model.towers[1]` from ['model', 'towers', 1]. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = ''
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`
    else out += out ? `.${String(key)}` : String(key)
  }
  return out || '(root)'
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let v: unknown = root
  for (const key of path) {
    if (v === null || typeof v !== 'object') return undefined
    v = (v as Record<PropertyKey, unknown>)[key]
  }
  return v
}

function show(v: unknown): string {
  if (v === undefined) return 'nothing'
  const s = JSON.stringify(v)
  return s === undefined ? String(v) : s.length > 60 ? `${s.slice(0, 57)}...` : s
}

function formatIssue(
  issue: z.core.$ZodIssue,
  raw: unknown,
  schema: z.ZodType,
  root: readonly string[],
  wording: IssueWording,
): string {
  const path = formatPath([...root, ...issue.path])
  const got = valueAt(raw, issue.path)
  switch (issue.code) {
    case 'unrecognized_keys': {
      const allowed = objectKeysAt(schema, issue.path)
      const keys = issue.keys.map((k) => `"${k}"`).join(', ')
      const noun = `${wording.keyNoun ?? 'unknown key'}${issue.keys.length > 1 ? 's' : ''}`
      return `${path}: ${noun} ${keys}${wording.keyContext ?? ''}${allowed ? ` (allowed: ${allowed.join(', ')})` : ''}`
    }
    case 'invalid_value':
      return `${path}: expected one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}, got ${show(got)}`
    case 'invalid_type':
      return `${path}: expected ${issue.expected}, got ${got === undefined ? 'nothing (required)' : show(got)}`
    default:
      return `${path}: ${issue.message.replace(/^Invalid input: /, '')}, got ${show(got)}`
  }
}

/** Walks the schema along `path` (through optional/default/array wrappers) and lists the object keys found there. */
function objectKeysAt(schema: z.ZodType, path: readonly PropertyKey[]): string[] | undefined {
  let s: unknown = schema
  const unwrap = (x: unknown): unknown => {
    for (let i = 0; i < 10; i++) {
      const def = (x as { _zod?: { def?: Record<string, unknown> } })._zod?.def
      if (!def) return x
      if (
        def.type === 'optional' ||
        def.type === 'default' ||
        def.type === 'nullable' ||
        def.type === 'prefault' ||
        def.type === 'readonly'
      )
        x = def.innerType
      else if (def.type === 'pipe') x = def.in
      else return x
    }
    return x
  }
  for (const key of path) {
    s = unwrap(s)
    const def = (s as { _zod: { def: Record<string, unknown> } })._zod.def
    if (def.type === 'object') s = (def.shape as Record<string, unknown>)[String(key)]
    else if (def.type === 'array') s = def.element
    else if (def.type === 'record') s = def.valueType
    else return undefined
    if (s === undefined) return undefined
  }
  s = unwrap(s)
  const def = (s as { _zod: { def: Record<string, unknown> } })._zod.def
  return def.type === 'object' ? Object.keys(def.shape as object).sort() : undefined
}

/**
 * Runs fn; a ConfigError it throws (or its promise rejects with) gets `file` in front of its message, when the
 * message does not start with it yet.
 */
export function withFile<T>(file: string, fn: () => T): T {
  const named = (err: unknown) =>
    err instanceof ConfigError && !err.message.startsWith(file)
      ? new ConfigError(`${file}: ${err.message}`, { file, field: err.field, cause: err })
      : err
  try {
    const out = fn()
    if (out instanceof Promise)
      return out.catch((err: unknown) => {
        throw named(err)
      }) as T
    return out
  } catch (err) {
    throw named(err)
  }
}
