/**
 * Command-line options for the commands: node's parseArgs, strict, with errors that list the allowed
 * options and name the command. Values stay strings; `intOption` converts with a located error. A
 * `default` is filled in when the option is absent and shown in `--help`.
 */
import { parseArgs } from 'node:util'
import { ConfigError } from '../errors.js'

export type OptionSpec = Record<
  string,
  { type: 'string' | 'boolean'; short?: string; description: string; required?: boolean; default?: string }
>

/** Options several commands share, described once. */
export const COMMON_OPTIONS = {
  config: { type: 'string', description: 'experiment config, YAML or JSON', required: true },
  epochs: { type: 'string', description: "override the config's epochs" },
  cache: {
    type: 'string',
    description:
      'cache root for the generated data of configs shipped with resflow (default: $RESFLOW_CACHE, else ./.cache)',
  },
} satisfies OptionSpec

export interface Parsed {
  values: Record<string, string | boolean | undefined>
  help: boolean
}

function parseOptions(command: string, argv: string[], spec: OptionSpec): Parsed {
  const options = Object.fromEntries(
    Object.entries(spec).map(([k, v]) => [k, { type: v.type, ...(v.short ? { short: v.short } : {}) }]),
  )
  let parsed: ReturnType<typeof parseArgs>
  try {
    parsed = parseArgs({
      args: argv,
      options: { ...options, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: false,
    })
  } catch (cause) {
    const allowed = Object.keys(spec)
      .map((k) => `--${k}`)
      .join(', ')
    throw new ConfigError(
      `${(cause as Error).message.replace(/\. To specify.*$/s, '')} (allowed: ${allowed}); see \`resflow ${command} --help\``,
      { field: 'argv', cause },
    )
  }
  const values = parsed.values as Record<string, string | boolean | undefined>
  if (values.help) return { values, help: true }
  for (const [name, s] of Object.entries(spec))
    if (s.default !== undefined && values[name] === undefined) values[name] = s.default
  for (const [name, s] of Object.entries(spec)) {
    if (s.required && values[name] === undefined)
      throw new ConfigError(`--${name} is required (${s.description}); see \`resflow ${command} --help\``, {
        field: `--${name}`,
      })
  }
  return { values, help: false }
}

/** What `resflow <command> --help` prints besides the options: the synopsis line and examples. */
export interface CommandHelp {
  synopsis: string
  examples: string[]
}

/**
 * Parses a command's options (defaults filled, required ones checked); with --help it prints the command's
 * help instead and returns null, for the command to exit 0.
 */
export function parseCommand(
  command: string,
  argv: string[],
  spec: OptionSpec,
  help: CommandHelp,
): Parsed['values'] | null {
  const parsed = parseOptions(command, argv, spec)
  if (!parsed.help) return parsed.values
  console.log(helpText(command, help.synopsis, spec, help.examples))
  return null
}

/** `resflow CMD --help`: usage, every option (required / default), then examples (full command lines without "resflow "). */
function helpText(command: string, synopsis: string, spec: OptionSpec, examples: string[]): string {
  const all: OptionSpec = { ...spec, help: { type: 'boolean', short: 'h', description: 'print this help' } }
  const width = Math.max(...Object.entries(all).map(([k, v]) => k.length + (v.type === 'string' ? 6 : 0)))
  const note = (v: OptionSpec[string]) =>
    v.required ? ' (required)' : v.default !== undefined ? ` (default ${v.default})` : ''
  const lines = Object.entries(all).map(
    ([k, v]) => `  --${(k + (v.type === 'string' ? ' VALUE' : '')).padEnd(width)}  ${v.description}${note(v)}`,
  )
  const shown = examples.map((e) => `  resflow ${e}`)
  return [
    `usage: resflow ${command} ${synopsis}`,
    '',
    'options:',
    ...lines,
    '',
    examples.length > 1 ? 'examples:' : 'example:',
    ...shown,
  ].join('\n')
}

export function intOption(name: string, value: string | boolean | undefined, min = 0): number | undefined {
  if (value === undefined) return undefined
  const n = Number(value)
  if (typeof value !== 'string' || !Number.isInteger(n) || n < min)
    throw new ConfigError(`--${name}: expected an integer ≥ ${min}, got "${value}"`, { field: `--${name}` })
  return n
}

export function stringOption(value: string | boolean | undefined): string | undefined {
  return typeof value === 'string' ? value : undefined
}
