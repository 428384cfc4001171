import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { chromium } from 'playwright-core'
import { buildCharts } from '../../src/report/charts.js'
import { renderReport } from '../../src/report/html.js'
import { buildFixtureReport } from './fixture.js'

const CHROMIUM = '/usr/bin/chromium'
const noChromium = existsSync(CHROMIUM)
  ? false
  : `${CHROMIUM} not found (install Debian's chromium: apt-get install -y chromium)`

/**
 * Runs in the page (a string, since the tests compile without the DOM lib): per chart, the pixels of
 * saturated colour, i.e. series strokes; axes, grid and text are grey or black.
 */
const COUNT_COLOURED_PIXELS = `Array.from(document.querySelectorAll('.chart')).map((div) => {
  const canvas = div.querySelector('canvas')
  if (!canvas) return { id: div.id, pixels: -1 }
  const px = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data
  let pixels = 0
  for (let i = 0; i < px.length; i += 4) {
    const hi = Math.max(px[i], px[i + 1], px[i + 2])
    const lo = Math.min(px[i], px[i + 1], px[i + 2])
    if (px[i + 3] > 0 && hi - lo > 80) pixels++
  }
  return { id: div.id, pixels }
})`

/** Per chart legend: its text and how many value cells it has (uPlot's live legend: "name: --"). */
const LEGENDS = `Array.from(document.querySelectorAll('.u-legend')).map((l) => ({ text: l.textContent, values: l.querySelectorAll('.u-value').length }))`

describe('renderReport', () => {
  const data = buildFixtureReport()
  const html = renderReport(data)

  it('is one self-contained file: uPlot inlined, nothing loaded from elsewhere, names escaped', () => {
    assert.doesNotMatch(html, /<script[^>]+src=|<link[^>]+href=|@import|url\(http/i)
    assert.match(html, /uPlot/)
    assert.match(html, /<title>resflow comparison &lt;fixture&gt;<\/title>/)
    assert.equal(html.match(/<script/g)?.length, 3) // data, uPlot, client
    assert.match(html, /<td>click<\/td><td>auc<\/td><td class="best">/) // resflow's sharper scores win
    assert.match(html, /<table class="results">/) // the table style stays off uPlot's legend table
  })

  it('opens in headless Chromium without errors and draws every chart', {
    skip: noChromium,
    timeout: 60_000,
  }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'resflow-report-'))
    const file = join(dir, 'report.html')
    writeFileSync(file, html)
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    })
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
      const problems: string[] = []
      const requests: string[] = []
      page.on('console', (msg) => {
        if (msg.type() === 'error' || msg.type() === 'warning') problems.push(`console.${msg.type()}: ${msg.text()}`)
      })
      page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`))
      page.on('request', (req) => {
        if (!req.url().startsWith('file:')) requests.push(req.url())
      })
      await page.goto(pathToFileURL(file).href)
      await page.waitForSelector('body[data-charts-drawn]', { timeout: 15_000 })
      assert.deepEqual(problems, [])
      assert.deepEqual(requests, [], 'the report must not touch the network')

      const expected = buildCharts(data).map((c) => c.id)
      const drawn = await page.evaluate('Number(document.body.dataset.chartsDrawn)')
      assert.equal(drawn, expected.length)
      const colourful = (await page.evaluate(COUNT_COLOURED_PIXELS)) as { id: string; pixels: number }[]
      assert.deepEqual(
        colourful.map((c) => c.id),
        expected.map((id) => `chart-${id}`),
      )
      for (const c of colourful)
        assert.ok(c.pixels > 200, `${c.id}: only ${c.pixels} coloured pixels, the series were not drawn`)
      const legends = (await page.evaluate(LEGENDS)) as { text: string; values: number }[]
      assert.equal(legends.length, expected.length)
      for (const legend of legends) {
        assert.doesNotMatch(legend.text, /--/, 'no placeholder values in a legend')
        assert.equal(legend.values, 0, `${legend.text}: the legend shows series names only`)
      }
      if (process.env.RESFLOW_REPORT_SCREENSHOT)
        await page.screenshot({ path: process.env.RESFLOW_REPORT_SCREENSHOT, fullPage: true })
    } finally {
      await browser.close()
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
