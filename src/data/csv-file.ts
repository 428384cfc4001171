/**
 * A CSV file as bytes, before DuckDB reads it: its column names (the header line, or the schema's names) and
 * its structural faults. DuckDB is given the dialect and the columns explicitly, so its sniffer never guesses
 * (a guess fails on one short row with a message that names no line); when a read fails anyway, `findCsvFault`
 * scans the file itself and names what is wrong: an empty file, a truncated or corrupt gzip stream, bytes that
 * are not text, or a row with the wrong number of fields (`file:line: expected 82 fields, got 40`).
 */
import { closeSync, openSync, readSync, statSync, createReadStream } from 'node:fs'
import { basename, resolve } from 'node:path'
import { createGunzip, constants as zlib, gunzipSync } from 'node:zlib'
import { DataError } from '../errors.js'
import type { DatasetSchema } from './schema.js'

type CsvOptions = DatasetSchema['csv']

const isGzip = (file: string) => /\.gz$/i.test(file)

/** An existing regular file (not a folder, glob or URL): its header can be read here. */
export function isPlainFile(file: string): boolean {
  try {
    return statSync(file).isFile()
  } catch {
    return false // a glob, a URL or a missing file: DuckDB expands or reports it
  }
}

/** Bytes from the start of the file, decompressed when it is gzip: at least the first line, when the file has one. */
function readHead(file: string): Uint8Array {
  const size = statSync(file).size
  const fd = openSync(file, 'r')
  try {
    for (let want = 1 << 16; ; want *= 4) {
      const raw = Buffer.alloc(Math.min(want, size))
      const n = readSync(fd, raw, 0, raw.length, 0)
      let text: Uint8Array = raw.subarray(0, n)
      if (isGzip(file) && n > 0) text = gunzipHead(file, raw.subarray(0, n))
      if (text.indexOf(0x0a) >= 0 || n >= size || want >= 1 << 26) return text
    }
  } finally {
    closeSync(fd)
  }
}

/** What a prefix of a gzip file decompresses to, without asking for the stream's end (its checksum is checked later, by the full read). */
function gunzipHead(file: string, raw: Uint8Array): Uint8Array {
  if (raw[0] !== 0x1f || raw[1] !== 0x8b)
    throw new DataError(
      `${file}: not a gzip file (it does not start with the gzip bytes 1f 8b); a file named .gz must be gzip-compressed`,
      { file },
    )
  try {
    return gunzipSync(raw, { finishFlush: zlib.Z_SYNC_FLUSH })
  } catch {
    // the whole file was read and its trailer (CRC-32, length) does not match: decompress without the trailer
  }
  try {
    return gunzipSync(raw.subarray(0, Math.max(10, raw.length - 8)), { finishFlush: zlib.Z_SYNC_FLUSH })
  } catch (cause) {
    throw new DataError(
      `${file}: corrupt gzip data in its first ${raw.length} bytes (zlib: ${(cause as Error).message})`,
      { file, cause },
    )
  }
}

/** Where the first byte that is not text sits in `bytes` (NUL, a control byte other than tab/CR/LF, or bad UTF-8), or -1. */
function firstNonText(bytes: Uint8Array): number {
  let need = 0
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]
    if (need > 0) {
      if ((b & 0xc0) !== 0x80) return i
      need--
    } else if (b < 0x20) {
      if (b !== 0x09 && b !== 0x0a && b !== 0x0d) return i
    } else if (b === 0x7f) {
      return i
    } else if (b >= 0x80) {
      if (b >= 0xc2 && b <= 0xdf) need = 1
      else if (b >= 0xe0 && b <= 0xef) need = 2
      else if (b >= 0xf0 && b <= 0xf4) need = 3
      else return i
    }
  }
  return -1
}

/** The fields of one line (RFC 4180: a quoted field may hold the delimiter; a doubled quote is a quote). */
export function splitCsvLine(line: string, delimiter: string, quote: string): string[] {
  const out: string[] = []
  let field = ''
  let quoted = false
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]
    if (quoted) {
      if (ch === quote && line[i + 1] === quote) {
        field += quote
        i++
      } else if (ch === quote) quoted = false
      else field += ch
    } else if (quote !== '' && ch === quote && field === '') {
      quoted = true
    } else if (line.startsWith(delimiter, i)) {
      out.push(field)
      field = ''
      i += delimiter.length - 1
    } else {
      field += ch
    }
  }
  out.push(field)
  return out
}

/** DuckDB's naming of header cells: an empty one is column<i>, a repeated one gets _1, _2, ... */
function uniqueNames(cells: string[]): string[] {
  const seen = new Set<string>()
  return cells.map((c, i) => {
    let name = c.trim() === '' ? `column${i}` : c
    for (let k = 1; seen.has(name); k++) name = `${c}_${k}`
    seen.add(name)
    return name
  })
}

const layouts = new Map<string, string[]>()

/**
 * The column names of a CSV file, checked: not empty, text, and a first line with as many fields as names.
 * From the header line (header: true) or the schema's csv.names; without either, column0, column1, ... as DuckDB
 * names them. Cached by path, size and mtime.
 */
export function csvColumnNames(file: string, csv: CsvOptions): string[] {
  const st = statSync(file)
  const key = JSON.stringify([resolve(file), st.size, st.mtimeMs, csv])
  const cached = layouts.get(key)
  if (cached) return cached
  const head = readHead(file)
  if (head.length === 0) {
    const what = isGzip(file) ? 'its gzip stream holds no bytes' : '0 bytes'
    throw new DataError(
      `${file}: empty file (${what}); expected ${csv.header ? 'a header line and data rows' : 'data rows'}`,
      { file },
    )
  }
  const end = head.indexOf(0x0a)
  const lineBytes = head.subarray(0, end < 0 ? head.length : end)
  const bad = firstNonText(lineBytes)
  if (bad >= 0) {
    const gz = !isGzip(file) && head[0] === 0x1f && head[1] === 0x8b
    const hint = gz ? 'it is gzip-compressed: name it .gz' : 'is it binary or compressed? a gzip file must be named .gz'
    throw new DataError(
      `${file}:1: not a text CSV file: byte 0x${lineBytes[bad].toString(16).padStart(2, '0')} at byte ${bad + 1} of the first line (${hint})`,
      { file, line: 1 },
    )
  }
  const line = new TextDecoder()
    .decode(lineBytes)
    .replace(/\r$/, '')
    .replace(/^\uFEFF/, '')
  const cells = splitCsvLine(line, csv.delimiter, csv.quote).map((c) => (csv.trim ? c.trim() : c))
  const names = csv.names ?? (csv.header ? uniqueNames(cells) : cells.map((_, i) => `column${i}`))
  if (cells.length !== names.length) {
    const what = csv.header ? 'the header has' : 'the first line has'
    throw new DataError(
      `${file}:1: expected ${names.length} fields (the schema's csv.names), ${what} ${cells.length} (delimiter ${JSON.stringify(csv.delimiter)})`,
      { file, line: 1 },
    )
  }
  layouts.set(key, names)
  return names
}

/** The column names shared by the files of one read; a file whose header differs from the first file's is named. */
export function sharedColumnNames(files: string[], csv: CsvOptions): string[] {
  const first = csvColumnNames(files[0], csv)
  for (const file of files.slice(1)) {
    const names = csvColumnNames(file, csv)
    const at = names.findIndex((n, i) => n !== first[i])
    if (at >= 0 || names.length !== first.length) {
      const i = at >= 0 ? at : Math.min(names.length, first.length)
      const got = names[i] === undefined ? 'missing' : `"${names[i]}"`
      throw new DataError(
        `${file}:1: header differs from ${basename(files[0])}: field ${i + 1} is ${got}, expected ${first[i] === undefined ? 'no more fields' : `"${first[i]}"`} (the files of a split must share one layout)`,
        { file, line: 1, field: names[i] ?? first[i] },
      )
    }
  }
  return first
}

/**
 * Scans a CSV file for the first structural fault: unreadable header (see csvColumnNames), bytes that are not
 * text, a row whose field count differs from the columns', or a gzip stream that is truncated or corrupt.
 * Returns undefined when the file is sound (the fault is then in a cell, see diagnose.ts).
 */
export async function findCsvFault(file: string, csv: CsvOptions): Promise<DataError | undefined> {
  let expected: number
  try {
    expected = csvColumnNames(file, csv).length
  } catch (err) {
    if (err instanceof DataError) return err
    throw err
  }
  const delim = Buffer.from(csv.delimiter)
  const quote = csv.quote === '' ? -1 : csv.quote.charCodeAt(0)
  let line = 1 // physical line of the current byte
  let recordLine = 1 // line where the current record started
  let fields = 1
  let empty = true // no byte yet in this record
  let inQuote = false
  let afterQuote = false // just closed a quote: a second quote is an escaped one
  let matched = 0 // bytes of the delimiter matched so far
  let need = 0 // UTF-8 continuation bytes still expected
  let fault: DataError | undefined
  const endRecord = (): void => {
    if (!empty && fields !== expected && !(csv.header && recordLine === 1)) {
      fault = new DataError(`${file}:${recordLine}: expected ${expected} fields, got ${fields}`, {
        file,
        line: recordLine,
      })
    }
    fields = 1
    empty = true
    recordLine = line
  }
  const scan = (chunk: Uint8Array): void => {
    for (let i = 0; i < chunk.length && !fault; i++) {
      const b = chunk[i]
      if (
        need > 0
          ? (b & 0xc0) !== 0x80
          : (b < 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d) || b === 0x7f || (b >= 0x80 && (b < 0xc2 || b > 0xf4))
      ) {
        fault = new DataError(
          `${file}:${line}: not text: byte 0x${b.toString(16).padStart(2, '0')} (a binary or corrupt file?)`,
          { file, line },
        )
        return
      }
      if (need > 0) {
        need--
        continue
      }
      if (b >= 0x80) {
        need = b >= 0xf0 ? 3 : b >= 0xe0 ? 2 : 1
      }
      if (b === 0x0a) line++
      if (inQuote) {
        if (b === quote) {
          inQuote = false
          afterQuote = true
        }
        continue
      }
      if (afterQuote && b === quote) {
        inQuote = true
        afterQuote = false
        continue
      }
      afterQuote = false
      if (b === 0x0a) {
        endRecord()
        matched = 0
        continue
      }
      if (b === 0x0d) continue
      if (b === quote && empty) {
        inQuote = true
        empty = false
        continue
      }
      empty = false
      matched = b === delim[matched] ? matched + 1 : b === delim[0] ? 1 : 0
      if (matched === delim.length) {
        fields++
        matched = 0
      }
    }
  }
  const source = createReadStream(file)
  const stream = isGzip(file) ? source.pipe(createGunzip()) : source
  try {
    for await (const chunk of stream) {
      scan(chunk as Uint8Array)
      if (fault) break
    }
  } catch (cause) {
    const z = cause as NodeJS.ErrnoException
    const where = `after line ${Math.max(0, line - 1)}`
    const what =
      z.code === 'Z_BUF_ERROR' ? `truncated gzip file: the compressed data ends ${where}` : `corrupt gzip data ${where}`
    return new DataError(`${file}: ${what} (zlib: ${z.message})`, { file, cause })
  } finally {
    source.destroy()
  }
  if (!fault && !empty) endRecord()
  return fault
}
