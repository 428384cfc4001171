import { after, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { run } from '../../src/cli/commands/data-stats.js'

const root = mkdtempSync(join(tmpdir(), 'resflow-data-stats-'))
after(() => rmSync(root, { recursive: true, force: true }))

async function captured(argv: string[]): Promise<string> {
  const lines: string[] = []
  const log = console.log
  console.log = (...args: unknown[]) => {
    lines.push(args.join(' '))
  }
  try {
    assert.equal(await run(argv), 0)
  } finally {
    console.log = log
  }
  return lines.join('\n')
}

describe('resflow data stats', () => {
  it('reports every split of a kuairand folder, counting funnel violations instead of dropping them', async () => {
    const header = 'user_id,video_id,date,hourmin,time_ms,is_click,is_like,play_time_ms,duration_ms,tab'
    // train: 4 rows, one autoplayed 12 s watch without a click (a violation); test: 2 rows
    writeFileSync(
      join(root, 'log_train.csv'),
      [
        header,
        '1,10,1,1,1,1,0,30000,60000,0',
        '1,11,1,1,2,0,0,0,60000,0',
        '2,10,1,1,3,0,0,12000,60000,1',
        '2,12,1,1,4,1,0,3000,60000,1',
      ].join('\n') + '\n',
    )
    writeFileSync(
      join(root, 'log_test.csv'),
      [header, '1,10,2,1,5,1,0,61000,60000,0', '3,11,2,1,6,0,0,0,60000,2'].join('\n') + '\n',
    )
    const stats = JSON.parse(await captured(['--dataset', 'kuairand', '--path', root, '--json']))
    assert.deepEqual(Object.keys(stats.splits), ['train', 'test']) // no val file: the test file is listed as test, never as val
    assert.equal(stats.splits.train.rows, 4)
    assert.equal(stats.splits.train.funnelViolations, 1)
    assert.equal(stats.splits.train.labelRates.click, 0.5)
    assert.equal(stats.splits.train.labelRates.watch_10s, 0.5)
    assert.equal(stats.splits.test.rows, 2)
    assert.equal(stats.splits.test.labelRates.watch_60s, 0.5)
    assert.equal(stats.rows, 4) // train figures stay at the top level
    assert.equal(stats.vocabularySizes.user_id, 3)
    const text = await captured(['--dataset', 'kuairand', '--path', root])
    assert.match(text, /^train: 4 rows/m)
    assert.match(text, /^test: 2 rows/m)
    assert.doesNotMatch(text, /^val:/m)
  })

  it("counts the rows an options file's filter leaves out, per split", async () => {
    const dir = join(root, 'filtered')
    mkdirSync(dir)
    const header = 'user_id,video_id,is_click,play_time_ms,tab'
    writeFileSync(
      join(dir, 'log_train.csv'),
      [header, '1,10,1,30000,1', '1,11,0,0,1', '2,10,1,12000,0', '2,12,1,3000,'].join('\n') + '\n',
    )
    writeFileSync(
      join(dir, 'log_test.csv'),
      [header, '1,10,1,61000,1', '3,11,0,0,2', '3,12,1,9000,1'].join('\n') + '\n',
    )
    const options = join(root, 'options.yaml')
    writeFileSync(options, 'filter:\n  - { column: play_time_ms, greaterThan: 0 }\n  - { column: tab, oneOf: [1] }\n')
    const stats = JSON.parse(await captured(['--dataset', 'kuairand', '--path', dir, '--schema', options, '--json']))
    assert.equal(stats.splits.train.rows, 1)
    assert.equal(stats.splits.train.filtered, 3) // no play, tab 0, tab missing
    assert.equal(stats.splits.test.rows, 2)
    assert.equal(stats.splits.test.filtered, 1)
    const text = await captured(['--dataset', 'kuairand', '--path', dir, '--schema', options])
    assert.match(text, /^train: 1 rows \(3 more left out by the filter: play_time_ms > 0, tab in \[1\]\)/m)
  })

  it('names the file and line of a short row in any split', async () => {
    const dir = join(root, 'short')
    mkdirSync(dir)
    writeFileSync(join(dir, 'a_train.csv'), 'user,price,click\nu1,1,0\nu2,2,1\n')
    writeFileSync(join(dir, 'a_val.csv'), 'user,price,click\nu1,1,0\nu2,2\n')
    writeFileSync(
      join(dir, 'schema.yaml'),
      'sparse: [{ name: user }]\ndense: [{ name: price }]\ntasks: [{ name: click }]\n',
    )
    await assert.rejects(
      run(['--dataset', 'csv', '--path', dir, '--schema', join(dir, 'schema.yaml')]),
      /a_val\.csv:3: expected 3 fields, got 2/,
    )
  })
})
