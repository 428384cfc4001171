/**
 * predict --keep: the named input columns are copied into the output, row by row beside the predictions of
 * the same input row, also when the run's filter leaves rows out; an unknown column is named with the file's.
 */
import assert from 'node:assert/strict'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { before, describe, it } from 'node:test'
import { connect, queryObjects, sqlString } from '../../src/data/duck.js'
import { paperKeeps, writeKuaiRandLog } from '../helpers/kuairand-log.js'
import { cli, predict, tempDir, tinyConfig } from './tiny.js'

/** A CSV without quoted cells (what these tests write) as a header and rows of cells. */
function readCsv(file: string): { header: string[]; rows: string[][] } {
  const [head, ...lines] = readFileSync(file, 'utf8').trimEnd().split('\n')
  return { header: head.split(','), rows: lines.map((l) => l.split(',')) }
}

/** The values of `column` in output row order. */
const columnOf = (csv: { header: string[]; rows: string[][] }, column: string) => {
  const j = csv.header.indexOf(column)
  assert.ok(j >= 0, `no column ${column} in ${csv.header.join(',')}`)
  return csv.rows.map((r) => r[j])
}

describe('predict --keep on a run without a filter', () => {
  const run = join(tempDir(), 'run')
  let testFile = ''

  before(async () => {
    const r = await cli('train', '--config', tinyConfig(), '--out', run)
    assert.equal(r.code, 0, r.stderr)
    testFile = JSON.parse(readFileSync(join(run, 'run.json'), 'utf8')).dataset.files.test[0]
  })

  it('copies the kept columns of every input row, in input order', async () => {
    const out = join(tempDir(), 'scores.csv')
    const r = await predict(run, 'synthetic', testFile, out, '--keep', 'user_id, item_price,click')
    assert.equal(r.code, 0, r.stderr)
    const csv = readCsv(out)
    assert.deepEqual(csv.header, ['row', 'user_id', 'item_price', 'click', 'p_click', 'p_purchase', 'fused'])
    const input = await queryObjects(
      await connect(),
      `SELECT CAST(user_id AS VARCHAR) AS u, CAST(item_price AS VARCHAR) AS p, CAST(click AS VARCHAR) AS c FROM read_parquet(${sqlString(testFile)})`,
    )
    assert.equal(csv.rows.length, input.length)
    assert.deepEqual(
      columnOf(csv, 'user_id'),
      input.map((x) => x.u),
    )
    assert.deepEqual(
      columnOf(csv, 'item_price'),
      input.map((x) => x.p),
    )
    assert.deepEqual(
      columnOf(csv, 'click'),
      input.map((x) => x.c),
    )
  })

  it("names an unknown column and lists the file's columns", async () => {
    const r = await predict(run, 'synthetic', testFile, join(tempDir(), 'x.csv'), '--keep', 'user_id,userid')
    assert.notEqual(r.code, 0)
    assert.match(
      r.stderr,
      /--keep: .*test\.parquet has no column "userid" \(columns: user_id, item_id, item_category, .*click/,
    )
  })

  it('refuses a kept column that has the name of an output column', async () => {
    const r = await predict(run, 'synthetic', testFile, join(tempDir(), 'x.csv'), '--keep', 'p_click')
    assert.notEqual(r.code, 0)
    assert.match(r.stderr, /--keep: column "p_click" has the name of an output column/)
  })
})

describe('predict --keep on a run whose filter leaves rows out (the KuaiRand preset)', () => {
  const root = tempDir()
  const dir = join(root, 'kuairand')
  const run = join(root, 'run')
  const testFile = join(dir, 'log_test.csv')
  const keptFile = join(root, 'kept', 'log_test.csv') // the rows of testFile the filter keeps, and only them
  const inputLines = () => readFileSync(testFile, 'utf8').trimEnd().split('\n')

  before(async () => {
    mkdirSync(dir)
    writeKuaiRandLog(join(dir, 'log_train.csv'), 300, 11)
    writeKuaiRandLog(join(dir, 'log_val.csv'), 100, 12)
    const rows = writeKuaiRandLog(testFile, 120, 13)
    const [header, ...lines] = inputLines()
    mkdirSync(dirname(keptFile))
    writeFileSync(keptFile, [header, ...lines.filter((_, i) => paperKeeps(rows[i]))].join('\n') + '\n')
    const configs = fileURLToPath(new URL('../../configs/', import.meta.url))
    const yaml = readFileSync(join(configs, 'kuairand.yaml'), 'utf8')
      .replace('dir: ../data/kuairand-pure', `dir: ${dir}`)
      .replace('schema: datasets/kuairand.yaml', `schema: ${join(configs, 'datasets', 'kuairand.yaml')}`)
      .replace('towers: [128, 64]      #', 'towers: [8]      #')
      .replace(/^epochs: 10$/m, 'epochs: 1')
    const config = join(root, 'kuairand.yaml')
    writeFileSync(config, yaml)
    const r = await cli('train', '--config', config, '--out', run)
    assert.equal(r.code, 0, r.stderr)
  })

  it('keeps the columns of the rows the filter keeps, beside the same predictions as without those rows', async () => {
    const keep = ['time_ms', 'user_id', 'play_time_ms', 'tab']
    const out = join(root, 'scores.csv')
    const r = await predict(run, 'kuairand', testFile, out, '--keep', keep.join(','))
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stderr, /more left out by the run's filter/)
    const csv = readCsv(out)

    // every output row carries the cells of one input row (time_ms is unique), and they are the filter's rows in order
    const [header, ...lines] = inputLines()
    const names = header.split(',')
    const byTime = new Map(lines.map((l) => [l.split(',')[names.indexOf('time_ms')], l.split(',')]))
    for (const row of csv.rows) {
      const source = byTime.get(row[1])
      assert.ok(source, `time_ms ${row[1]} is in the input`)
      assert.deepEqual(
        row.slice(1, 1 + keep.length),
        keep.map((c) => source[names.indexOf(c)]),
      )
    }
    const keptLines = readFileSync(keptFile, 'utf8').trimEnd().split('\n').slice(1)
    assert.ok(keptLines.length < lines.length, 'the filter leaves rows out')
    assert.deepEqual(
      columnOf(csv, 'time_ms'),
      keptLines.map((l) => l.split(',')[names.indexOf('time_ms')]),
    )

    // alignment: the predictions beside each row are those of that row scored alone with the other kept rows
    const alone = join(root, 'alone.csv')
    const a = await predict(run, 'kuairand', keptFile, alone, '--keep', keep.join(','))
    assert.equal(a.code, 0, a.stderr)
    assert.deepEqual(readCsv(alone), csv)
  })
})
