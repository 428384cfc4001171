/**
 * A data folder without a validation file: training never picks its epochs and fusion weights on the test
 * file. It refuses and says how to proceed, or, with data.splitVal, splits the test file's rows in two and
 * says so.
 */
import assert from 'node:assert/strict'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { Rng } from '../helpers/rng.js'
import { cli, tempDir } from './tiny.js'

function writeSplit(file: string, rows: number, seed: number): void {
  const rng = new Rng(seed)
  const lines = ['user,price,click']
  for (let i = 0; i < rows; i++) {
    const user = rng.int(20)
    lines.push(`u${user},${(rng.next() * 10).toFixed(3)},${rng.next() < 0.2 + user / 40 ? 1 : 0}`)
  }
  writeFileSync(file, lines.join('\n') + '\n')
}

function experiment(dir: string, extra = ''): string {
  writeFileSync(
    join(dir, 'schema.yaml'),
    'sparse: [{ name: user }]\ndense: [{ name: price }]\ntasks: [{ name: click }]\n',
  )
  const file = join(dir, 'experiment.yaml')
  writeFileSync(
    file,
    `name: no-val\ndata: { dataset: csv, dir: ${dir}, schema: schema.yaml${extra} }\nmodel: { model: resflow, embeddingDim: 4, towers: [8] }\nepochs: 1\nbatchSize: 64\n`,
  )
  return file
}

describe('resflow train on a folder without a validation file', () => {
  const dir = tempDir()
  writeSplit(join(dir, 'part_train.csv'), 300, 1)
  writeSplit(join(dir, 'part_test.csv'), 200, 2)

  it('refuses to validate on the test file, saying what it found and how to go on', async () => {
    const out = join(tempDir(), 'run')
    const r = await cli('train', '--config', experiment(dir), '--out', out)
    assert.equal(r.code, 1, r.stdout)
    assert.match(r.stderr, /data\.dir: .* has no validation file \(found: train part_train\.csv; test part_test\.csv\)/)
    assert.match(r.stderr, /early stopping and fusion weights would be chosen on the test file/)
    assert.match(
      r.stderr,
      /add a file whose name contains "val", set data\.splitVal to split the test file's rows into validation and test, or give data\.train, data\.val and data\.test/,
    )
    assert.ok(!existsSync(join(out, 'weights.bin')))
  })

  it('with data.splitVal, validates on part of the test file, reports on the rest and says so', async () => {
    const out = join(tempDir(), 'run')
    const r = await cli('train', '--config', experiment(dir, ', splitVal: { seed: 3, valFraction: 0.5 }'), '--out', out)
    assert.equal(r.code, 0, r.stderr)
    assert.match(
      r.stdout + r.stderr,
      /no validation file: data\.splitVal splits the rows of part_test\.csv: about 50% validation \(early stopping, fusion\), the rest test/,
    )
    const data = JSON.parse(readFileSync(join(out, 'run.json'), 'utf8')).dataset
    assert.deepEqual(data.files, {
      train: [join(dir, 'part_train.csv')],
      val: [join(dir, 'part_test.csv')],
      test: null,
    })
    assert.deepEqual(data.splitVal, { seed: 3, valFraction: 0.5 })
  })
})
