#!/usr/bin/env node
// The `resflow` command. In a checkout (src/ beside bin/, tsx installed) it runs the TypeScript sources
// in this process, so it is never behind them (dist/ is only rebuilt by `npm run build`); an installed
// package, which ships dist/ and no src/, runs the build.
import { existsSync } from 'node:fs'

async function loadCli() {
  const sources = new URL('../src/cli/main.ts', import.meta.url)
  if (existsSync(sources)) {
    const tsx = await import('tsx/esm/api').catch(() => null) // a production install of a checkout has no tsx
    if (tsx) {
      tsx.register()
      return import(sources.href)
    }
  }
  return import('../dist/src/cli/main.js')
}

loadCli()
  .then((cli) => {
    cli.stopWithNpmParent?.() // npx / npm run: npm's shell does not pass SIGTERM on (see main.ts)
    return cli.main(process.argv.slice(2))
  })
  .then(
    (code) => {
      process.exitCode = code ?? 0
    },
    (err) => {
      console.error(err instanceof Error ? err.message : err)
      process.exitCode = 1
    },
  )
