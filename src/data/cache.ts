/**
 * The encoded on-disk cache: encode once, train many epochs (and many runs). An entry is a folder
 * `<cacheDir>/encoded/<key>/` with one raw little-endian typed-array file per column and a manifest.json
 * written last, so a half-written entry is never read. The key hashes the data files (absolute path, size,
 * mtime) and the fitted preprocessing, so touching a file or refitting gives a new key and the entry is
 * rebuilt; old entries are left for the user to delete (`rm -r .cache/resflow`).
 */
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs'
import { join } from 'node:path'
import { z } from 'zod'
import type { EncodedColumns, EncodedDataset, EncodeReport } from './dataset.js'
import { makeEncodedDataset } from './dataset.js'
import { hashKey, stampFiles } from './file-key.js'
import type { Preprocessing } from './preprocessing.js'
import { inputSpecOf, loadPreprocessing, savePreprocessing } from './preprocessing.js'

/** Bump when the column layout changes. */
// 2: log1p-standardize fits the statistics of sign(x)·log1p|x| (entries fitted before are stale)
export const CACHE_VERSION = 2

export type Dtype = 'i32' | 'f32' | 'f64'
export type Role = 'sparse' | 'multiOffsets' | 'multiIds' | 'dense' | 'label' | 'group' | 'extra'
export const ARRAY = { i32: Int32Array, f32: Float32Array, f64: Float64Array } as const

export const ManifestSchema = z.object({
  version: z.literal(CACHE_VERSION),
  key: z.string(),
  report: z.object({
    files: z.array(z.string()),
    read: z.number(),
    rows: z.number(),
    filtered: z.number().default(0),
    droppedFunnel: z.number(),
    skippedBad: z.number(),
    hashed: z.record(z.string(), z.number()).optional(),
  }),
  columns: z.array(
    z.object({
      role: z.enum(['sparse', 'multiOffsets', 'multiIds', 'dense', 'label', 'group', 'extra']),
      name: z.string(),
      dtype: z.enum(['i32', 'f32', 'f64']),
      length: z.number(),
      file: z.string(),
    }),
  ),
})
export type Manifest = z.output<typeof ManifestSchema>
export type ColumnEntry = Manifest['columns'][number]

/** The entry folder for these files and this preprocessing. */
export async function encodedCacheDir(prep: Preprocessing, files: string[], cacheDir: string): Promise<string> {
  return join(cacheDir, 'encoded', hashKey(CACHE_VERSION, await stampFiles(prep.schema, files), prep))
}

export function listColumns(
  c: EncodedColumns,
): { role: Role; name: string; data: Int32Array | Float32Array | Float64Array }[] {
  return [
    ...Object.entries(c.sparse).map(([name, data]) => ({ role: 'sparse' as const, name, data })),
    ...Object.entries(c.multi).flatMap(([name, m]) => [
      { role: 'multiOffsets' as const, name, data: m.offsets },
      { role: 'multiIds' as const, name, data: m.ids },
    ]),
    { role: 'dense' as const, name: 'dense', data: c.dense },
    ...Object.entries(c.labels).map(([name, data]) => ({ role: 'label' as const, name, data })),
    ...(c.group ? [{ role: 'group' as const, name: 'group', data: c.group }] : []),
    ...Object.entries(c.extra).map(([name, data]) => ({ role: 'extra' as const, name, data })),
  ]
}

export const dtypeOf = (a: Int32Array | Float32Array | Float64Array): Dtype =>
  a instanceof Int32Array ? 'i32' : a instanceof Float32Array ? 'f32' : 'f64'

/**
 * An empty folder beside the entry `dir` to write it into (one per process, so concurrent runs that build
 * the same entry do not write into each other's files); `commitEntry` moves it into place.
 */
export function entryTmpDir(dir: string): string {
  const tmp = `${dir}.tmp-${process.pid}`
  rmSync(tmp, { recursive: true, force: true })
  mkdirSync(tmp, { recursive: true })
  return tmp
}

/** Writes the manifest last, then one rename: a reader never sees a manifest without its columns. */
export function commitEntry(tmp: string, dir: string, manifest: Manifest): void {
  writeFileSync(join(tmp, 'manifest.json'), JSON.stringify(manifest, null, 1) + '\n')
  rmSync(dir, { recursive: true, force: true })
  renameSync(tmp, dir)
}

/**
 * Fills `out` from the file `fd` at byte `position`; false when the file ends first. Reads at most 1 GiB a
 * call (one readSync takes at most 2 GiB).
 */
export function readFully(fd: number, out: Int32Array | Float32Array | Float64Array, position: number): boolean {
  const bytes = new Uint8Array(out.buffer, out.byteOffset, out.byteLength)
  let at = 0
  while (at < bytes.length) {
    const n = readSync(fd, bytes, at, Math.min(bytes.length - at, 1 << 30), position + at)
    if (n === 0) return false
    at += n
  }
  return true
}

/** Writes an entry (columns first, manifest last, then one rename into place). */
export function writeEncodedCache(dir: string, ds: EncodedDataset): void {
  const tmp = entryTmpDir(dir)
  const columns: ColumnEntry[] = listColumns(ds.columns).map((col, i) => {
    const file = `${i}-${col.role}.bin`
    writeFileSync(join(tmp, file), new Uint8Array(col.data.buffer, col.data.byteOffset, col.data.byteLength))
    return { role: col.role, name: col.name, dtype: dtypeOf(col.data), length: col.data.length, file }
  })
  const { cache: _cache, ...report } = ds.report
  commitEntry(tmp, dir, { version: CACHE_VERSION, key: dir, report, columns })
}

function readColumn(dir: string, col: ColumnEntry): Int32Array | Float32Array | Float64Array | undefined {
  const file = join(dir, col.file)
  const out = new ARRAY[col.dtype](col.length)
  if (!existsSync(file) || statSync(file).size !== out.byteLength) return undefined
  const fd = openSync(file, 'r')
  try {
    return readFully(fd, out, 0) ? out : undefined
  } finally {
    closeSync(fd)
  }
}

/** Loads an entry, or undefined when it is absent or incomplete (the caller re-encodes and rewrites it). */
export function readEncodedCache(dir: string, prep: Preprocessing): EncodedDataset | undefined {
  const manifestFile = join(dir, 'manifest.json')
  if (!existsSync(manifestFile)) return undefined
  const parsed = ManifestSchema.safeParse(JSON.parse(readFileSync(manifestFile, 'utf8')))
  if (!parsed.success) return undefined
  const m = parsed.data
  const columns: EncodedColumns = { sparse: {}, multi: {}, dense: new Float32Array(0), labels: {}, extra: {} }
  const offsets: Record<string, Int32Array> = {}
  for (const col of m.columns) {
    const data = readColumn(dir, col)
    if (!data) return undefined
    if (col.role === 'sparse') columns.sparse[col.name] = data as Int32Array
    else if (col.role === 'multiOffsets') offsets[col.name] = data as Int32Array
    else if (col.role === 'multiIds') columns.multi[col.name] = { offsets: offsets[col.name], ids: data as Int32Array }
    else if (col.role === 'dense') columns.dense = data as Float32Array
    else if (col.role === 'label') columns.labels[col.name] = data as Float32Array
    else if (col.role === 'group') columns.group = data as Float64Array
    else columns.extra[col.name] = data as Float32Array
  }
  const report: EncodeReport = { ...m.report, cache: { dir, hit: true } }
  return makeEncodedDataset(inputSpecOf(prep), columns, report)
}

/**
 * The fitted preprocessing for a schema and training files, from `<cacheDir>/prep/<key>.json` when the same
 * files (path, size, mtime) were fitted with the same schema before; otherwise fitted and saved there.
 */
export async function cachedPreprocessing(
  schema: Preprocessing['schema'],
  trainFiles: string[],
  cacheDir: string,
  fit: () => Promise<Preprocessing>,
): Promise<Preprocessing> {
  const file = join(cacheDir, 'prep', `${hashKey(CACHE_VERSION, await stampFiles(schema, trainFiles), schema)}.json`)
  if (existsSync(file)) return loadPreprocessing(file)
  const prep = await fit()
  mkdirSync(join(cacheDir, 'prep'), { recursive: true })
  savePreprocessing(prep, `${file}.tmp-${process.pid}`)
  renameSync(`${file}.tmp-${process.pid}`, file)
  return prep
}
