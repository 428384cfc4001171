/** Helpers for CLI tests: a tiny experiment config in a temporary folder, and main() with captured output. */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { main } from '../../src/cli/main.js'

/** Shared synthetic data for the tests of one file (generated once, on first use, into its own folder). */
const dataDir = join(mkdtempSync(join(tmpdir(), 'resflow-cli-data-')), 'synthetic')

/** configs/synthetic_test.yaml with its data folder moved to a temporary one and `edit` applied to the text. */
export function tinyConfig(edit: (yaml: string) => string = (y) => y): string {
  const dir = mkdtempSync(join(tmpdir(), 'resflow-cli-'))
  const text = readFileSync(new URL('../../configs/synthetic_test.yaml', import.meta.url), 'utf8').replace(
    'dir: ../.cache/synthetic_test',
    `dir: ${dataDir}`,
  )
  const file = join(dir, 'experiment.yaml')
  writeFileSync(file, edit(text))
  return file
}

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'resflow-cli-out-'))
}

/** Runs the CLI in-process; stdout and stderr are captured, not printed. */
export async function cli(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out: string[] = []
  const err: string[] = []
  const log = console.log
  const error = console.error
  const write = process.stderr.write.bind(process.stderr)
  console.log = (...a: unknown[]) => void out.push(a.join(' '))
  console.error = (...a: unknown[]) => void err.push(a.join(' '))
  process.stderr.write = ((chunk: string | Uint8Array) => {
    err.push(String(chunk))
    return true
  }) as typeof process.stderr.write
  try {
    const code = await main(argv)
    return { code, stdout: out.join('\n'), stderr: err.join('') }
  } finally {
    console.log = log
    console.error = error
    process.stderr.write = write
  }
}

/** `resflow predict` of `run` on `path` read as `dataset`, writing `out`; `options` (--keep, --split) before --out. */
export function predict(
  run: string,
  dataset: string,
  path: string,
  out: string,
  ...options: string[]
): ReturnType<typeof cli> {
  return cli('predict', '--run', run, '--dataset', dataset, '--path', path, ...options, '--out', out)
}
