/**
 * Atomic file writes: the data goes to a temporary file beside the target (`<file>.tmp-<pid>`), is
 * flushed to disk, and is renamed over the target, so a reader, or the next run after a crash, sees the
 * old file or the new one, never a part of one. A write that fails (disk full, no permission, no such
 * folder) removes its temporary file and names the target; the previous file is left as it was.
 */
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs'
import { WriteError } from '../errors.js'

export interface WriteOptions {
  /** writes `data` to `path` and flushes it; replaceable to inject failures (tests) */
  writeFile?: (path: string, data: string | Uint8Array) => void
}

/** The temporary file of a write in progress; `TEMP_FILE` matches it and captures the writer's pid. */
export const tempFileOf = (file: string): string => `${file}.tmp-${process.pid}`
export const TEMP_FILE = /\.tmp-(\d+)$/

const HINTS: Record<string, string> = {
  ENOSPC: 'the disk is full; free some space and run again',
  EDQUOT: 'the disk quota is used up; free some space and run again',
  EACCES: 'check the permissions of the folder',
  EPERM: 'check the permissions of the folder',
  EROFS: 'the file system is read-only',
  ENOENT: 'the folder does not exist',
}

/** write + fsync, so that after a power cut the renamed file holds the data rather than zeros */
function writeFlushed(path: string, data: string | Uint8Array): void {
  const bytes = typeof data === 'string' ? Buffer.from(data) : data
  const fd = openSync(path, 'w')
  try {
    for (let done = 0; done < bytes.length; ) done += writeSync(fd, bytes, done, bytes.length - done)
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
}

export function writeAtomic(file: string, data: string | Uint8Array, options: WriteOptions = {}): void {
  const tmp = tempFileOf(file)
  try {
    ;(options.writeFile ?? writeFlushed)(tmp, data)
    renameSync(tmp, file)
  } catch (cause) {
    rmSync(tmp, { force: true })
    const code = (cause as NodeJS.ErrnoException).code
    const hint = code && HINTS[code] ? ` (hint: ${HINTS[code]})` : ''
    throw new WriteError(
      `${file}: cannot write: ${(cause as Error).message}; the previous file, if any, is unchanged${hint}`,
      { file, cause },
    )
  }
}
