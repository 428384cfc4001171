/**
 * The layering of src/, checked from the import statements: engine → nn → models → train / export /
 * serve → cli. Beside the chain: config (imports nothing), data (the engine's rng and config), metrics
 * and report (numbers in, numbers out); nn reads data's types. run (the run folder: layout, checksums,
 * lock, weights) sits between models and train / export / serve, which all read runs. A module may import
 * only the folders listed for it, so train and export never import each other; and no file may reach
 * itself through its imports (a cycle), type-only imports included.
 */
import assert from 'node:assert/strict'
import { readFileSync, readdirSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../../src')

/** folder → the folders its files may import (besides its own and errors.ts) */
const ALLOWED: Record<string, readonly string[]> = {
  engine: [],
  config: [],
  run: ['engine', 'nn', 'models', 'data', 'metrics', 'config'],
  data: ['engine', 'config'],
  metrics: ['engine', 'config'],
  report: ['metrics'],
  nn: ['engine', 'data', 'config'],
  models: ['engine', 'nn', 'data', 'config'],
  train: ['engine', 'nn', 'models', 'data', 'metrics', 'report', 'config', 'run'],
  export: ['engine', 'nn', 'models', 'data', 'metrics', 'config', 'run'],
  serve: ['engine', 'nn', 'models', 'data', 'metrics', 'config', 'run', 'export'],
  cli: ['engine', 'nn', 'models', 'data', 'metrics', 'report', 'config', 'run', 'train', 'export', 'serve'],
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  )
}

/** Relative imports of a file (static, `export … from` and dynamic), resolved to .ts paths under src. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8')
  const specs = [
    ...text.matchAll(
      /(?:^|\n)\s*(?:import|export)\b[^'"\n;]*?(?:from\s*)?['"](\.[^'"]+)['"]|import\(\s*['"](\.[^'"]+)['"]\s*\)/g,
    ),
  ]
  return specs.map((m) => resolve(dirname(file), (m[1] ?? m[2]).replace(/\.js$/, '.ts')))
}

const folderOf = (file: string): string => {
  const rel = relative(SRC, file).split('/')
  return rel.length === 1 ? rel[0].replace(/\.ts$/, '') : rel[0]
}

const files = sourceFiles(SRC)
const graph = new Map(files.map((f) => [f, importsOf(f)]))

describe('src/ layering', () => {
  it('every file imports only the folders its layer may use', () => {
    const wrong: string[] = []
    for (const [file, deps] of graph) {
      const from = folderOf(file)
      if (from === 'index' || from === 'errors') continue
      const allowed = ALLOWED[from]
      assert.ok(allowed, `src/${from}: a folder the layering does not know; add it to ALLOWED`)
      for (const dep of deps) {
        const to = folderOf(dep)
        if (to === from || to === 'errors') continue
        if (!allowed.includes(to))
          wrong.push(`${relative(SRC, file)} → ${relative(SRC, dep)} (${from} may not import ${to})`)
      }
    }
    assert.deepEqual(wrong, [])
  })

  it('no file reaches itself through its imports', () => {
    const cycles: string[] = []
    const state = new Map<string, 'open' | 'done'>()
    const path: string[] = []
    const visit = (f: string) => {
      state.set(f, 'open')
      path.push(f)
      for (const d of graph.get(f) ?? []) {
        if (state.get(d) === 'open')
          cycles.push(
            path
              .slice(path.indexOf(d))
              .concat(d)
              .map((p) => relative(SRC, p))
              .join(' → '),
          )
        else if (!state.has(d)) visit(d)
      }
      path.pop()
      state.set(f, 'done')
    }
    for (const f of files) if (!state.has(f)) visit(f)
    assert.deepEqual(cycles, [])
  })

  it('the checker sees imports (it would catch a violation)', () => {
    // guards the regular expression: a file known to import engine must show it
    const runtimeUsers = [...graph].filter(
      ([f, deps]) => folderOf(f) === 'models' && deps.some((d) => folderOf(d) === 'engine'),
    )
    assert.ok(runtimeUsers.length > 3)
  })
})
