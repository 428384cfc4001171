/**
 * Command-line options for the commands: node's parseArgs, strict, with errors that list the allowed
 * options and name the command. Values stay strings; `intOption` converts with a located error.
 */
import { parseArgs } from 'node:util'
import { ConfigError } from '../errors.js'

export type OptionSpec = Record<string, { type: 'string' | 'boolean'; short?: string; description: string; required?: boolean }>

export interface Parsed {
  values: Record<string, string | boolean | undefined>
  help: boolean
}

export function parseOptions(command: string, argv: string[], spec: OptionSpec): Parsed {
  const options = Object.fromEntries(Object.entries(spec).map(([k, v]) => [k, { type: v.type, ...(v.short ? { short: v.short } : {}) }]))
  let parsed: ReturnType<typeof parseArgs>
  try {
    parsed = parseArgs({ args: argv, options: { ...options, help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals: false })
  } catch (cause) {
    const allowed = Object.keys(spec).map((k) => `--${k}`).join(', ')
    throw new ConfigError(`${(cause as Error).message.replace(/\. To specify.*$/s, '')} (allowed: ${allowed}); see \`resflow ${command} --help\``, { field: 'argv', cause })
  }
  const values = parsed.values as Record<string, string | boolean | undefined>
  if (values.help) return { values, help: true }
  for (const [name, s] of Object.entries(spec)) {
    if (s.required && values[name] === undefined) throw new ConfigError(`--${name} is required (${s.description}); see \`resflow ${command} --help\``, { field: `--${name}` })
  }
  return { values, help: false }
}

export function helpText(command: string, synopsis: string, spec: OptionSpec): string {
  const width = Math.max(...Object.entries(spec).map(([k, v]) => k.length + (v.type === 'string' ? 6 : 0)))
  const lines = Object.entries(spec).map(([k, v]) => `  --${(k + (v.type === 'string' ? ' VALUE' : '')).padEnd(width)}  ${v.description}${v.required ? ' (required)' : ''}`)
  return [`usage: resflow ${command} ${synopsis}`, '', 'options:', ...lines].join('\n')
}

export function intOption(name: string, value: string | boolean | undefined, min = 0): number | undefined {
  if (value === undefined) return undefined
  const n = Number(value)
  if (typeof value !== 'string' || !Number.isInteger(n) || n < min) throw new ConfigError(`--${name}: expected an integer ≥ ${min}, got "${value}"`, { field: `--${name}` })
  return n
}

export function stringOption(value: string | boolean | undefined): string | undefined {
  return typeof value === 'string' ? value : undefined
}
