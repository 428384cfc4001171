/**
 * The /v1/rank body encoded straight from its UTF-8 bytes, for the plain case: every candidate carrying
 * every feature it does not share in "context", as rows (`"candidates": [{...}, ...]`) or columns
 * (`"candidates": {"feature": [v0, v1, ...], ...}`), ASCII text without escapes. At 1000 candidates × 40
 * features, JSON.parse and then encodeRankRequest take ~5 ms together, most of it making strings and
 * objects that are read once; here keys are matched by comparing bytes, and a value whose bytes were seen
 * before in the same column (a user feature repeated in every row, an item category) copies the cell already
 * encoded instead of being decoded and encoded again.
 *
 * A value met for the first time is decoded as JSON.parse decodes it and written with `BatchWriter.put`, after
 * the checks of rank-encode.ts `checked` (the same vocabularies, memos and canonical forms, not a second
 * copy of them). Anything else returns null and the caller takes that path instead, which gives every error
 * message: string escapes, non-ASCII bytes, true/false, nested values, duplicate or unknown keys, "item_ids",
 * a feature both in context and in a candidate, candidates missing features (item-store lookups), 0 or more
 * than `maxCandidates` candidates, malformed JSON, and values the checks or `put` refuse. So a non-null
 * result is exactly what `encodeRankRequest(JSON.parse(text), ...)` returns for the same body.
 */
import type { BatchWriter, ColumnPlan, CompiledCodec } from './columnar.js'
import type { EncodedRank } from './rank-encode.js'
import type { RankLimits } from './request.js'

/** Buffer's ASCII/latin1 decoder without toString's encoding dispatch (in Node, not in its typings). */
interface Latin1 {
  latin1Slice(start: number, end: number): string
}

const QUOTE = 0x22
const COMMA = 0x2c
const COLON = 0x3a
const MINUS = 0x2d
const BACKSLASH = 0x5c
const LBRACE = 0x7b
const RBRACE = 0x7d
const LBRACKET = 0x5b
const RBRACKET = 0x5d
const DIGIT0 = 0x30
const DIGIT9 = 0x39

const CATEGORICAL = 0
const NUMERIC = 1
const LIST = 2

const STRING = 0
const NUMBER = 1
const NULL = 2

/** 10^k exactly, for k ≤ 22 (the largest power of ten a double holds exactly) */
const POW10 = Array.from({ length: 23 }, (_, k) => Number(`1e${k}`))
/** Slots per column of the seen-values cache (a power of two); a collision only costs a miss. */
const SLOT_BITS = 9
/** Values up to this many bytes are cached by their bytes (7 bits each, so 49 bits in two int32s). */
const PACKED_BYTES = 7

/** Only named in errors, and the fast path never reports one (it returns null instead). */
const AT = () => 'body'

const CONTEXT = Buffer.from('context"')
const CANDIDATES = Buffer.from('candidates"')

/** What a codec's scans share: its keys as bytes, the scratch batch and the caches, kept between requests. */
interface Plan {
  columns: ColumnPlan[]
  byName: Map<string, ColumnPlan>
  /** each column's key as `"name":`, or null for a name JSON would escape (never matched by bytes) */
  keyColon: (Uint8Array | null)[]
  kind: Uint8Array
  nullable: Uint8Array
  /** a column of one id target: its slot; of one dense target: -2 - its index; else -1 */
  single: Int32Array
  /** rows are written here first (the count is known only at the end), then copied into a writer of the exact size */
  scratch: BatchWriter
  /** per column and slot: [stamp, packed bytes low, high, row] of a value written in the call of that stamp */
  cache: Int32Array
  stamp: number
  /** the last value longer than PACKED_BYTES per column: its byte range in the body and its row (-1: none) */
  lastStart: Int32Array
  lastEnd: Int32Array
  lastRow: Int32Array
  /** per column: the last row (+1) that gave it, candidates giving it, and whether context gives it */
  seen: Int32Array
  count: Int32Array
  inContext: Uint8Array
  /** the column met at each key position of the last row (or column list): the next one's first guess */
  rowOrder: Int32Array
  colOrder: Int32Array
  /** key positions of a row and of the row before it, and the columns of a run of copied rows (rowList) */
  segA: Int32Array
  segB: Int32Array
  runColumns: Int32Array
}

const plans = new WeakMap<CompiledCodec, Plan>()

function planOf(codec: CompiledCodec): Plan {
  let p = plans.get(codec)
  if (p) return p
  const n = codec.columns.length
  const plain = (s: string) => /^[\x20-\x7e]*$/.test(s) && !/["\\]/.test(s)
  const guess = Int32Array.from({ length: n + 1 }, (_, i) => (i < n ? i : -1))
  p = {
    columns: codec.columns,
    byName: codec.byName,
    keyColon: codec.columns.map((c) => (plain(c.feature.name) ? Buffer.from(`"${c.feature.name}":`) : null)),
    kind: Uint8Array.from(codec.columns, (c) =>
      c.feature.kind === 'numeric' ? NUMERIC : c.feature.kind === 'list' ? LIST : CATEGORICAL,
    ),
    nullable: Uint8Array.from(codec.columns, (c) => (c.feature.nullable === false ? 0 : 1)),
    single: Int32Array.from(codec.columns, ({ targets: [t, more] }) =>
      more !== undefined || t === undefined || t.kind === 'multi' ? -1 : t.kind === 'dense' ? -2 - t.index : t.slot,
    ),
    scratch: codec.writer(1024),
    cache: new Int32Array((n << SLOT_BITS) * 4),
    stamp: 0,
    lastStart: new Int32Array(n),
    lastEnd: new Int32Array(n),
    lastRow: new Int32Array(n),
    seen: new Int32Array(n),
    count: new Int32Array(n),
    inContext: new Uint8Array(n),
    rowOrder: guess,
    colOrder: guess.slice(),
    segA: new Int32Array(n + 1),
    segB: new Int32Array(n + 1),
    runColumns: new Int32Array(n + 1),
  }
  plans.set(codec, p)
  return p
}

/**
 * The /v1/rank body's batch, read from its bytes, or null for a body outside the plain case (see the file's
 * comment); null says nothing about the body's validity. No item store is needed: a body that would need
 * one (candidates missing features) returns null.
 */
export function fastEncodeRank(body: Uint8Array, codec: CompiledCodec, limits: RankLimits): EncodedRank | null {
  try {
    return new Scan(body, planOf(codec), limits.maxCandidates).run()
  } catch {
    return null // a value put() refuses: the caller's path names it
  }
}

class Scan {
  readonly b: Buffer
  readonly text: Latin1
  w: BatchWriter
  readonly stamp: number
  /** set by `scalar`: the value's type and, for a number, its value */
  tag = 0
  num = 0
  /** set by `key`: where the key read ends, after its colon */
  keyEnd = 0
  context: [ColumnPlan, string | number | null][] = []
  sawContext = false
  /** candidates read so far (the first column's length, in the columns form); -1 before any */
  rows = -1
  form: 'rows' | 'columns' | null = null

  constructor(
    body: Uint8Array,
    readonly plan: Plan,
    readonly max: number,
  ) {
    this.b = Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength)
    this.text = this.b as unknown as Latin1
    this.w = plan.scratch
    if (plan.stamp >= 0x7fffffff) {
      plan.cache.fill(0)
      plan.stamp = 0
    }
    this.stamp = ++plan.stamp
    plan.lastStart.fill(-1)
    plan.seen.fill(0)
    plan.count.fill(0)
    plan.inContext.fill(0)
  }

  run(): EncodedRank | null {
    const b = this.b
    let p = ws(b, 0)
    if (b[p] !== LBRACE) return null
    p = ws(b, p + 1)
    for (;;) {
      if (b[p] !== QUOTE) return null
      if (same(b, p + 1, CONTEXT)) {
        if (this.sawContext) return null
        this.sawContext = true
        p = ws(b, p + 1 + CONTEXT.length)
        if (b[p] !== COLON) return null
        p = this.contextObject(ws(b, p + 1))
      } else if (same(b, p + 1, CANDIDATES)) {
        if (this.form !== null) return null
        p = ws(b, p + 1 + CANDIDATES.length)
        if (b[p] !== COLON) return null
        p = ws(b, p + 1)
        if (b[p] === LBRACKET) {
          this.form = 'rows'
          p = this.rowList(ws(b, p + 1))
        } else if (b[p] === LBRACE) {
          this.form = 'columns'
          p = this.columnObject(ws(b, p + 1))
        } else return null
      } else return null
      if (p < 0) return null
      p = ws(b, p)
      if (b[p] === COMMA) p = ws(b, p + 1)
      else if (b[p] === RBRACE) break
      else return null
    }
    if (ws(b, p + 1) !== b.length || this.form === null) return null
    return this.finish()
  }

  /** Checks every feature is given once per candidate or in context, then copies the scratch rows out. */
  private finish(): EncodedRank | null {
    const { plan, rows: n } = this
    if (n <= 0) return null
    for (let c = 0; c < plan.columns.length; c++)
      if (plan.inContext[c] ? plan.count[c] !== 0 : plan.count[c] !== n) return null
    const w = this.w.codec.writer(n)
    copyRows(w, this.w, n)
    for (const [c, v] of this.context) {
      w.put(c, 0, v, AT)
      w.fill(c, 0, n)
    }
    const index = new Uint32Array(n)
    for (let i = 0; i < n; i++) index[i] = i
    return { batch: w.finish(n), index, skipped: [], lookups: 0, misses: 0 }
  }

  /** `"context": {...}` from its opening brace: values are decoded, checked and kept for `finish`. */
  private contextObject(p: number): number {
    const b = this.b
    const plan = this.plan
    if (b[p] !== LBRACE) return -1
    p = ws(b, p + 1)
    if (b[p] === RBRACE) return p + 1
    for (;;) {
      const c = this.key(p, -1)
      if (c < 0 || plan.inContext[c] || plan.count[c] !== 0) return -1
      plan.inContext[c] = 1
      p = ws(b, this.keyEnd)
      const end = this.scalar(p)
      if (end < 0) return -1
      const v = this.decoded(c, p, end)
      if (v === undefined) return -1
      this.context.push([plan.columns[c], v])
      p = ws(b, end)
      if (b[p] === COMMA) p = ws(b, p + 1)
      else if (b[p] === RBRACE) return p + 1
      else return -1
    }
  }

  /**
   * `[{...}, ...]` from after its opening bracket. A row whose rest, from key position J on, has the bytes of
   * the previous row's rest (the user features of every candidate, say) is compared in one native call and
   * its cells are copied from that row, in runs filled column by column at the end of the run.
   */
  private rowList(p: number): number {
    const b = this.b
    const plan = this.plan
    const { seen, count, inContext, rowOrder, runColumns } = plan
    let seg = plan.segA // where each key of this row starts (its opening quote)
    let prevSeg = plan.segB
    if (b[p] === RBRACKET) return -1 // no candidates
    let row = 0
    let start = 0 // this row's opening brace, and the previous row's braces
    let prevStart = -1
    let prevEnd = -1
    let prevKeys = 0
    let J = -1 // the key position from which the previous row's rest is tried, -1: none
    // deferred copies: rows runFrom+1..runTo take columns runColumns[0..runLength) from row runFrom
    let runFrom = -1
    let runTo = -1
    let runJ = -1
    let runLength = 0
    for (;;) {
      if (b[p] !== LBRACE || row >= this.max) return -1
      if (row >= this.w.rows) this.grow(row)
      start = p
      p = ws(b, p + 1)
      let keys = 0
      let copied = false
      let expected = true // every key so far the previous row's at the same position
      if (b[p] !== RBRACE) {
        for (let j = 0; ; j++) {
          if (j === J) {
            const from = prevSeg[j]
            const len = prevEnd + 1 - from
            if (p + len <= b.length && b.compare(b, from, from + len, p, p + len) === 0) {
              // keys before j all as expected: the previous row's, none of which is in its rest
              if (!expected) for (let t = j; t < prevKeys; t++) if (seen[rowOrder[t]] === row + 1) return -1
              seg[j] = p
              if (runTo !== row - 1 || runJ !== j) {
                this.fillRuns(runColumns, runLength, runFrom, runTo)
                runFrom = row - 1
                runJ = j
                runLength = prevKeys - j
                for (let t = 0; t < runLength; t++) runColumns[t] = rowOrder[j + t]
              }
              runTo = row
              p += len - 1
              keys = prevKeys
              copied = true
              break
            }
            J = -1
          }
          seg[j] = p
          const c = this.key(p, rowOrder[j])
          if (c < 0) return -1
          if (c !== rowOrder[j]) expected = false
          if (seen[c] === row + 1 || inContext[c]) return -1
          rowOrder[j] = c
          seen[c] = row + 1
          count[c]++
          p = this.cell(ws(b, this.keyEnd), c, row)
          if (p < 0) return -1
          p = ws(b, p)
          if (b[p] === COMMA) p = ws(b, p + 1)
          else if (b[p] === RBRACE) {
            keys = j + 1
            break
          } else return -1
        }
      }
      // p: this row's closing brace
      if (!copied && row > 0 && J < 0) {
        // the bytes this row ends with in common with the previous row: the next row is tried from the first key in them
        let d = 0
        const most = Math.min(p - start, prevEnd - prevStart)
        while (d < most && b[p - d] === b[prevEnd - d]) d++
        for (let j = 0; j < keys; j++)
          if (seg[j] > p - d) {
            J = j
            break
          }
      }
      prevStart = start
      prevEnd = p
      prevKeys = keys
      const t = seg
      seg = prevSeg
      prevSeg = t
      row++
      p = ws(b, p + 1)
      if (b[p] === COMMA) p = ws(b, p + 1)
      else if (b[p] === RBRACKET) {
        this.fillRuns(runColumns, runLength, runFrom, runTo)
        this.rows = row
        return p + 1
      } else return -1
    }
  }

  /** Copies columns `columns[0..length)` of row `from` to rows from+1..to, and counts them given there. */
  private fillRuns(columns: Int32Array, length: number, from: number, to: number): void {
    if (from < 0 || to <= from) return
    for (let t = 0; t < length; t++) {
      fillRows(this.w, this.plan.columns[columns[t]], from, to + 1)
      this.plan.count[columns[t]] += to - from
    }
  }

  /**
   * `{"feature": [v0, v1, ...], ...}` from after its opening brace. A value with the bytes of the one before
   * it extends a run of equal cells, filled when the run ends.
   */
  private columnObject(p: number): number {
    const b = this.b
    const plan = this.plan
    const { count, inContext, colOrder } = plan
    if (b[p] === RBRACE) return -1 // no columns
    for (let j = 0; ; j++) {
      const c = this.key(p, colOrder[j])
      if (c < 0 || count[c] !== 0 || inContext[c]) return -1
      colOrder[j] = c
      const column = plan.columns[c]
      p = ws(b, this.keyEnd)
      if (b[p] !== LBRACKET) return -1
      p = ws(b, p + 1)
      const n = this.rows
      const limit = n >= 0 ? n : this.max // values this column may have
      let i = 0
      let from = -1 // the row this run of equal values copies (-1: none yet), and its value's bytes
      let last = 0
      let len = 0
      let prev = 0 // where the value before this one starts
      let bulk = true // whether a run may still skip values in bulk
      if (b[p] !== RBRACKET) {
        for (;;) {
          if (i >= limit) return -1
          let k = 0
          if (from >= 0) while (k < len && b[p + k] === b[last + k]) k++
          if (from >= 0 && k === len && (b[last] === QUOTE || ends(b[p + len]))) {
            // in a run: when the bytes of the value before and its separator repeat m times from here, m values
            // are skipped at once (one native compare, overlapping: [prev, p) has period p - prev); halving m
            // down to 4 on a mismatch, and no more tries in this run once even 4 mismatch
            const unit = p - prev
            let m = bulk ? Math.min(limit - i - 1, (b.length - p) / unit, 4 * (i - from)) | 0 : 0
            while (m >= 4 && b.compare(b, prev, prev + m * unit, p, p + m * unit) !== 0) m >>= 1
            if (m >= 4) {
              i += m
              p += m * unit
              prev = p - unit
              continue
            }
            bulk = false
            prev = p
            p += len
            i++
          } else {
            if (i - 1 > from && from >= 0) this.fillRun(column, from, i)
            if (i >= this.w.rows) this.grow(i)
            const end = this.cell(p, c, i)
            if (end < 0) return -1
            from = i++
            bulk = true
            last = prev = p
            len = end - p
            p = end
          }
          p = ws(b, p)
          if (b[p] === COMMA) p = ws(b, p + 1)
          else if (b[p] === RBRACKET) break
          else return -1
        }
      }
      if (i === 0 || (n >= 0 && i !== n)) return -1
      if (i - 1 > from) this.fillRun(column, from, i)
      this.rows = i
      count[c] = i
      p = ws(b, p + 1)
      if (b[p] === COMMA) p = ws(b, p + 1)
      else if (b[p] === RBRACE) return p + 1
      else return -1
    }
  }

  /** Column `c` of row `from` into rows from+1..to-1, the scratch grown to hold them. */
  private fillRun(c: ColumnPlan, from: number, to: number): void {
    if (to > this.w.rows) this.grow(to)
    fillRows(this.w, c, from, to)
  }

  /**
   * The column of the key at `p` (its opening quote), or -1 (not a plain key of a feature, or no colon after
   * it). `guess`: the column expected here, whose `"name":` is compared byte by byte before the key is decoded
   * and looked up.
   */
  private key(p: number, guess: number): number {
    const b = this.b
    if (guess >= 0) {
      const name = this.plan.keyColon[guess]
      if (name !== null) {
        const len = name.length
        let k = 0
        while (k < len && b[p + k] === name[k]) k++
        if (k === len) {
          this.keyEnd = p + len
          return guess
        }
      }
    }
    if (b[p] !== QUOTE) return -1
    let e = p + 1
    for (;;) {
      const x = b[e]
      if (x === QUOTE) break
      if (!(x >= 0x20 && x < 0x80) || x === BACKSLASH) return -1 // also the end of the body (undefined)
      e++
    }
    const colon = ws(b, e + 1)
    if (b[colon] !== COLON) return -1
    this.keyEnd = colon + 1
    return this.plan.byName.get(this.text.latin1Slice(p + 1, e))?.index ?? -1
  }

  /**
   * Scans the JSON scalar at `p`: a string without escapes or non-ASCII bytes, a number, or null. Sets `tag`
   * (and `num` for a number, decoded as JSON.parse decodes it); returns the end, or -1.
   */
  private scalar(p: number): number {
    const b = this.b
    let x = b[p]
    if (x === QUOTE) {
      this.tag = STRING
      for (;;) {
        x = b[++p]
        if (x === QUOTE) return p + 1
        if (!(x >= 0x20 && x < 0x80) || x === BACKSLASH) return -1
      }
    }
    if (x === 0x6e) {
      if (b[p + 1] !== 0x75 || b[p + 2] !== 0x6c || b[p + 3] !== 0x6c) return -1 // null
      this.tag = NULL
      return p + 4
    }
    const start = p
    const negative = x === MINUS
    if (negative) x = b[++p]
    // the digits as an integer, exact while there are at most 15 of them
    let m = 0
    let digits = 0
    let scale = 0
    if (x === DIGIT0) {
      x = b[++p]
      digits = 1
    } else if (x > DIGIT0 && x <= DIGIT9) {
      do {
        m = m * 10 + (x - DIGIT0)
        digits++
        x = b[++p]
      } while (x >= DIGIT0 && x <= DIGIT9)
    } else return -1
    if (x === 0x2e) {
      x = b[++p]
      if (!(x >= DIGIT0 && x <= DIGIT9)) return -1
      do {
        m = m * 10 + (x - DIGIT0)
        scale++
        x = b[++p]
      } while (x >= DIGIT0 && x <= DIGIT9)
    }
    let exponent = false
    if (x === 0x65 || x === 0x45) {
      exponent = true
      x = b[++p]
      if (x === 0x2b || x === MINUS) x = b[++p]
      if (!(x >= DIGIT0 && x <= DIGIT9)) return -1
      do x = b[++p]
      while (x >= DIGIT0 && x <= DIGIT9)
    }
    this.tag = NUMBER
    if (exponent || digits + scale > 15) this.num = Number(this.text.latin1Slice(start, p))
    else {
      // an exact integer over an exact power of ten: the one division rounds correctly (Clinger's fast path)
      const v = scale === 0 ? m : m / POW10[scale]
      this.num = negative ? -v : v
    }
    return p
  }

  /** The scalar just scanned at start..end as a value column `c` accepts (rank-encode.ts `checked`), or undefined. */
  private decoded(c: number, start: number, end: number): string | number | null | undefined {
    const kind = this.plan.kind[c]
    switch (this.tag) {
      case STRING:
        return kind === NUMERIC ? undefined : this.text.latin1Slice(start + 1, end - 1)
      case NUMBER: {
        const v = this.num
        if (kind === NUMERIC) return Number.isFinite(v) ? v : undefined
        return kind === CATEGORICAL && Number.isSafeInteger(v) ? v : undefined
      }
      default:
        return this.plan.nullable[c] ? null : undefined
    }
  }

  /**
   * Writes the value at `p` into column `c` of `row`: a copy of the cell of an earlier row whose value had the
   * same bytes, else decoded and put. Returns the value's end, or -1.
   *
   * A value of at most PACKED_BYTES bytes is first read loosely (a string to its closing quote, a number to
   * the first byte that cannot be in one) while its bytes are packed, 7 bits each; a cache hit means the same
   * bytes were scanned strictly and accepted before, so only a miss is scanned strictly (`scalar`).
   */
  private cell(p: number, c: number, row: number): number {
    const b = this.b
    const plan = this.plan
    let x = b[p]
    let lo = x
    let hi = 0
    let len = 0 // bytes packed, 0: not packed
    if (x === QUOTE) {
      for (let k = 1; k < PACKED_BYTES; k++) {
        x = b[p + k]
        if (x >= 0x80) return -1 // would alias in 7 bits (and is refused anyway)
        if (k < 4) lo |= x << (7 * k)
        else hi |= x << (7 * (k - 4))
        if (x === QUOTE) {
          len = k + 1
          break
        }
      }
    } else if (x === MINUS || (x >= DIGIT0 && x <= DIGIT9)) {
      for (let k = 1; ; k++) {
        x = b[p + k]
        if (!((x >= DIGIT0 && x <= DIGIT9) || x === 0x2e || x === 0x65 || x === 0x45 || x === 0x2b || x === MINUS)) {
          len = k
          break
        }
        if (k === PACKED_BYTES) break
        if (k < 4) lo |= x << (7 * k)
        else hi |= x << (7 * (k - 4))
      }
    }
    if (len > 0) {
      const cache = plan.cache
      const slot =
        ((c << SLOT_BITS) | (Math.imul(lo ^ Math.imul(hi, 0x27d4eb2d), 0x9e3779b1) >>> (32 - SLOT_BITS))) << 2
      if (cache[slot] === this.stamp && cache[slot + 1] === lo && cache[slot + 2] === hi) {
        this.copy(c, cache[slot + 3], row)
        return p + len
      }
      const end = this.scalar(p)
      if (end !== p + len) return -1
      const v = this.decoded(c, p, end)
      if (v === undefined) return -1
      this.w.put(plan.columns[c], row, v, AT)
      cache[slot] = this.stamp
      cache[slot + 1] = lo
      cache[slot + 2] = hi
      cache[slot + 3] = row
      return end
    }
    const end = this.scalar(p)
    if (end < 0) return -1
    len = end - p
    const from = plan.lastStart[c]
    if (from >= 0 && plan.lastEnd[c] - from === len) {
      let k = 0
      while (k < len && b[p + k] === b[from + k]) k++
      if (k === len) {
        this.copy(c, plan.lastRow[c], row)
        return end
      }
    }
    const v = this.decoded(c, p, end)
    if (v === undefined) return -1
    this.w.put(plan.columns[c], row, v, AT)
    plan.lastStart[c] = p
    plan.lastEnd[c] = end
    plan.lastRow[c] = row
    return end
  }

  /** Copies column `c` of row `from` to row `to`: BatchWriter.copy, without its loop for a column of one target. */
  private copy(c: number, from: number, to: number): void {
    const w = this.w
    const at = this.plan.single[c]
    if (at >= 0) {
      const ids = w.ids[at]
      ids[to] = ids[from]
    } else if (at < -1) {
      const d = w.dense
      const nD = w.codec.nDense
      const k = -2 - at
      d[to * nD + k] = d[from * nD + k]
    } else w.copy(this.plan.columns[c], w, from, to)
  }

  /** A scratch batch at least twice as tall and over `rows`, the rows below `rows` copied (this body's cells so far). */
  private grow(rows: number): void {
    const w = this.w.codec.writer(Math.max(this.w.rows * 2, rows + 1))
    copyRows(w, this.w, Math.min(rows, this.w.rows))
    this.w = this.plan.scratch = w
  }
}

/** Rows 0..n-1 of every column of `src` into `dst` (the same codec). */
function copyRows(dst: BatchWriter, src: BatchWriter, n: number): void {
  for (let k = 0; k < src.ids.length; k++) dst.ids[k].set(src.ids[k].subarray(0, n))
  dst.dense.set(src.dense.subarray(0, n * src.codec.nDense))
  for (const name of Object.keys(src.lists)) {
    const from = src.lists[name]
    const to = dst.lists[name]
    for (let i = 0; i < n; i++) to[i] = from[i]
  }
}

/** Copies column `c` of row `from` to rows from+1..to-1 (BatchWriter.copy, a range at a time). */
function fillRows(w: BatchWriter, c: ColumnPlan, from: number, to: number): void {
  const nD = w.codec.nDense
  for (const t of c.targets) {
    if (t.kind === 'sparse' || t.kind === 'bucket') {
      const ids = w.ids[t.slot]
      ids.fill(ids[from], from + 1, to)
    } else if (t.kind === 'dense') {
      const x = w.dense[from * nD + t.index]
      for (let r = from + 1; r < to; r++) w.dense[r * nD + t.index] = x
    } else {
      const lists = w.lists[t.name]
      lists.fill(lists[from], from + 1, to)
    }
  }
}

/** Whether a byte may follow a number or null: JSON whitespace, a comma or a closing bracket. */
function ends(x: number): boolean {
  return x === COMMA || x === RBRACKET || x === RBRACE || x === 0x20 || x === 0x0a || x === 0x0d || x === 0x09
}

/** The position of the first byte at or after `p` that is not JSON whitespace. */
function ws(b: Buffer, p: number): number {
  let x = b[p]
  while (x === 0x20 || x === 0x0a || x === 0x0d || x === 0x09) x = b[++p]
  return p
}

/** Whether `b` holds `word` at `p`. */
function same(b: Buffer, p: number, word: Uint8Array): boolean {
  for (let k = 0; k < word.length; k++) if (b[p + k] !== word[k]) return false
  return true
}
