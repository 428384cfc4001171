import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { cli, tempDir, tinyConfig } from './tiny.js'

describe('resflow compare', () => {
  it('trains models × seeds on the same splits and writes results.json, results.md and report.html', async () => {
    const out = tempDir()
    const r = await cli('compare', '--config', tinyConfig(), '--models', 'resflow,shared-bottom', '--seeds', '2', '--out', out, '--quiet')
    assert.equal(r.code, 0, r.stderr)

    const records = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as { model: string; seed: number; split: string; task: string; metric: string; value: number }[]
    for (const rec of records) assert.deepEqual(Object.keys(rec), ['model', 'seed', 'split', 'task', 'metric', 'value'])
    const runs = new Set(records.map((x) => `${x.model}/${x.seed}`))
    assert.deepEqual([...runs].sort(), ['resflow/1', 'resflow/2', 'shared-bottom/1', 'shared-bottom/2'])
    for (const split of ['val', 'test']) {
      for (const task of ['click', 'purchase', 'fused']) assert.ok(records.some((x) => x.split === split && x.task === task && x.metric === 'auc'), `${split} ${task} auc`)
    }
    const md = readFileSync(join(out, 'results.md'), 'utf8')
    assert.match(md, /\| task \| metric \| resflow \| shared-bottom \|/)
    assert.match(md, /\| click \| auc \| \**0\.\d{4} ± 0\.\d{4}/)

    const html = readFileSync(join(out, 'report.html'), 'utf8')
    assert.match(html, /^<!doctype html>/)
    assert.doesNotMatch(html, /<script[^>]+src=|<link[^>]+href="http/, 'self-contained: no external scripts or styles')
    for (const section of ['Loss per epoch', 'Validation AUC per epoch', 'ROC curves', 'Calibration', 'Fusion-weight sweep']) assert.ok(html.includes(section), section)

    assert.match(r.stdout, /test split \(mean ± std over seeds; \* best\)/)
    assert.match(r.stdout, new RegExp(`report → ${out.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/report\\.html`))
  })
})
