import assert from 'node:assert/strict'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { before, describe, it } from 'node:test'
import { chromium } from 'playwright-core'
import { type ReportData, buildCharts } from '../../src/report/index.js'
import { cli, tempDir, tinyConfig } from './tiny.js'

const CHROMIUM = '/usr/bin/chromium'
const noChromium = existsSync(CHROMIUM) ? false : `${CHROMIUM} not found (install Debian's chromium: apt-get install -y chromium)`

describe('resflow compare', () => {
  const out = tempDir()
  let r: Awaited<ReturnType<typeof cli>>
  before(async () => {
    r = await cli('compare', '--config', tinyConfig(), '--models', 'resflow,shared-bottom', '--seeds', '2', '--out', out, '--quiet')
  })

  it('trains models × seeds on the same splits and writes results.json, results.md and report.html', () => {
    assert.equal(r.code, 0, r.stderr)

    const records = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as { model: string; seed: number; split: string; task: string; metric: string; value: number }[]
    for (const rec of records) assert.deepEqual(Object.keys(rec), ['model', 'seed', 'split', 'task', 'metric', 'value'])
    const runs = new Set(records.map((x) => `${x.model}/${x.seed}`))
    assert.deepEqual([...runs].sort(), ['bayes (true p)/1', 'resflow/1', 'resflow/2', 'shared-bottom/1', 'shared-bottom/2'])
    // the generator's true probabilities: the ceiling, scored on the same rows, above every trained model
    const auc = (model: string, task: string) => records.filter((x) => x.model === model && x.split === 'test' && x.task === task && x.metric === 'auc').map((x) => x.value)
    for (const task of ['click', 'purchase']) {
      const [bayes] = auc('bayes (true p)', task)
      assert.ok(bayes! > 0.5 && [...auc('resflow', task), ...auc('shared-bottom', task)].every((v) => v < bayes!), `${task}: Bayes AUC ${bayes} above the models'`)
    }
    for (const split of ['val', 'test']) {
      for (const task of ['click', 'purchase', 'fused']) assert.ok(records.some((x) => x.split === split && x.task === task && x.metric === 'auc'), `${split} ${task} auc`)
    }
    const md = readFileSync(join(out, 'results.md'), 'utf8')
    assert.match(md, /\| task \| metric \| resflow \| shared-bottom \| bayes \(true p\) \|/)
    assert.match(md, /\| click \| auc \| \**0\.\d{4} ± 0\.\d{4}/)

    const html = readFileSync(join(out, 'report.html'), 'utf8')
    assert.match(html, /^<!doctype html>/)
    assert.doesNotMatch(html, /<script[^>]+src=|<link[^>]+href="http/, 'self-contained: no external scripts or styles')
    for (const section of ['Loss per epoch', 'Validation AUC per epoch', 'ROC curves', 'Calibration', 'Fusion-weight sweep']) assert.ok(html.includes(section), section)

    assert.match(r.stdout, /test split \(mean ± std over seeds; \* best\)/)
    assert.match(r.stdout, new RegExp(`report → ${out.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/report\\.html`))
  })

  it('writes a report that opens in headless Chromium without errors and draws every chart', { skip: noChromium, timeout: 60_000 }, async () => {
    const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as ReportData
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'] })
    try {
      const page = await browser.newPage()
      const problems: string[] = []
      page.on('console', (msg) => { if (msg.type() === 'error' || msg.type() === 'warning') problems.push(`console.${msg.type()}: ${msg.text()}`) })
      page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`))
      await page.goto(pathToFileURL(join(out, 'report.html')).href)
      await page.waitForSelector('body[data-charts-drawn]', { timeout: 15_000 })
      assert.deepEqual(problems, [])
      assert.equal(await page.evaluate('Number(document.body.dataset.chartsDrawn)'), buildCharts(report).length)
      assert.ok(buildCharts(report).some((c) => c.section === 'roc') && buildCharts(report).some((c) => c.section === 'fusion'))
    } finally {
      await browser.close()
    }
  })
})
