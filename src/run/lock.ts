/**
 * An exclusive lock on a folder for its one writer (a training): `<dir>/train.lock` holds the writer's
 * pid, host, start time and command. It is created with link(2), which fails when the file exists, so
 * two writers never both hold it and a reader never sees a half-written lock. A lock whose pid is dead
 * on this host (a writer killed with kill -9, or a machine that rebooted) is stale and is taken over
 * with a message; a lock of another host is never taken over, since its pid cannot be checked from here.
 * The lock is released when the writer finishes or fails, when the process exits, and on SIGINT /
 * SIGTERM / SIGHUP (unless another listener handles the signal; then on exit).
 */
import { linkSync, mkdirSync, readFileSync, readdirSync, rmSync, unlinkSync, writeFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { RunError, WriteError } from '../errors.js'
import { TEMP_FILE, tempFileOf } from './write-atomic.js'

export const LOCK_FILE = 'train.lock'

export interface LockHolder {
  pid: number
  host: string
  startedAt: string
  command: string
}

export interface DirLock {
  file: string
  holder: LockHolder
  /** removes the lock file if it is still this lock's; safe to call twice */
  release(): void
}

/** Whether a process with this pid runs on this machine (EPERM: it does, under another user). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

const describe = (h: LockHolder) => `pid ${h.pid} on ${h.host}, since ${h.startedAt}`

/** The holder named in `<dir>/train.lock`, or null when there is no (readable) lock. */
export function readLockHolder(dir: string): LockHolder | null {
  const lock = readLock(join(dir, LOCK_FILE))
  return lock && 'holder' in lock ? lock.holder : null
}

type ReadLock = { text: string; holder: LockHolder } | { text: string; unreadable: true }

function readLock(file: string): ReadLock | null {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw err
  }
  let raw: Partial<LockHolder> | null
  try {
    raw = JSON.parse(text) as Partial<LockHolder> | null
  } catch (err) {
    if (err instanceof SyntaxError) return { text, unreadable: true }
    throw err
  }
  if (!raw || typeof raw.pid !== 'number' || typeof raw.host !== 'string') return { text, unreadable: true }
  return {
    text,
    holder: {
      pid: raw.pid,
      host: raw.host,
      startedAt: String(raw.startedAt ?? '?'),
      command: String(raw.command ?? '?'),
    },
  }
}

/** link(2) `from` to `to`: true, or false when `to` exists. */
function tryLink(from: string, to: string): boolean {
  try {
    linkSync(from, to)
    return true
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'EEXIST') return false
    // file systems without hard links: exclusive create, then write (a reader may briefly see it empty: refused, never shared)
    if (code === 'EPERM' || code === 'ENOTSUP' || code === 'ENOSYS') return createExclusive(from, to)
    throw new WriteError(`${to}: cannot create the lock: ${(err as Error).message}`, { file: to, cause: err })
  }
}

function createExclusive(from: string, to: string): boolean {
  try {
    writeFileSync(to, readFileSync(from), { flag: 'wx' })
    return true
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false
    throw new WriteError(`${to}: cannot create the lock: ${(err as Error).message}`, { file: to, cause: err })
  }
}

function refuse(dir: string, file: string, lock: ReadLock): RunError {
  if ('unreadable' in lock)
    return new RunError(
      `${file}: unreadable lock (${JSON.stringify(lock.text.slice(0, 80))}); if no training is writing ${dir}, delete ${file}`,
      { file },
    )
  return new RunError(
    `${dir}: another training is writing this run folder (${describe(lock.holder)}: ${lock.holder.command}); ` +
      `wait for it to finish or choose another --out (if no such process is running, delete ${file})`,
    { file },
  )
}

const held = new Set<DirLock>()

export function lockDir(dir: string, options: { log?: (line: string) => void } = {}): DirLock {
  const log = options.log ?? (() => {})
  const file = join(dir, LOCK_FILE)
  const holder: LockHolder = {
    pid: process.pid,
    host: hostname(),
    startedAt: new Date().toISOString(),
    command: process.argv.slice(1).join(' '),
  }
  const text = JSON.stringify(holder) + '\n'
  mkdirSync(dir, { recursive: true })
  const tmp = tempFileOf(file)
  try {
    writeFileSync(tmp, text)
  } catch (cause) {
    rmSync(tmp, { force: true })
    throw new WriteError(`${file}: cannot create the lock: ${(cause as Error).message}`, { file, cause })
  }
  try {
    // a few rounds: the holder may release between our attempt and our look at its lock
    for (let round = 0; !tryLink(tmp, file); round++) {
      const lock = readLock(file)
      if (!lock && round < 3) continue
      if (!lock || 'unreadable' in lock || lock.holder.host !== holder.host || isAlive(lock.holder.pid))
        throw refuse(dir, file, lock ?? { text: '', unreadable: true })
      takeOver(dir, file, lock, tmp)
      log(
        `${dir}: took over the stale lock of pid ${lock.holder.pid} on ${lock.holder.host} (since ${lock.holder.startedAt}; that process is no longer running)`,
      )
      break
    }
  } finally {
    rmSync(tmp, { force: true })
  }
  removeStrayTemps(dir, log)

  let released = false
  const lock: DirLock = {
    file,
    holder,
    release() {
      if (released) return
      released = true
      held.delete(lock)
      if (held.size === 0) unhook()
      if (readLock(file)?.text === text) unlinkSync(file)
    },
  }
  if (held.size === 0) hook()
  held.add(lock)
  return lock
}

/**
 * Replaces a stale lock. Several processes may find the same stale lock at once: a second lock file
 * (`train.lock.takeover`) lets one of them through, which removes the stale lock only if it is still
 * the one it read; a fresh writer can only create the lock once it is gone, and then wins.
 */
function takeOver(dir: string, file: string, stale: ReadLock, tmp: string): void {
  const guard = `${file}.takeover`
  if (!tryLink(tmp, guard)) {
    throw new RunError(
      `${dir}: another process is taking over the stale lock ${file} right now (if no resflow process is running, delete ${guard})`,
      { file: guard },
    )
  }
  try {
    if (readLock(file)?.text === stale.text) unlinkSync(file)
    if (!tryLink(tmp, file)) throw refuse(dir, file, readLock(file) ?? stale)
  } finally {
    unlinkSync(guard)
  }
}

/** Temporary files of writes that a killed process never finished (`*.tmp-<pid>` of a dead pid). */
function removeStrayTemps(dir: string, log: (line: string) => void): void {
  for (const name of readdirSync(dir)) {
    const pid = Number(TEMP_FILE.exec(name)?.[1])
    if (!pid || pid === process.pid || isAlive(pid)) continue
    rmSync(join(dir, name), { force: true })
    log(`${dir}: removed ${name}, left by an interrupted write of pid ${pid}`)
  }
}

function releaseAll(): void {
  for (const lock of [...held]) lock.release()
}

function onSignal(signal: NodeJS.Signals): void {
  // another listener handles this signal (e.g. a graceful shutdown): the locks are released on exit
  if (process.listenerCount(signal) > 1) return
  releaseAll()
  unhook()
  process.kill(process.pid, signal) // now without listeners: the default action, as if never caught
}

const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP']

function hook(): void {
  process.on('exit', releaseAll)
  for (const s of SIGNALS) process.on(s, onSignal)
}

function unhook(): void {
  process.off('exit', releaseAll)
  for (const s of SIGNALS) process.off(s, onSignal)
}
