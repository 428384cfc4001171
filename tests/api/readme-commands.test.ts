/**
 * README.md as a spec (issue 13, item 3): every resflow command in its ```sh blocks runs, in README order,
 * in a temporary working folder, and every ```ts block typechecks against the public API (src/index.ts).
 * An option the README shows but the CLI rejects, or an export it imports that does not exist, fails here.
 *
 * What is changed to keep it at seconds: only sizes and ports, never command or option names.
 * - `--rows N` → 4000 and `--epochs N` → 1 (SMALLER below); `--port` → a free port.
 * - configs/ is copied into the working folder with synthetic.yaml's generated data cut from 600k rows and
 *   5 epochs to 6k rows and 1 epoch (the demo config: train, compare and the preset run use it), so
 *   `--config configs/synthetic.yaml` and `.cache/synthetic/...` resolve as in a checkout.
 * - `../shared/data` resolves through a symlink beside the working folder to the repository's
 *   ../shared; commands that read it skip with a message when it is absent.
 * - `serve` runs as a process (it returns only when the server closes) on a free port; the README's curl
 *   request is sent with fetch and the reply checked against the README's `# →` line; SIGTERM must end
 *   it with exit code 0.
 * Not run (install and whole-suite lines, checked to be exactly these so a new kind of line is not
 * skipped silently): `npm ci && npm run demo`, `npm ci && npm test`, `ONNXRUNTIME_NODE_INSTALL=skip npm
 * install resflow` (.ci/package-smoke.sh runs that one on the packed tarball).
 */
import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { after, before, describe, it } from 'node:test'
import ts from 'typescript'
import { cli } from '../cli/tiny.js'
import { type ShellCommand, fencedBlocks, parseCurl, resflowArgv, shellCommands } from './readme-blocks.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const SHARED = join(ROOT, '..', 'shared')
const README = readFileSync(join(ROOT, 'README.md'), 'utf8')

const SMALLER: Record<string, string> = { '--rows': '4000', '--epochs': '1' }
const NOT_RUN = ['npm ci && npm run demo', 'npm ci && npm test', 'ONNXRUNTIME_NODE_INSTALL=skip npm install resflow']

/** The demo config, smaller: 6k generated rows (split as the original), one epoch. */
function shrinkDemoConfig(yaml: string): string {
  const out = yaml.replace('rows: 600000', 'rows: 6000').replace(/^epochs: \d+$/m, 'epochs: 1')
  assert.notEqual(
    out,
    yaml,
    'configs/synthetic.yaml: expected "rows: 600000" and "epochs: N" to shrink (update shrinkDemoConfig)',
  )
  return out
}

function shrink(argv: string[], port: number): string[] {
  return argv.map((w, i) => {
    const option = argv[i - 1]
    if (option === '--port') return String(port)
    return option !== undefined && SMALLER[option] !== undefined ? SMALLER[option] : w
  })
}

async function freePort(): Promise<number> {
  const server = net.createServer().listen(0, '127.0.0.1')
  await once(server, 'listening')
  const port = (server.address() as net.AddressInfo).port
  server.close()
  await once(server, 'close')
  return port
}

const shBlocks = fencedBlocks(README, 'sh')
const commands: (ShellCommand & { block: string })[] = shBlocks.flatMap((b) =>
  shellCommands(b.text, b.line).map((c) => ({ ...c, block: b.text })),
)
const show = (c: ShellCommand) => {
  const text = c.words.join(' ').replace(/\s+/g, ' ')
  return `README.md:${c.line}: ${text.length > 100 ? text.slice(0, 100) + '…' : text}`
}

describe('README.md shell commands, run in order in a temporary folder', () => {
  const root = mkdtempSync(join(tmpdir(), 'resflow-readme-cmd-'))
  const work = join(root, 'work')
  const startDir = process.cwd()
  const hasShared = existsSync(join(SHARED, 'data'))
  const servers = new Set<ChildProcess>()

  before(() => {
    mkdirSync(work)
    cpSync(join(ROOT, 'configs'), join(work, 'configs'), { recursive: true })
    const demo = join(work, 'configs', 'synthetic.yaml')
    writeFileSync(demo, shrinkDemoConfig(readFileSync(demo, 'utf8')))
    // training's worker thread imports tsx (it runs the sources) from the working directory
    symlinkSync(join(ROOT, 'node_modules'), join(work, 'node_modules'))
    if (hasShared) symlinkSync(SHARED, join(root, 'shared'))
    // the CLI resolves paths against the working directory, as a user's shell would; this file runs in
    // its own process under node --test, and the directory is restored after
    process.chdir(work)
  })
  after(() => {
    process.chdir(startDir)
    for (const child of servers) child.kill('SIGKILL')
    rmSync(root, { recursive: true, force: true })
  })

  it('has commands, and skips only the install and test-suite lines', () => {
    assert.ok(commands.filter((c) => resflowArgv(c.words)).length >= 10, "expected the README's resflow commands")
    const others = commands.filter((c) => !resflowArgv(c.words) && c.words[0] !== 'curl').map((c) => c.words.join(' '))
    assert.deepEqual(others, NOT_RUN)
  })

  let serving: { child: ChildProcess; port: number; stderr: () => string } | null = null

  for (const command of commands) {
    const argv = resflowArgv(command.words)
    if (argv?.[0] === 'serve') {
      it(`starts ${show(command)}`, async () => {
        const port = await freePort()
        const child = spawn(
          process.execPath,
          ['--import', import.meta.resolve('tsx'), join(ROOT, 'src/cli/main.ts'), ...shrink(argv, port)],
          { cwd: work, stdio: ['ignore', 'ignore', 'pipe'] },
        )
        servers.add(child)
        let err = ''
        child.stderr.on('data', (c: Buffer) => (err += c.toString()))
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(
            () => reject(new Error(`${show(command)}: no "serving … on" line within 30 s: ${err}`)),
            30_000,
          )
          child.stderr.on('data', () => {
            if (!/serving .* on http/.test(err)) return
            clearTimeout(timer)
            resolve()
          })
          child.once('exit', (code) => {
            clearTimeout(timer)
            reject(new Error(`${show(command)}: exited with ${code} before serving: ${err}`))
          })
        })
        serving = { child, port, stderr: () => err }
      })
    } else if (argv) {
      const needsShared = argv.some((w) => w.startsWith('../shared/'))
      const skip = needsShared && !hasShared ? `${SHARED}/data is absent` : false
      it(`runs ${show(command)}`, { skip }, async () => {
        const res = await cli(...shrink(argv, 0))
        assert.equal(res.code, 0, `${show(command)} exited with ${res.code}:\n${res.stderr}\n${res.stdout}`)
      })
    } else if (command.words[0] === 'curl') {
      it(`answers ${show(command)} as the README shows`, async () => {
        assert.ok(serving, `${show(command)}: no \`resflow serve\` command before it`)
        const request = parseCurl(command.words)
        const url = new URL(request.url.startsWith('http') ? request.url : `http://${request.url}`)
        url.hostname = '127.0.0.1'
        url.port = String(serving.port)
        const res = await fetch(url, {
          method: request.body === undefined ? 'GET' : 'POST',
          headers: request.headers,
          body: request.body,
        })
        const text = await res.text()
        assert.equal(res.status, 200, `${show(command)}: ${res.status} ${text}`)
        // the README's `# → {...}` line after the request: the model name and task names it shows
        const shown = /# → (\{.*)$/m.exec(command.block)?.[1]
        assert.ok(shown, 'README: expected a `# → {...}` response line after the curl request')
        const model = /"model":"([^"]+)"/.exec(shown)?.[1]
        const tasks = [.../"tasks":\{([^}]*)\}/.exec(shown)![1].matchAll(/"([^"]+)":/g)].map((m) => m[1])
        const body = JSON.parse(text) as {
          model: string
          version: string
          results: { index: number; score: number; tasks: Record<string, number> }[]
        }
        const candidates = (JSON.parse(request.body!) as { candidates: unknown[] }).candidates.length
        assert.equal(body.model, model)
        assert.equal(typeof body.version, 'string')
        assert.equal(body.results.length, candidates)
        assert.deepEqual(body.results.map((r) => r.index).sort(), [...Array(candidates).keys()])
        for (const r of body.results) {
          assert.ok(r.score >= 0 && r.score <= 1, `score ${r.score}`)
          assert.deepEqual(Object.keys(r.tasks).sort(), [...tasks].sort())
          for (const p of Object.values(r.tasks)) assert.ok(p > 0 && p < 1, `task probability ${p}`)
        }
        for (let i = 1; i < body.results.length; i++)
          assert.ok(body.results[i - 1].score >= body.results[i].score, 'results ranked by score')
      })
    }
  }

  it('stops the server with exit code 0 on SIGTERM', {
    skip: commands.some((c) => resflowArgv(c.words)?.[0] === 'serve') ? false : 'README has no serve command',
  }, async () => {
    assert.ok(serving, 'the server did not start')
    const { child, stderr } = serving
    const exited = once(child, 'exit')
    child.kill('SIGTERM')
    const [code] = (await exited) as [number | null]
    servers.delete(child)
    assert.equal(code, 0, stderr())
  })
})

describe('README.md TypeScript blocks', () => {
  const blocks = fencedBlocks(README, 'ts')

  it('has at least one, and each imports from resflow', () => {
    assert.ok(blocks.length > 0)
    for (const b of blocks)
      assert.match(b.text, /from 'resflow'/, `README.md:${b.line}: expected an import from 'resflow'`)
  })

  it('every block typechecks (strict) against src/index.ts', () => {
    const dir = mkdtempSync(join(tmpdir(), 'resflow-readme-ts-'))
    try {
      // .mts: an ES module wherever it sits, so top-level await is allowed as in a user's ESM project
      const files = blocks.map((b) => {
        const file = join(dir, `readme-line-${b.line}.mts`)
        const index = relative(dirname(file), join(ROOT, 'src', 'index.js'))
        writeFileSync(file, b.text.replaceAll("from 'resflow'", `from '${index}'`))
        return file
      })
      const config = ts.readConfigFile(join(ROOT, 'tsconfig.json'), ts.sys.readFile)
      const { options } = ts.parseJsonConfigFileContent(config.config, ts.sys, ROOT)
      const program = ts.createProgram(files, {
        ...options,
        rootDir: undefined,
        outDir: undefined,
        declaration: false,
        sourceMap: false,
        strict: true,
        noEmit: true,
        typeRoots: [join(ROOT, 'node_modules', '@types')],
      })
      const diagnostics = ts.getPreEmitDiagnostics(program)
      const text = ts.formatDiagnostics(diagnostics, {
        getCanonicalFileName: (f) => f,
        getCurrentDirectory: () => ROOT,
        getNewLine: () => '\n',
      })
      assert.equal(
        diagnostics.length,
        0,
        `README.md's TypeScript (block at README.md:<line> in the file name):\n${text}`,
      )
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
