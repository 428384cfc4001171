/**
 * `resflow serve` as a process, started the ways people start it: through npx (npm runs the bin under
 * `sh -c` and, on SIGTERM, signals only that shell), through `npm run resflow --`, and through the bin
 * directly. SIGTERM must leave no server process behind and free the port, and a client holding a
 * partial body must not keep the process alive past the shutdown deadline. Loopback only; every
 * process started here is stopped by its pid.
 */
import assert from 'node:assert/strict'
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { once } from 'node:events'
import { writeFileSync } from 'node:fs'
import net from 'node:net'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { after, before, describe, it } from 'node:test'
import { cli, tempDir, tinyConfig } from './tiny.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
/** npm quiet and offline: no update check, no registry */
const NPM_ENV = {
  ...process.env,
  npm_config_update_notifier: 'false',
  npm_config_fund: 'false',
  npm_config_audit: 'false',
  npm_config_offline: 'true',
}
const started = new Set<number>()

/** Spawns a command that ends up running `resflow serve`; resolves once it prints the address it serves on. */
async function startServe(
  command: string,
  args: string[],
): Promise<{ child: ChildProcess; url: string; stderr: () => string }> {
  const child = spawn(command, args, { cwd: ROOT, env: NPM_ENV, stdio: ['ignore', 'ignore', 'pipe'] })
  started.add(child.pid!)
  let err = ''
  child.stderr.on('data', (c: Buffer) => (err += c.toString()))
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "serving … on URL" line within 60 s: ${err}`)), 60_000)
    child.stderr.on('data', () => {
      const m = /serving .* on (http:\/\/127\.0\.0\.1:\d+)/.exec(err)
      if (m) {
        clearTimeout(timer)
        resolve(m[1])
      }
    })
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`${command} exited with ${code} before serving: ${err}`))
    })
  })
  return { child, url, stderr: () => err }
}

/** Every process below `pid` (ps works on Linux and macOS). */
function descendants(pid: number): number[] {
  const rows = execFileSync('ps', ['-A', '-o', 'pid=,ppid='], { encoding: 'utf8' })
    .trim()
    .split('\n')
    .map((l) => l.trim().split(/\s+/).map(Number) as [number, number])
  const out: number[] = []
  const walk = (p: number) => {
    for (const [c, pp] of rows) {
      if (pp === p && !out.includes(c)) {
        out.push(c)
        walk(c)
      }
    }
  }
  walk(pid)
  return out
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/** Whether something still accepts connections on the port. */
function listening(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(Number(new URL(url).port), '127.0.0.1')
    socket.once('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.once('error', () => resolve(false))
  })
}

async function waitFor(what: () => boolean | Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const start = Date.now()
  while (Date.now() - start < timeoutMs) {
    if (await what()) return true
    await new Promise((r) => setTimeout(r, 100))
  }
  return what()
}

describe('resflow serve as a process', () => {
  let runDir: string
  before(async () => {
    runDir = join(tempDir(), 'run')
    const r = await cli('train', '--config', tinyConfig(), '--out', runDir)
    assert.equal(r.code, 0, r.stderr)
  })
  after(() => {
    // anything left behind (a failing run of these tests) is stopped by its pid
    for (const pid of started) if (alive(pid)) process.kill(pid, 'SIGKILL')
  })

  /** `resflow serve` of the run on a free port through the bin directly, with `options` */
  const startBin = (...options: string[]) =>
    startServe(process.execPath, [join(ROOT, 'bin', 'resflow.js'), 'serve', '--run', runDir, '--port', '0', ...options])

  const launchers: [string, string, string[]][] = [
    ['npx resflow serve', 'npx', ['resflow', 'serve']],
    ['npm run resflow -- serve', 'npm', ['run', '--silent', 'resflow', '--', 'serve']],
  ]
  for (const [name, command, args] of launchers) {
    it(`\`${name}\`: SIGTERM to npm leaves no server process and frees the port`, async () => {
      const { child, url, stderr } = await startServe(command, [...args, '--run', runDir, '--port', '0'])
      assert.equal((await fetch(`${url}/healthz`)).status, 200)
      const below = descendants(child.pid!)
      for (const pid of below) started.add(pid)
      assert.ok(below.length > 0, 'no process below npm')
      child.kill('SIGTERM')
      await once(child, 'exit')
      const gone = await waitFor(() => below.every((pid) => !alive(pid)), 15_000)
      assert.ok(
        gone,
        `still running 15 s after SIGTERM to ${command}: pids ${below.filter(alive)}; stderr: ${stderr()}`,
      )
      assert.equal(await listening(url), false, `${url} still accepts connections`)
      assert.match(stderr(), /finishing in-flight requests/)
    })
  }

  it('builds the row split for a schema with an item side, and not with --no-row-split', async () => {
    for (const [options, want] of [
      [[], /row split: (\d+) of (\d+), \1 of \2 columns per row/],
      [['--no-row-split'], /no row split/],
    ] as [string[], RegExp][]) {
      const { child, stderr } = await startBin(...options)
      try {
        assert.match(stderr(), want)
      } finally {
        child.kill('SIGTERM')
        await once(child, 'exit')
      }
    }
  })

  it('--items: ranks candidates by id, counts the store in /metrics, reloads it on SIGHUP', async () => {
    const items = join(tempDir(), 'items.csv')
    writeFileSync(items, 'item_id,item_category,item_price\n1,2,3.5\n2,1,10\n')
    const { child, url, stderr } = await startBin('--items', items, '--unknown-items', 'skip')
    try {
      assert.match(stderr(), /2 items from .*items\.csv by item_id/)
      const context = {
        user_id: 3,
        user_segment: 1,
        hour: 9,
        device: 0,
        user_activity: 0.5,
        item_ctr_hist: 0.1,
        context_score: 0.2,
      }
      const rank = async () => {
        const res = await fetch(`${url}/v1/rank`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ context, item_ids: [2, 3, 1] }),
        })
        return { status: res.status, json: (await res.json()) as { results: { index: number }[]; skipped?: number[] } }
      }
      const first = await rank()
      assert.equal(first.status, 200)
      assert.deepEqual([first.json.results.map((r) => r.index).sort(), first.json.skipped], [[0, 2], [1]])
      assert.match(await (await fetch(`${url}/metrics`)).text(), /^resflow_item_store_items 2$/m)
      writeFileSync(items, 'item_id,item_category,item_price\n1,2,3.5\n2,1,10\n3,1,7\n')
      child.kill('SIGHUP')
      assert.ok(
        await waitFor(
          async () => /^resflow_item_store_items 3$/m.test(await (await fetch(`${url}/metrics`)).text()),
          15_000,
        ),
        stderr(),
      )
      const second = await rank()
      assert.deepEqual([second.json.results.length, second.json.skipped], [3, undefined])
    } finally {
      child.kill('SIGTERM')
      await once(child, 'exit')
    }
  })

  it('refuses a bad --unknown-items, and --item-key without --items', async () => {
    const bad = await cli('serve', '--run', runDir, '--items', 'x.csv', '--unknown-items', 'ignore')
    assert.notEqual(bad.code, 0)
    assert.match(bad.stderr, /--unknown-items: expected one of error, skip, default, got "ignore"/)
    const lone = await cli('serve', '--run', runDir, '--item-key', 'sku')
    assert.notEqual(lone.code, 0)
    assert.match(lone.stderr, /--item-key and --unknown-items need --items FILE/)
  })

  it('the bin exits 0 within --shutdown-timeout-ms after SIGTERM while a client holds a partial body', async () => {
    const { child, url, stderr } = await startBin('--shutdown-timeout-ms', '500')
    const socket = net.connect(Number(new URL(url).port), '127.0.0.1')
    socket.on('error', () => {})
    await once(socket, 'connect')
    socket.write(
      'POST /v1/rank HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{"cand',
    )
    await new Promise((r) => setTimeout(r, 200))
    const start = Date.now()
    child.kill('SIGTERM')
    const exited = await waitFor(() => child.exitCode !== null, 10_000)
    socket.destroy()
    assert.ok(exited, `still running 10 s after SIGTERM with a partial body held: ${stderr()}`)
    assert.equal(child.exitCode, 0, stderr())
    assert.ok(Date.now() - start < 5000, `exited ${Date.now() - start} ms after SIGTERM (deadline 500 ms)`)
    assert.match(stderr(), /shutdown deadline of 500 ms passed: closed 1 connection/)
    assert.equal(await listening(url), false)
  })
})
