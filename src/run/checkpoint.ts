/**
 * Model weights on disk: one binary file, a header (names, shapes, float offsets) followed by the raw
 * little-endian float32 data. Dense parameters (BatchNorm running statistics included) and embedding
 * tables (weights only, or with their optimizer state for resuming). Written atomically: to a temporary
 * file, then renamed.
 *
 *   RESFLOW-WEIGHTS-3\n
 *   sha256 <64 hex digits>\n        hash of everything after this line
 *   {"entries": [{"name", "kind", "shape", "offset"}, ...], "state": {...}}\n
 *                                    then spaces up to a multiple of 4 bytes, then the floats
 *
 * `state` is a checkpoint's trainer state (epoch, step, rng, early stopping, ...) as JSON, absent in
 * weights.bin. The hash makes each file check itself, so a checkpoint of an interrupted run (which has no
 * checksums.json yet, see run-dir.ts) is verified on --resume too. Formats 1 (no hash line) and 2 (a
 * header of entries only) are still read.
 */
import { readFileSync } from 'node:fs'
import { DataError, RunError } from '../errors.js'
import type { EmbeddingTable } from '../nn/embedding.js'
import type { ParamStore } from '../nn/params.js'
import { sha256 } from './checksums.js'
import { writeAtomic } from './write-atomic.js'

export { writeAtomic }

const MAGIC = 'RESFLOW-WEIGHTS-3\n'
const MAGIC_2 = 'RESFLOW-WEIGHTS-2\n'
const MAGIC_1 = 'RESFLOW-WEIGHTS-1\n'
const HASH_LINE = /^sha256 ([0-9a-f]{64})\n/
const HASH_LINE_BYTES = 'sha256 '.length + 64 + 1

interface Entry {
  name: string
  kind: 'param' | 'table' | 'table-state' | 'extra'
  shape: number[]
  offset: number // in floats
}

export interface WeightsFile {
  params: Map<string, { shape: number[]; values: Float32Array }>
  tables: Map<string, { shape: number[]; values: Float32Array }>
  /** full rows with optimizer state, present when saved with `withState` */
  tableStates: Map<string, { shape: number[]; values: Float32Array }>
  extras: Map<string, { shape: number[]; values: Float32Array }>
  /** the JSON state saved with the weights (a checkpoint's trainer state), if any */
  state?: unknown
}

export function saveWeights(
  file: string,
  params: ParamStore,
  tables: ReadonlyMap<string, EmbeddingTable>,
  opts: { withState?: boolean; extras?: ReadonlyMap<string, Float32Array>; state?: unknown } = {},
): void {
  const entries: Entry[] = []
  const chunks: Float32Array[] = []
  let offset = 0
  const push = (name: string, kind: Entry['kind'], shape: number[], values: Float32Array) => {
    entries.push({ name, kind, shape, offset })
    chunks.push(values)
    offset += values.length
  }
  for (const e of params.entries.values()) push(e.name, 'param', e.shape, e.values)
  for (const [name, t] of tables) {
    if (opts.withState) push(name, 'table-state', [t.rows, t.stride], t.data)
    else push(name, 'table', [t.rows, t.spec.dim], t.weights())
  }
  for (const [name, v] of opts.extras ?? []) push(name, 'extra', [v.length], v)
  const magic = new TextEncoder().encode(MAGIC)
  const header = new TextEncoder().encode(
    JSON.stringify({ entries, ...(opts.state === undefined ? {} : { state: opts.state }) }) + '\n',
  )
  const hashed = magic.length + HASH_LINE_BYTES // the hash covers out[hashed:]
  const pad = (4 - ((hashed + header.length) % 4)) % 4
  const out = new Uint8Array(hashed + header.length + pad + offset * 4)
  out.set(magic)
  out.set(header, hashed)
  out.fill(0x20, hashed + header.length, hashed + header.length + pad)
  let pos = hashed + header.length + pad
  for (const c of chunks) {
    out.set(new Uint8Array(c.buffer, c.byteOffset, c.byteLength), pos)
    pos += c.byteLength
  }
  out.set(new TextEncoder().encode(`sha256 ${sha256(out.subarray(hashed))}\n`), magic.length)
  writeAtomic(file, out)
}

export function loadWeights(file: string): WeightsFile {
  return parseWeights(readFileSync(file), file)
}

/**
 * Parses the bytes of a weights file; `file` names it in errors. `checked`: the bytes were already
 * checked against the run's checksums.json, so the header's hash is not computed a second time.
 */
export function parseWeights(bytes: Uint8Array, file: string, options: { checked?: boolean } = {}): WeightsFile {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const text = buf.subarray(0, Math.min(buf.length, 1 << 20)).toString('latin1')
  let start: number
  const magic = text.startsWith(MAGIC) ? MAGIC : text.startsWith(MAGIC_2) ? MAGIC_2 : null
  if (magic) {
    start = magic.length + HASH_LINE_BYTES
    const stored = HASH_LINE.exec(text.slice(magic.length, start))?.[1]
    if (!stored)
      throw new RunError(
        `${file}: damaged header (expected "sha256 <64 hex digits>" on line 2, got ${JSON.stringify(text.slice(magic.length, start))})`,
        { file },
      )
    const actual = options.checked ? stored : sha256(buf.subarray(start))
    if (actual !== stored) {
      throw new RunError(
        `${file}: sha256 of the content is ${actual.slice(0, 12)}…, the header says ${stored.slice(0, 12)}… (${buf.length} bytes): the file is corrupted or cut short`,
        { file },
      )
    }
  } else if (text.startsWith(MAGIC_1)) {
    start = MAGIC_1.length
  } else {
    throw new DataError(`${file}: not a resflow weights file (bad header)`, { file })
  }
  const end = text.indexOf('\n', start)
  if (end < 0)
    throw new RunError(`${file}: the header is cut short (no end of line within ${text.length} bytes)`, { file })
  let header: unknown
  try {
    header = JSON.parse(buf.subarray(start, end).toString('utf8'))
  } catch (cause) {
    throw new RunError(`${file}: the header is not valid JSON (${(cause as Error).message}); the file is corrupted`, {
      file,
      cause,
    })
  }
  // format 3: {entries, state}; formats 1 and 2: the entries alone
  const { entries, state } = Array.isArray(header)
    ? { entries: header as Entry[], state: undefined }
    : ((header ?? {}) as { entries?: Entry[]; state?: unknown })
  if (!Array.isArray(entries))
    throw new RunError(`${file}: the header is not a list of entries; the file is corrupted`, { file })
  start = end + 1
  start += (4 - (start % 4)) % 4
  if ((buf.length - start) % 4 !== 0 || start > buf.length)
    throw new RunError(
      `${file}: ${buf.length - start} data bytes, not a whole number of floats; the file is cut short`,
      { file },
    )
  const floats = new Float32Array(buf.buffer.slice(buf.byteOffset + start, buf.byteOffset + buf.length))
  const out: WeightsFile = {
    params: new Map(),
    tables: new Map(),
    tableStates: new Map(),
    extras: new Map(),
    ...(state === undefined ? {} : { state }),
  }
  for (const e of entries) {
    const size = e.shape.reduce((a, b) => a * b, 1)
    const values = floats.subarray(e.offset, e.offset + size)
    if (values.length !== size) throw new RunError(`${file}: entry "${e.name}" is truncated`, { file, field: e.name })
    const target =
      e.kind === 'param'
        ? out.params
        : e.kind === 'table'
          ? out.tables
          : e.kind === 'table-state'
            ? out.tableStates
            : out.extras
    target.set(e.name, { shape: e.shape, values })
  }
  return out
}
