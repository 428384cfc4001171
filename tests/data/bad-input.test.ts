/**
 * Bad input files: every failure names the file, the line (CSV) or row (Parquet) and, for a bad cell, the
 * column and the value; a broken file (short row, truncated gzip, random bytes, empty) says what is wrong with it.
 */
import { after, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { DataError } from '../../src/errors.js'
import { connect, sqlString } from '../../src/data/duck.js'
import { aliexpressSchema } from '../../src/data/adapters.js'
import { encodeDataset } from '../../src/data/encode.js'
import { fitPreprocessing } from '../../src/data/preprocessing.js'
import { openDataset } from '../../src/data/adapters.js'
import { parseDatasetSchema } from '../../src/data/schema.js'
import { Rng } from '../helpers/rng.js'

const root = mkdtempSync(join(tmpdir(), 'resflow-bad-input-'))
after(() => rmSync(root, { recursive: true, force: true }))

/** An AliExpress-layout CSV (82 columns: search_id, categorical_1..16, numerical_1..63, click, conversion). */
function aliexpressLines(rows: number, seed: number): string[] {
  const rng = new Rng(seed)
  const header = [
    'search_id',
    ...Array.from({ length: 16 }, (_, i) => `categorical_${i + 1}`),
    ...Array.from({ length: 63 }, (_, i) => `numerical_${i + 1}`),
    'click',
    'conversion',
  ]
  const lines = [header.join(',')]
  for (let r = 0; r < rows; r++) {
    const click = rng.next() < 0.5 ? 1 : 0
    const cells = [
      String(r >> 2),
      ...Array.from({ length: 16 }, () => String(rng.int(5))),
      ...Array.from({ length: 63 }, () => rng.next().toFixed(4)),
      String(click),
      String(click && rng.next() < 0.3 ? 1 : 0),
    ]
    lines.push(cells.join(','))
  }
  return lines
}

function write(dir: string, name: string, content: string | Uint8Array): string {
  mkdirSync(dir, { recursive: true })
  const f = join(dir, name)
  writeFileSync(f, content)
  return f
}

const aliexpress = parseDatasetSchema(aliexpressSchema(), 'aliexpress')

describe('broken CSV files', () => {
  it('names the file and line of a short row: expected 82 fields, got 40', async () => {
    const lines = aliexpressLines(30, 1)
    lines[11] = lines[11].split(',').slice(0, 40).join(',')
    const dir = join(root, 'short')
    const train = write(dir, 'x_train.csv', lines.join('\n') + '\n')
    await assert.rejects(fitPreprocessing(aliexpress, [train]), (err: unknown) => {
      assert.ok(err instanceof DataError, String(err))
      assert.match(err.message, /x_train\.csv:12: expected 82 fields, got 40/)
      assert.equal(err.line, 12)
      return true
    })
    // the same through the adapter, and in a validation file encoded with a fitted preprocessing
    write(dir, 'x_val.csv', aliexpressLines(10, 2).join('\n') + '\n')
    await assert.rejects(
      openDataset({ dataset: 'aliexpress', path: dir }),
      /x_train\.csv:12: expected 82 fields, got 40/,
    )
    const good = write(join(root, 'short-good'), 'train.csv', aliexpressLines(30, 3).join('\n') + '\n')
    const prep = await fitPreprocessing(aliexpress, [good])
    const long = aliexpressLines(10, 4)
    long[7] += ',1,2'
    const val = write(dir, 'long.csv', long.join('\n') + '\n')
    await assert.rejects(encodeDataset(prep, [val]), /long\.csv:8: expected 82 fields, got 84/)
  })

  it('says a truncated gzip file is truncated, naming it', async () => {
    const whole = gzipSync(Buffer.from(aliexpressLines(400, 5).join('\n') + '\n'))
    const train = write(join(root, 'gz'), 'x_train.csv.gz', whole.subarray(0, Math.floor(whole.length / 2)))
    await assert.rejects(
      fitPreprocessing(aliexpress, [train]),
      /x_train\.csv\.gz: truncated gzip file: the compressed data ends after line \d+/,
    )
  })

  it('names the line where a gzip file with a flipped byte stops making sense', async () => {
    const whole = Buffer.from(gzipSync(Buffer.from(aliexpressLines(400, 6).join('\n') + '\n')))
    whole[whole.length >> 1] ^= 0xff
    const train = write(join(root, 'gz-flip'), 'x_train.csv.gz', whole)
    await assert.rejects(
      fitPreprocessing(aliexpress, [train]),
      /x_train\.csv\.gz(:\d+: expected 82 fields, got \d+|:\d+: not text|: corrupt gzip data after line \d+)/,
    )
  })

  it('rejects random bytes as not a text CSV file instead of guessing a dialect', async () => {
    const rng = new Rng(7)
    const bytes = Uint8Array.from({ length: 5000 }, () => rng.int(256))
    const train = write(join(root, 'random'), 'x_train.csv', bytes)
    await assert.rejects(fitPreprocessing(aliexpress, [train]), /x_train\.csv:1: not a text CSV file/)
  })

  it('says an empty file is empty (plain and gzip), not that a column is missing', async () => {
    const empty = write(join(root, 'empty'), 'x_train.csv', '')
    await assert.rejects(fitPreprocessing(aliexpress, [empty]), /x_train\.csv: empty file/)
    const emptyGz = write(join(root, 'empty'), 'x_val.csv.gz', gzipSync(Buffer.alloc(0)))
    const good = write(join(root, 'empty-good'), 'train.csv', aliexpressLines(20, 8).join('\n') + '\n')
    const prep = await fitPreprocessing(aliexpress, [good])
    await assert.rejects(encodeDataset(prep, [emptyGz]), /x_val\.csv\.gz: empty file/)
  })

  it('names the file whose header differs from the first file of a split', async () => {
    const dir = join(root, 'headers')
    const a = write(dir, 'a.csv', 'user,price,click\nu1,1,0\nu2,2,1\n')
    const b = write(dir, 'b.csv', 'price,user,click\n3,u3,0\n')
    const schema = parseDatasetSchema(
      { format: 'csv', sparse: [{ name: 'user' }], dense: [{ name: 'price' }], tasks: [{ name: 'click' }] },
      'test schema',
    )
    await assert.rejects(
      fitPreprocessing(schema, [a, b]),
      /b\.csv:1: header differs from a\.csv: field 1 is "price", expected "user"/,
    )
  })
})

describe('broken Parquet files', () => {
  it('says a Parquet file is empty or truncated, naming it', async () => {
    const conn = await connect()
    const good = join(root, 'good.parquet')
    await conn.run(
      `COPY (SELECT 'u' || (i % 10) AS user, (i % 2)::INTEGER AS click FROM range(1000) t(i)) TO ${sqlString(good)} (FORMAT parquet)`,
    )
    conn.closeSync()
    const schema = parseDatasetSchema(
      { format: 'parquet', sparse: [{ name: 'user' }], tasks: [{ name: 'click' }] },
      'test schema',
    )
    const bytes = readFileSync(good)
    const truncated = write(join(root, 'parquet'), 'truncated.parquet', bytes.subarray(0, bytes.length >> 1))
    await assert.rejects(
      fitPreprocessing(schema, [truncated]),
      /truncated\.parquet: truncated Parquet file: it does not end with the bytes PAR1/,
    )
    const empty = write(join(root, 'parquet'), 'empty.parquet', '')
    await assert.rejects(
      fitPreprocessing(schema, [empty]),
      /empty\.parquet: empty file \(0 bytes\); expected a Parquet file/,
    )
  })
})

describe('non-finite numbers', () => {
  const schema = parseDatasetSchema(
    { format: 'csv', sparse: [{ name: 'user' }], dense: [{ name: 'price' }], tasks: [{ name: 'click' }] },
    'test schema',
  )
  const header = 'user,price,click'
  const dir = join(root, 'finite')

  for (const bad of ['inf', 'NaN', '1e400', '-Infinity']) {
    it(`fitting names file, line and column of ${bad}`, async () => {
      const train = write(
        dir,
        `train-${bad}.csv`,
        [header, 'u1,1,0', 'u2,2,1', `u3,${bad},0`, 'u4,4,1'].join('\n') + '\n',
      )
      await assert.rejects(
        fitPreprocessing(schema, [train]),
        new RegExp(`train-${bad}\\.csv:4: column "price": expected a finite number, got "${bad}"`),
      )
    })
  }

  it('encoding (val, eval, predict) names file, line and column, with or without a fill value', async () => {
    const train = write(dir, 'train.csv', [header, 'u1,1,0', 'u2,2,1', 'u3,3,0'].join('\n') + '\n')
    for (const fill of [undefined, 0]) {
      const s = parseDatasetSchema(
        { ...schema, dense: [{ name: 'price', ...(fill === undefined ? {} : { fillMissing: fill }) }] },
        'test schema',
      )
      const prep = await fitPreprocessing(s, [train])
      for (const bad of ['nan', 'inf', '1e400']) {
        const val = write(dir, `val-${bad}.csv`, [header, 'u1,1,0', `u2,${bad},1`, 'u3,3,0'].join('\n') + '\n')
        await assert.rejects(
          encodeDataset(prep, [val]),
          new RegExp(`val-${bad}\\.csv:3: column "price": expected a finite number, got "${bad}"`),
          `fill ${fill}, ${bad}`,
        )
      }
    }
  })

  it('names the row of a NaN in a Parquet DOUBLE column', async () => {
    const conn = await connect()
    const file = join(dir, 'nan.parquet')
    await conn.run(
      `COPY (SELECT * FROM (VALUES ('u1', 1.0::DOUBLE, 0), ('u2', 'NaN'::DOUBLE, 1)) t(user, price, click)) TO ${sqlString(file)} (FORMAT parquet)`,
    )
    conn.closeSync()
    const s = parseDatasetSchema({ ...schema, format: 'parquet' }, 'test schema')
    await assert.rejects(
      fitPreprocessing(s, [file]),
      /nan\.parquet: row 2: column "price": expected a finite number, got "nan"/,
    )
  })
})

describe('Parquet labels', () => {
  it('names file, row and column of a label 2 in an integer column', async () => {
    const conn = await connect()
    const file = join(root, 'labels.parquet')
    await conn.run(
      `COPY (SELECT * FROM (VALUES ('u1', 0::BIGINT), ('u2', 1::BIGINT), ('u3', 2::BIGINT)) t(user, click)) TO ${sqlString(file)} (FORMAT parquet)`,
    )
    conn.closeSync()
    const schema = parseDatasetSchema(
      { format: 'parquet', sparse: [{ name: 'user' }], tasks: [{ name: 'click' }] },
      'test schema',
    )
    await assert.rejects(
      fitPreprocessing(schema, [file]).then((p) => encodeDataset(p, [file])),
      (err: unknown) => {
        assert.ok(err instanceof DataError, String(err))
        assert.match(err.message, /labels\.parquet: row 3: column "click": label must be 0 or 1, got "2"/)
        return true
      },
    )
  })
})
