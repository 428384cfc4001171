import assert from 'node:assert/strict'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { before, describe, it } from 'node:test'
import { chromium } from 'playwright-core'
import { formatComparison } from '../../src/cli/commands/compare.js'
import type { MetricRecord } from '../../src/metrics/types.js'
import { BAYES_MODEL } from '../../src/report/summary.js'
import type { ReportData } from '../../src/report/types.js'
import { buildCharts } from '../../src/report/charts.js'
import { recordMaker } from '../helpers/metric-record.js'
import { cli, tempDir, tinyConfig } from './tiny.js'

const CHROMIUM = '/usr/bin/chromium'
const noChromium = existsSync(CHROMIUM)
  ? false
  : `${CHROMIUM} not found (install Debian's chromium: apt-get install -y chromium)`

describe('resflow compare', () => {
  const out = tempDir()
  let r: Awaited<ReturnType<typeof cli>>
  before(async () => {
    r = await cli(
      'compare',
      '--config',
      tinyConfig(),
      '--models',
      'resflow,shared-bottom',
      '--seeds',
      '2',
      '--out',
      out,
      '--quiet',
    )
  })

  it('trains models × seeds on the same splits and writes results.json, results.md and report.html', () => {
    assert.equal(r.code, 0, r.stderr)

    const records = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as MetricRecord[]
    for (const rec of records) assert.deepEqual(Object.keys(rec), ['model', 'seed', 'split', 'task', 'metric', 'value'])
    const runs = new Set(records.map((x) => `${x.model}/${x.seed}`))
    assert.deepEqual([...runs].sort(), [
      'bayes (true p)/1',
      'resflow/1',
      'resflow/2',
      'shared-bottom/1',
      'shared-bottom/2',
    ])
    // the generator's true probabilities: the ceiling, scored on the same rows, above every trained model
    const auc = (model: string, task: string) =>
      records
        .filter((x) => x.model === model && x.split === 'test' && x.task === task && x.metric === 'auc')
        .map((x) => x.value)
    for (const task of ['click', 'purchase']) {
      const [bayes] = auc('bayes (true p)', task)
      assert.ok(
        bayes > 0.5 && [...auc('resflow', task), ...auc('shared-bottom', task)].every((v) => v < bayes),
        `${task}: Bayes AUC ${bayes} above the models'`,
      )
    }
    for (const split of ['val', 'test']) {
      for (const task of ['click', 'purchase', 'fused'])
        assert.ok(
          records.some((x) => x.split === split && x.task === task && x.metric === 'auc'),
          `${split} ${task} auc`,
        )
    }
    const md = readFileSync(join(out, 'results.md'), 'utf8')
    assert.match(md, /\| task \| metric \| resflow \| shared-bottom \| bayes \(true p\) \|/)
    assert.match(md, /\| click \| auc \| \**0\.\d{4} ± 0\.\d{4}/)
    assert.match(md, /\| all \| parameters \| \d{1,3}(,\d{3})* \| \d{1,3}(,\d{3})* \|/) // the same in every seed: no "± 0.0000"
    assert.match(md, /\| all \| rows_per_s \| \d{1,3}(,\d{3})* ± \d{1,3}(,\d{3})* \|/)
    assert.doesNotMatch(md + r.stdout, /\de-\d/, 'no exponent form')

    const html = readFileSync(join(out, 'report.html'), 'utf8')
    assert.match(html, /^<!doctype html>/)
    assert.doesNotMatch(html, /<script[^>]+src=|<link[^>]+href="http/, 'self-contained: no external scripts or styles')
    for (const section of [
      'Loss per epoch',
      'Validation AUC per epoch',
      'ROC curves',
      'Calibration',
      'Fusion-weight sweep',
    ])
      assert.ok(html.includes(section), section)

    assert.match(r.stdout, /test split \(mean ± std over seeds, a single number when every seed agrees; \* best\)/)
    assert.match(r.stdout, new RegExp(`report → ${out.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/report\\.html`))
  })

  it('writes a report that opens in headless Chromium without errors and draws every chart', {
    skip: noChromium,
    timeout: 60_000,
  }, async () => {
    const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as ReportData
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'],
    })
    try {
      const page = await browser.newPage()
      const problems: string[] = []
      page.on('console', (msg) => {
        if (msg.type() === 'error' || msg.type() === 'warning') problems.push(`console.${msg.type()}: ${msg.text()}`)
      })
      page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`))
      await page.goto(pathToFileURL(join(out, 'report.html')).href)
      await page.waitForSelector('body[data-charts-drawn]', { timeout: 15_000 })
      assert.deepEqual(problems, [])
      assert.equal(await page.evaluate('Number(document.body.dataset.chartsDrawn)'), buildCharts(report).length)
      const legends = (await page.evaluate(
        `Array.from(document.querySelectorAll('.u-legend')).map((l) => l.textContent)`,
      )) as string[]
      assert.equal(legends.length, buildCharts(report).length)
      for (const text of legends) assert.doesNotMatch(text, /--/, 'no placeholder values in a legend')
      if (process.env.RESFLOW_REPORT_SCREENSHOT)
        await page.screenshot({ path: process.env.RESFLOW_REPORT_SCREENSHOT, fullPage: true })
      assert.ok(
        buildCharts(report).some((c) => c.section === 'roc') && buildCharts(report).some((c) => c.section === 'fusion'),
      )
    } finally {
      await browser.close()
    }
  })
})

describe('formatComparison', () => {
  const rec = recordMaker('purchase')

  it('writes each row in one notation: small loglosses and their stds alike, rates with separators, no ± when seeds agree', () => {
    const records = [
      rec('resflow', 1, 'auc', 0.71),
      rec('resflow', 2, 'auc', 0.73),
      rec('mmoe', 1, 'auc', 0.7),
      rec('mmoe', 2, 'auc', 0.7),
      rec(BAYES_MODEL, 1, 'auc', 0.91),
      // resflow: mean 0.0024, std 9.79e-4 (once "0.0024 ± 9.79e-4")
      rec('resflow', 1, 'logloss', 0.0017077),
      rec('resflow', 2, 'logloss', 0.0030923),
      rec('mmoe', 1, 'logloss', 0.0031),
      rec('mmoe', 2, 'logloss', 0.0035),
      rec(BAYES_MODEL, 1, 'logloss', 0.0021),
      rec('resflow', 1, 'rows_per_s', 44000, 'train', 'all'),
      rec('resflow', 2, 'rows_per_s', 48000, 'train', 'all'),
      rec('mmoe', 1, 'rows_per_s', 39000.4, 'train', 'all'),
      rec('mmoe', 2, 'rows_per_s', 39000.4, 'train', 'all'),
      rec('resflow', 1, 'seconds', 12.5, 'train', 'all'),
      rec('resflow', 2, 'seconds', 13.5, 'train', 'all'),
      rec('mmoe', 1, 'seconds', 14, 'train', 'all'),
      rec('mmoe', 2, 'seconds', 15, 'train', 'all'),
    ]
    assert.equal(
      formatComparison(records),
      [
        'test split (mean ± std over seeds, a single number when every seed agrees; * best)',
        'task      metric      resflow              mmoe               bayes (true p)',
        '--------  ----------  -------------------  -----------------  --------------',
        'purchase  auc         0.7200 ± 0.0141 *    0.7000             0.9100 (n=1)',
        'purchase  logloss     0.00240 ± 0.00098 *  0.00330 ± 0.00028  0.00210 (n=1)',
        'train     rows_per_s  46,000 ± 2,828       39,000             —',
        'train     seconds     13.0 ± 0.7           14.5 ± 0.7         —',
      ].join('\n'),
    )
  })
})
