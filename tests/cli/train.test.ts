import assert from 'node:assert/strict'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { cli, predict, tempDir, tinyConfig } from './tiny.js'

describe('resflow train / eval / predict', () => {
  const config = tinyConfig()
  const run = join(tempDir(), 'run')

  it('train writes a run directory that eval, predict, export and serve can read', async () => {
    const r = await cli('train', '--config', config, '--out', run)
    assert.equal(r.code, 0, r.stderr)
    for (const f of ['run.json', 'preprocessing.json', 'weights.bin', 'checkpoint.bin', 'log.jsonl'])
      assert.ok(existsSync(join(run, f)), f)
    const manifest = JSON.parse(readFileSync(join(run, 'run.json'), 'utf8'))
    assert.equal(manifest.model, 'resflow')
    assert.deepEqual(manifest.tasks, ['click', 'purchase'])
    assert.equal(manifest.fusion.kind, 'additive')
    assert.equal(readFileSync(join(run, 'log.jsonl'), 'utf8').trim().split('\n').length, 2)
    assert.match(r.stdout, /best epoch \d of 2: val AUC click 0\.\d{4}, purchase 0\.\d{4}/)
    assert.match(r.stderr, /epoch 2\/2 +train loss/)
  })

  it('eval --json prints flat {model, seed, split, task, metric, value} records, the shape of results.json', async () => {
    const data = JSON.parse(readFileSync(join(run, 'run.json'), 'utf8')).dataset
    const r = await cli('eval', '--run', run, '--dataset', 'synthetic', '--path', data.files.test[0], '--json')
    assert.equal(r.code, 0, r.stderr)
    const records = JSON.parse(r.stdout) as Record<string, unknown>[]
    for (const rec of records) {
      assert.deepEqual(Object.keys(rec), ['model', 'seed', 'split', 'task', 'metric', 'value'])
      assert.equal(rec.model, 'resflow')
      assert.equal(rec.seed, 1)
      assert.equal(rec.split, 'test')
      assert.equal(typeof rec.value, 'number')
    }
    const keys = new Set(records.map((rec) => `${rec.task}/${rec.metric}`))
    for (const k of [
      'click/auc',
      'purchase/auc',
      'click/gauc',
      'click/logloss',
      'click/calibration',
      'purchase/funnel_violation',
      'fused/auc',
    ])
      assert.ok(keys.has(k), k)
  })

  it('predict writes one CSV line per row with each task probability and the fused score', async () => {
    const data = JSON.parse(readFileSync(join(run, 'run.json'), 'utf8')).dataset
    const out = join(tempDir(), 'scores.csv')
    const r = await predict(run, 'synthetic', data.files.test[0], out)
    assert.equal(r.code, 0, r.stderr)
    const lines = readFileSync(out, 'utf8').trim().split('\n')
    assert.equal(lines[0], 'row,p_click,p_purchase,fused')
    const rows = Number(/predict: (\d+) rows/.exec(r.stderr)?.[1])
    assert.equal(lines.length, rows + 1)
    const [, pc, pp] = lines[1].split(',').map(Number)
    assert.ok(pc > 0 && pc < 1 && pp > 0 && pp < 1)
  })

  it('refuses to train over an existing run without --resume, and --resume of a finished run changes nothing', async () => {
    const again = await cli('train', '--config', config, '--out', run)
    assert.equal(again.code, 1)
    assert.match(again.stderr, /already holds a run \(hint: add --resume/)
    const before = readFileSync(join(run, 'weights.bin'))
    const resumed = await cli('train', '--config', config, '--out', run, '--resume')
    assert.equal(resumed.code, 0, resumed.stderr)
    assert.match(resumed.stderr, /resumed from .*checkpoint\.bin at the end of epoch 2/)
    assert.deepEqual(readFileSync(join(run, 'weights.bin')), before)
  })

  it("eval names the run's dataset when another is given", async () => {
    const r = await cli('eval', '--run', run, '--dataset', 'census', '--path', 'x.csv')
    assert.equal(r.code, 1)
    assert.match(r.stderr, /--dataset: the run was trained on dataset "synthetic", got "census"/)
  })
})
