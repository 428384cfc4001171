/**
 * Cache keys: the identity of the data files (absolute path, size, mtime) hashed with whatever else the
 * cached result depends on (the fitted preprocessing, a format version). Touching a file changes its
 * mtime and so the key; the old entry is simply never read again.
 */
import { createHash } from 'node:crypto'
import { statSync } from 'node:fs'
import { resolve } from 'node:path'
import type { DatasetSchema } from './schema.js'
import { listFiles } from './source.js'

export interface FileStamp {
  path: string
  size: number
  mtimeMs: number
}

export function stampOf(file: string): FileStamp {
  const st = statSync(file)
  return { path: resolve(file), size: st.size, mtimeMs: st.mtimeMs }
}

/** Stamps of the concrete files behind paths, folders and globs (expanded the way the reader expands them). */
export async function stampFiles(schema: DatasetSchema, files: string[]): Promise<FileStamp[]> {
  return (await listFiles(schema, files)).map(stampOf)
}

/** A short hex key of any JSON-able parts. */
export function hashKey(...parts: unknown[]): string {
  const h = createHash('sha256')
  for (const p of parts) h.update(JSON.stringify(p)).update('\0')
  return h.digest('hex').slice(0, 20)
}

/** The default cache root, relative to the working directory (override with RESFLOW_CACHE_DIR). */
export function defaultCacheDir(): string {
  return process.env.RESFLOW_CACHE_DIR ?? resolve('.cache', 'resflow')
}
