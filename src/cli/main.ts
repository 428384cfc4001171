/**
 * The `resflow` command line: a thin layer over the library. Each command lives in its own file under
 * commands/ and exports `run(argv) → exit code`; this table is the only place that lists them.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { ResflowError } from '../errors.js'
import { packageRoot } from '../train/experiment.js'

type Command = { summary: string; load: () => Promise<{ run: (argv: string[]) => Promise<number> }> }

const COMMANDS: Record<string, Command> = {
  'data stats': {
    summary: 'rows, label rates, funnel consistency, missing values and vocabulary sizes of a dataset',
    load: () => import('./commands/data-stats.js'),
  },
  datagen: {
    summary: 'write synthetic funnel data (train/val/test Parquet + schema)',
    load: () => import('./commands/datagen.js'),
  },
  train: {
    summary: 'train one model from an experiment config into a run directory (--resume continues one)',
    load: () => import('./commands/train.js'),
  },
  eval: {
    summary: 'score a saved run on any split: AUC, GAUC, logloss, calibration, funnel violations, fused score',
    load: () => import('./commands/eval.js'),
  },
  predict: {
    summary: 'per-row task probabilities and the fused score of a saved run, to a CSV file',
    load: () => import('./commands/predict.js'),
  },
  compare: {
    summary: 'train models × seeds (× one swept setting) on the same splits; results.json, results.md, report.html',
    load: () => import('./commands/compare.js'),
  },
  export: {
    summary:
      'write a run as a standalone ONNX file (tables as initializers, metadata) + preprocessing JSON; twin towers per side',
    load: () => import('./commands/export.js'),
  },
  serve: {
    summary: 'serve rankings over HTTP: POST /v1/rank, /healthz, /metrics, reload on SIGHUP or POST /admin/reload',
    load: () => import('./commands/serve.js'),
  },
  demo: {
    summary: 'generate synthetic funnel data, train ResFlow and baselines, print the comparison (a few minutes)',
    load: () => import('./commands/demo.js'),
  },
  models: {
    summary: 'list the registered models: summary, paper, options with their defaults (--json)',
    load: () => import('./commands/models.js'),
  },
}

export const COMMAND_NAMES = Object.keys(COMMANDS)

/** The installed package's version (package.json beside bin/, dist/ and src/). */
export function version(): string {
  return (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version
}

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((k) => k.length))
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`)
  return [
    'usage: resflow <command> [options]',
    '',
    'commands:',
    ...lines,
    '',
    'resflow <command> --help (or resflow help <command>) lists its options, their defaults and examples; resflow --version prints the version.',
  ].join('\n')
}

export async function main(argv: string[]): Promise<number> {
  const [first, ...after] = argv
  if (first === '--version' || first === '-v') {
    console.log(version())
    return 0
  }
  if (first === 'help' && after.length > 0) return main([...after, '--help'])
  if (!first || first === '--help' || first === '-h' || first === 'help') {
    console.log(usage())
    return first ? 0 : 1
  }
  const [name, ...rest] = argv as [string, ...string[]]
  // "data stats" style commands: try the two-word name first
  const two = rest.length > 0 ? `${name} ${rest[0]}` : ''
  const key = two && COMMANDS[two] ? two : name
  const command = COMMANDS[key]
  if (!command) {
    console.error(`resflow: unknown command "${name}" (available: ${COMMAND_NAMES.join(', ')})`)
    return 2
  }
  try {
    const mod = await command.load()
    return await mod.run(key === two ? rest.slice(1) : rest)
  } catch (err) {
    if (err instanceof ResflowError) {
      console.error(`resflow ${key}: ${err.message}`)
      return 1
    }
    throw err
  }
}

/**
 * npm (`npx resflow`, `npm run resflow --`) runs the CLI under `sh -c`, and on SIGTERM signals only that
 * shell, which exits without passing the signal on: the CLI went on running, orphaned (a server stayed
 * up on its port). So when npm started us, the exit of our parent process counts as SIGTERM, which the
 * command handles as it would the real one (serve: drain, then exit). Checked every 500 ms; a process
 * started otherwise (a shell's `&`, nohup, a process manager) is not affected.
 */
export function stopWithNpmParent(): void {
  if (process.env.npm_lifecycle_event === undefined) return
  const parent = process.ppid
  const timer = setInterval(() => {
    if (process.ppid === parent) return
    clearInterval(timer)
    process.kill(process.pid, 'SIGTERM')
  }, 500)
  timer.unref()
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  stopWithNpmParent()
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code
  })
}
