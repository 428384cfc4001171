/**
 * Model weights on disk: one binary file, a JSON header (names, shapes, byte offsets) followed by the
 * raw little-endian float32 data. Dense parameters (BatchNorm running statistics included) and
 * embedding tables (weights only, or with their optimizer state for resuming). Written atomically:
 * to a temporary file, then renamed.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs'
import { DataError } from '../errors.js'
import type { EmbeddingTable } from '../nn/embedding.js'
import type { ParamStore } from '../nn/params.js'

const MAGIC = 'RESFLOW-WEIGHTS-1\n'

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
}

export function writeAtomic(file: string, data: string | Uint8Array): void {
  const tmp = `${file}.tmp-${process.pid}`
  writeFileSync(tmp, data)
  renameSync(tmp, file)
}

export function saveWeights(
  file: string,
  params: ParamStore,
  tables: ReadonlyMap<string, EmbeddingTable>,
  opts: { withState?: boolean; extras?: ReadonlyMap<string, Float32Array> } = {},
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
  const header = new TextEncoder().encode(MAGIC + JSON.stringify(entries) + '\n')
  const pad = (4 - (header.length % 4)) % 4
  const out = new Uint8Array(header.length + pad + offset * 4)
  out.set(header)
  out.fill(0x20, header.length, header.length + pad)
  let pos = header.length + pad
  for (const c of chunks) {
    out.set(new Uint8Array(c.buffer, c.byteOffset, c.byteLength), pos)
    pos += c.byteLength
  }
  writeAtomic(file, out)
}

export function loadWeights(file: string): WeightsFile {
  const bytes = readFileSync(file)
  const text = bytes.subarray(0, Math.min(bytes.length, 1 << 20)).toString('latin1')
  if (!text.startsWith(MAGIC)) throw new DataError(`${file}: not a resflow weights file (bad header)`, { file })
  const end = text.indexOf('\n', MAGIC.length)
  const entries = JSON.parse(bytes.subarray(MAGIC.length, end).toString('utf8')) as Entry[]
  let start = end + 1
  start += (4 - (start % 4)) % 4
  const floats = new Float32Array(bytes.buffer.slice(bytes.byteOffset + start, bytes.byteOffset + bytes.length))
  const out: WeightsFile = { params: new Map(), tables: new Map(), tableStates: new Map(), extras: new Map() }
  for (const e of entries) {
    const size = e.shape.reduce((a, b) => a * b, 1)
    const values = floats.subarray(e.offset, e.offset + size)
    if (values.length !== size) throw new DataError(`${file}: entry "${e.name}" is truncated`, { file, field: e.name })
    const target = e.kind === 'param' ? out.params : e.kind === 'table' ? out.tables : e.kind === 'table-state' ? out.tableStates : out.extras
    target.set(e.name, { shape: e.shape, values })
  }
  return out
}
