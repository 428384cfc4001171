import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { existsSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { cli, tempDir } from './tiny.js'

describe('resflow datagen', () => {
  it('--split sets the train/val/test fractions of the rows', async () => {
    const out = join(tempDir(), 'data')
    const r = await cli('datagen', '--out', out, '--rows', '20000', '--seed', '3', '--split', '0.5,0.25,0.25')
    assert.equal(r.code, 0, r.stderr)
    const counts = /train\.parquet \((\d+)\), .*val\.parquet \((\d+)\), .*test\.parquet \((\d+)\)/.exec(r.stdout)
    assert.ok(counts, r.stdout)
    const [train, val, test] = counts.slice(1).map(Number) as [number, number, number]
    assert.equal(train + val + test, 20000)
    // each row draws its split: 10000 ± 3·71 train rows, 5000 ± 3·61 each of val and test
    assert.ok(
      Math.abs(train - 10000) < 213 && Math.abs(val - 5000) < 184 && Math.abs(test - 5000) < 184,
      `${train} / ${val} / ${test}`,
    )
  })

  it('a bad --split names the flag and what it expects', async () => {
    const r = await cli('datagen', '--out', join(tempDir(), 'data'), '--rows', '1000', '--split', '0.5,0.5')
    assert.notEqual(r.code, 0)
    assert.match(r.stderr, /--split: expected three positive train,val,test fractions adding up to 1, got "0\.5,0\.5"/)
  })

  it('refuses repeated or clashing task names before writing anything', async () => {
    for (const [tasks, why] of [
      ['click,click', /--tasks: "click" is given twice; task names must be unique/],
      ['click,user_id', /--tasks: "user_id" is the name of a generated feature column/],
      ['click,p_click', /--tasks: "p_click" is the column of the true probability of task "click"/],
      ['click,buy now', /--tasks: "buy now" is not a column name \(letters, digits and _, not starting with a digit\)/],
    ] as const) {
      const out = join(tempDir(), 'data')
      const r = await cli('datagen', '--out', out, '--rows', '200', '--tasks', tasks)
      assert.equal(r.code, 1, tasks)
      assert.match(r.stderr, why)
      assert.ok(
        !existsSync(out) || readdirSync(out).length === 0,
        `${tasks}: left ${existsSync(out) ? readdirSync(out).join(', ') : ''}`,
      )
    }
  })
})
