/**
 * Fault injection on the writers of a run folder: two trainings into the same --out, stale locks
 * (a dead pid on this host) and locks of another host, SIGTERM, and kill -9 at a random point followed
 * by --resume. Trainings that must run in their own process are spawned (`node --import tsx`).
 */
import assert from 'node:assert/strict'
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { before, describe, it } from 'node:test'
import { loadRun } from '../../src/train/evaluate.js'
import { cli, tempDir, tinyConfig } from '../cli/tiny.js'
import { Rng } from '../helpers/rng.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))

/** Long enough to be caught mid-run (about two seconds of epochs), with a checkpoint every ~20 ms. */
const config = tinyConfig(
  (y) => y.replace('epochs: 2', 'epochs: 20').replace('patience: 2', 'patience: 100') + 'checkpointMinutes: 0.0003\n',
)

interface Child {
  proc: ChildProcess
  stderr(): string
  /** resolves once stderr matches */
  waitFor(pattern: RegExp): Promise<void>
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
}

function spawnTrain(out: string): Child {
  const proc = spawn(
    process.execPath,
    ['--import', 'tsx', 'src/cli/main.ts', 'train', '--config', config, '--out', out],
    { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] },
  )
  let err = ''
  const waiters: { pattern: RegExp; resolve: () => void }[] = []
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.on('exit', (code, signal) => resolve({ code, signal })),
  )
  proc.stderr.on('data', (chunk: Buffer) => {
    err += chunk.toString()
    for (const w of waiters.filter((w) => w.pattern.test(err))) {
      waiters.splice(waiters.indexOf(w), 1)
      w.resolve()
    }
  })
  const waitFor = (pattern: RegExp) =>
    pattern.test(err)
      ? Promise.resolve()
      : Promise.race([
          new Promise<void>((resolve) => waiters.push({ pattern, resolve })),
          exited.then(() => {
            if (!pattern.test(err)) throw new Error(`training exited before printing ${pattern}:\n${err}`)
          }),
        ])
  return { proc, stderr: () => err, waitFor, exited }
}

const lockOf = (run: string) => join(run, 'train.lock')

describe('run folder writers', () => {
  let reference: Buffer
  before(async () => {
    // an uninterrupted run: the weights every resumed run must end with (this also generates the data)
    const run = join(tempDir(), 'run')
    const r = await cli('train', '--config', config, '--out', run)
    assert.equal(r.code, 0, r.stderr)
    reference = readFileSync(join(run, 'weights.bin'))
  })

  it('refuses a second training into the same --out, naming the folder and the holder; SIGTERM releases the lock', async () => {
    const out = join(tempDir(), 'run')
    const first = spawnTrain(out)
    await first.waitFor(/train: resflow/)
    const second = await cli('train', '--config', config, '--out', out)
    assert.equal(second.code, 1, second.stdout)
    assert.match(
      second.stderr,
      new RegExp(
        `${out}: another training is writing this run folder \\(pid ${first.proc.pid} on ${hostname()}, since `,
      ),
    )
    assert.match(second.stderr, /train\.lock/)
    first.proc.kill('SIGTERM')
    const { signal } = await first.exited
    assert.equal(signal, 'SIGTERM')
    assert.equal(existsSync(lockOf(out)), false, 'the lock outlived a SIGTERM')
  })

  // kill points: at once (before anything is written), and at a random epoch plus a random delay (a
  // fixed time after epoch 1 can land after the end of these short runs on a fast, idle machine)
  const randomPoint = (seed: number): [RegExp, number] => {
    const rng = new Rng(seed)
    return [new RegExp(`epoch ${2 + rng.int(16)}/20`), rng.int(40)]
  }
  const kills: [string, RegExp, number][] = [
    ['right after the start', /train: resflow/, 0],
    ['at a random point (seed 1)', ...randomPoint(1)],
    ['at a random point (seed 2)', ...randomPoint(2)],
  ]
  for (const [when, after, delayMs] of kills) {
    it(`kill -9 ${when}, then --resume: the stale lock is taken over, and the run ends bit for bit as an uninterrupted one or says why it cannot`, async (t) => {
      const out = join(tempDir(), 'run')
      const child = spawnTrain(out)
      await child.waitFor(after)
      await new Promise((resolve) => setTimeout(resolve, delayMs))
      child.proc.kill('SIGKILL')
      const { signal } = await child.exited
      if (signal !== 'SIGKILL') assert.fail(`the training finished before the kill; lengthen it:\n${child.stderr()}`)
      assert.ok(existsSync(lockOf(out)), 'kill -9 cannot release the lock')
      const resumed = await cli('train', '--config', config, '--out', out, '--resume')
      assert.match(
        resumed.stderr,
        new RegExp(`${out}: took over the stale lock of pid ${child.proc.pid} on ${hostname()}`),
      )
      assert.equal(existsSync(lockOf(out)), false)
      t.diagnostic(
        `killed ${delayMs} ms after ${after}; then: ${/resumed from .*|resflow train: .*/.exec(resumed.stderr)?.[0]}`,
      )
      if (resumed.code !== 0) {
        // killed before the first checkpoint: a clear error (then a training without --resume starts afresh)
        assert.match(
          resumed.stderr,
          /resflow train: .*(run\.json\); train one with|checkpoint\.bin: no checkpoint to resume from)/,
        )
        return
      }
      assert.deepEqual(readFileSync(join(out, 'weights.bin')), reference)
      const loaded = await loadRun(out) // checksums verified
      await loaded.session.release()
    })
  }

  it('takes over a stale lock (a dead pid on this host) with a message, and removes the temporary file its write left', async () => {
    const out = tempDir()
    const dead = spawnSync(process.execPath, ['-e', '']).pid
    writeFileSync(
      lockOf(out),
      JSON.stringify({ pid: dead, host: hostname(), startedAt: '2026-01-01T00:00:00.000Z', command: 'resflow train' }),
    )
    writeFileSync(join(out, `weights.bin.tmp-${dead}`), 'half a weights file')
    const r = await cli('train', '--config', tinyConfig(), '--out', out)
    assert.equal(r.code, 0, r.stderr)
    assert.match(
      r.stderr,
      new RegExp(
        `took over the stale lock of pid ${dead} on ${hostname()} \\(since 2026-01-01T00:00:00.000Z; that process is no longer running\\)`,
      ),
    )
    assert.match(
      r.stderr,
      new RegExp(`removed weights\\.bin\\.tmp-${dead}, left by an interrupted write of pid ${dead}`),
    )
    assert.deepEqual(readdirSync(out).sort(), [
      'checkpoint.bin',
      'checksums.json',
      'log.jsonl',
      'preprocessing.json',
      'run.json',
      'weights.bin',
    ])
  })

  it('refuses a lock held on another host (its pid cannot be checked from here), naming the host and the lock file', async () => {
    const out = tempDir()
    const lock = JSON.stringify({
      pid: 4242,
      host: 'trainer-7.example',
      startedAt: '2026-01-01T00:00:00.000Z',
      command: 'resflow train',
    })
    writeFileSync(lockOf(out), lock)
    const r = await cli('train', '--config', tinyConfig(), '--out', out)
    assert.equal(r.code, 1, r.stdout)
    assert.match(
      r.stderr,
      /another training is writing this run folder \(pid 4242 on trainer-7\.example, since 2026-01-01T00:00:00.000Z: resflow train\)/,
    )
    assert.match(r.stderr, new RegExp(`delete ${lockOf(out)}`))
    assert.equal(readFileSync(lockOf(out), 'utf8'), lock)
    assert.equal(existsSync(join(out, 'run.json')), false, 'nothing written without the lock')
  })
})
