/**
 * checksums.json: the sha256 and size of each file of a folder, written last (atomically) once the
 * folder is complete. Readers check the bytes they actually use against it, so a file that was changed,
 * cut short, or copied from another run is named instead of loaded.
 *
 *   {"format": 1, "files": {"run.json": {"sha256": "9f2c…", "bytes": 1234}, "weights.bin": {...}, ...}}
 */
import { createHash } from 'node:crypto'
import { closeSync, existsSync, openSync, readFileSync, readSync } from 'node:fs'
import { open } from 'node:fs/promises'
import { join } from 'node:path'
import { RunError } from '../errors.js'
import { writeAtomic } from './write-atomic.js'

export const CHECKSUMS_FILE = 'checksums.json'
const FORMAT = 1

export interface FileSum {
  sha256: string
  bytes: number
}

export interface Checksums {
  format: number
  files: Record<string, FileSum>
}

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex')
}

/** The sum of a file on disk, read in 1 MiB chunks (checkpoints can be large). */
export function sumFile(file: string): FileSum {
  const hash = createHash('sha256')
  const chunk = Buffer.allocUnsafe(1 << 20)
  const fd = openSync(file, 'r')
  let bytes = 0
  try {
    for (let n: number; (n = readSync(fd, chunk, 0, chunk.length, null)) > 0; bytes += n)
      hash.update(chunk.subarray(0, n))
  } finally {
    closeSync(fd)
  }
  return { sha256: hash.digest('hex'), bytes }
}

/** Sums the files of `names` that exist in `dir` and writes checksums.json; returns what it wrote. */
export function writeChecksums(dir: string, names: readonly string[]): Checksums {
  const files: Record<string, FileSum> = {}
  for (const name of names) if (existsSync(join(dir, name))) files[name] = sumFile(join(dir, name))
  const sums = { format: FORMAT, files }
  writeChecksumsFile(dir, sums)
  return sums
}

export function writeChecksumsFile(dir: string, sums: Checksums): void {
  writeAtomic(join(dir, CHECKSUMS_FILE), JSON.stringify(sums, null, 2) + '\n')
}

/** checksums.json of `dir`, or null when there is none; a damaged one is an error naming it. */
export function readChecksums(dir: string): Checksums | null {
  const file = join(dir, CHECKSUMS_FILE)
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw new RunError(`${file}: cannot read: ${(cause as Error).message}`, { file, cause })
  }
  let raw: unknown
  try {
    raw = JSON.parse(text)
  } catch (cause) {
    throw new RunError(
      `${file}: not valid JSON (${(cause as Error).message}); the file is corrupted or cut short (hint: copy the run folder again)`,
      { file, cause },
    )
  }
  const sums = raw as Checksums
  const valid =
    typeof sums === 'object' &&
    sums !== null &&
    sums.format === FORMAT &&
    typeof sums.files === 'object' &&
    sums.files !== null &&
    Object.values(sums.files).every(
      (s) => typeof s?.sha256 === 'string' && /^[0-9a-f]{64}$/.test(s.sha256) && Number.isInteger(s.bytes),
    )
  if (!valid)
    throw new RunError(
      `${file}: expected {"format": ${FORMAT}, "files": {name: {"sha256": 64 hex digits, "bytes": integer}}}, got ${text.slice(0, 120)}`,
      { file },
    )
  return sums
}

/** Throws unless `actual` is the sum checksums.json lists for `name`; the error names the file. */
export function checkSum(dir: string, name: string, actual: FileSum, sums: Checksums): void {
  const file = join(dir, name)
  const want = sums.files[name]
  if (!want)
    throw new RunError(
      `${join(dir, CHECKSUMS_FILE)}: lists no ${name} (it lists ${Object.keys(sums.files).join(', ') || 'nothing'}); the run folder is incomplete or mixed (hint: copy the whole run folder again)`,
      { file: join(dir, CHECKSUMS_FILE), field: name },
    )
  if (want.sha256 === actual.sha256 && want.bytes === actual.bytes) return
  throw new RunError(
    `${file}: sha256 ${actual.sha256.slice(0, 12)}… (${actual.bytes} bytes) differs from ${CHECKSUMS_FILE} (${want.sha256.slice(0, 12)}…, ${want.bytes} bytes): ` +
      'the file was changed, corrupted, cut short or copied from another run after this run was written ' +
      '(hint: copy the whole run folder again; publish runs by writing them elsewhere and renaming, see docs/run-folder.md)',
    { file },
  )
}

/**
 * Files already read and checked (by `readCheckedAsync`), by path, that `readChecked` returns instead
 * of reading them again while `withPrefetched` runs. This lets a server read a run's large files without
 * blocking, then build it with the one synchronous loader (run/run-dir.ts `readRun`) that eval, export
 * and predict use. An entry counts only when its sum is the one checksums.json lists when `readChecked`
 * runs: the bytes are then exactly the file that checksums.json describes, however the disk changed since.
 */
let prefetched: ReadonlyMap<string, SummedFile> | null = null

/** Runs the synchronous `read` with `files` offered to `readChecked`. */
export function withPrefetched<T>(files: ReadonlyMap<string, SummedFile>, read: () => T): T {
  prefetched = files
  try {
    return read()
  } finally {
    prefetched = null
  }
}

const cannotRead = (dir: string, name: string, cause: unknown) =>
  new RunError(
    `${join(dir, name)}: cannot read (${(cause as Error).message}), though ${CHECKSUMS_FILE} lists it; the run folder is incomplete (hint: copy the whole run folder again)`,
    { file: join(dir, name), cause },
  )

/** Reads a file of `dir` and checks it against `sums`; the bytes returned are the ones checked. */
export function readChecked(dir: string, name: string, sums: Checksums): Buffer {
  const ready = prefetched?.get(join(dir, name))
  const want = sums.files[name]
  if (ready && want && ready.sum.sha256 === want.sha256 && ready.sum.bytes === want.bytes) return ready.bytes
  let bytes: Buffer
  try {
    bytes = readFileSync(join(dir, name))
  } catch (cause) {
    throw cannotRead(dir, name, cause)
  }
  checkSum(dir, name, { sha256: sha256(bytes), bytes: bytes.length }, sums)
  return bytes
}

/** A file's bytes and their sum. */
export interface SummedFile {
  bytes: Buffer
  sum: FileSum
}

const STEP_BYTES = 1 << 20

/**
 * Reads a file and hashes it one MiB at a time, each read on libuv's thread pool, so the event loop
 * runs between steps (a hash step takes ~1-2 ms). The sync `readFileSync` + `sha256` held a server's
 * loop for ~120 ms per 64 MB.
 */
export async function readSummed(file: string): Promise<SummedFile> {
  const handle = await open(file, 'r')
  try {
    const { size } = await handle.stat()
    const bytes = Buffer.allocUnsafe(size)
    const hash = createHash('sha256')
    let read = 0
    while (read < size) {
      const { bytesRead } = await handle.read(bytes, read, Math.min(STEP_BYTES, size - read), read)
      if (bytesRead === 0) break // cut short while being read: the sum will not match
      hash.update(bytes.subarray(read, read + bytesRead))
      read += bytesRead
    }
    return { bytes: bytes.subarray(0, read), sum: { sha256: hash.digest('hex'), bytes: read } }
  } finally {
    await handle.close()
  }
}

/** `readChecked` without blocking the event loop: the same checks and errors. */
export async function readCheckedAsync(dir: string, name: string, sums: Checksums): Promise<SummedFile> {
  let file: SummedFile
  try {
    file = await readSummed(join(dir, name))
  } catch (cause) {
    throw cannotRead(dir, name, cause)
  }
  checkSum(dir, name, file.sum, sums)
  return file
}
