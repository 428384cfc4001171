import { after, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openDataset } from '../../src/data/index.js'
import { kuairandSchema, PAPER_THRESHOLDS_SEC } from '../../src/data/kuairand.js'
import { Rng } from '../helpers/rng.js'

const root = mkdtempSync(join(tmpdir(), 'resflow-kuairand-'))
after(() => rmSync(root, { recursive: true, force: true }))

const HEADER = 'user_id,video_id,date,hourmin,time_ms,is_click,is_like,is_follow,is_comment,is_forward,is_hate,long_view,play_time_ms,duration_ms,profile_stay_time,comment_stay_time,is_profile_enter,is_rand,tab'

interface Row { click: number; playMs: number }

/** KuaiRand-like log: watch time heavy-tailed, a few autoplayed rows watched without a click. */
function writeLog(file: string, rows: number, seed: number): Row[] {
  const rng = new Rng(seed)
  const out: Row[] = []
  const lines = [HEADER]
  for (let i = 0; i < rows; i++) {
    const click = rng.next() < 0.4 ? 1 : 0
    const autoplay = !click && rng.next() < 0.1
    // exact threshold values included: play_time_ms = 5000 is not "longer than 5 s"
    const playMs = click || autoplay ? (i % 50 === 0 ? 5000 : Math.round(1000 * Math.exp(rng.next() * 4.7))) : 0
    const durationMs = 10_000 + rng.int(120_000)
    out.push({ click, playMs })
    lines.push([100 + rng.int(20), 2000 + rng.int(60), 20220408, 1200, 1649400000000 + i, click, 0, 0, 0, 0, 0, playMs > 0.5 * durationMs ? 1 : 0, playMs, durationMs, 0, 0, 0, rng.int(2), rng.int(3)].join(','))
  }
  writeFileSync(file, lines.join('\n') + '\n')
  return out
}

describe('kuairand adapter', () => {
  const dir = join(root, 'logs')
  mkdirSync(dir)
  const train = writeLog(join(dir, 'log_train.csv'), 600, 1)
  writeLog(join(dir, 'log_test.csv'), 150, 2)

  it("builds click → watch_5s → ... → watch_90s with the paper's thresholds, funnel-consistent", async () => {
    const d = await openDataset({ dataset: 'kuairand', path: dir })
    assert.deepEqual(PAPER_THRESHOLDS_SEC, [5, 10, 20, 30, 40, 50, 60, 70, 80, 90])
    assert.deepEqual(d.spec.tasks, ['click', ...PAPER_THRESHOLDS_SEC.map((t) => `watch_${t}s`)])
    assert.deepEqual(d.spec.sparse.map((f) => f.name), ['user_id', 'video_id', 'tab'])
    assert.ok(d.train.columns.group, 'user_id groups for GAUC')

    const kept = train.filter((r) => r.click === 1 || r.playMs <= 5000)
    assert.equal(d.train.report.droppedFunnel, train.length - kept.length) // autoplayed rows watched > 5 s without a click
    assert.ok(d.train.report.droppedFunnel > 0)
    assert.equal(d.train.rows, kept.length)
    const labels = d.train.columns.labels
    kept.forEach((r, i) => {
      assert.equal(labels.click[i], r.click)
      let prev = labels.click[i]
      for (const t of PAPER_THRESHOLDS_SEC) {
        const y = labels[`watch_${t}s`][i]
        assert.equal(y, r.playMs > t * 1000 ? 1 : 0, `row ${i}, ${t}s (play ${r.playMs} ms)`)
        assert.ok(y <= prev, `row ${i}: watch_${t}s after a negative earlier stage`)
        prev = y
      }
    })
    assert.equal(labels.watch_5s[0], 0) // row 0 plays exactly 5000 ms
  })

  it('takes thresholds and extra features from an options file, and rejects bad ones', async () => {
    const opts = join(root, 'kuairand.yaml')
    writeFileSync(opts, 'thresholdsSec: [3, 30]\nsparse: [is_rand]\ndense: [duration_ms]\nfunnel: keep\n')
    const d = await openDataset({ dataset: 'kuairand', path: dir, schema: opts })
    assert.deepEqual(d.spec.tasks, ['click', 'watch_3s', 'watch_30s'])
    assert.deepEqual(d.spec.dense.map((f) => f.name), ['duration_ms'])
    assert.equal(d.train.rows, train.length)
    assert.equal(d.train.report.droppedFunnel, 0)
    assert.throws(() => kuairandSchema({ thresholdsSec: [10, 5] }), /thresholdsSec\[1\]: expected more than 10 .* got 5/)
    assert.throws(() => kuairandSchema({ dense: ['play_time_ms'] }), /dense\[0\]: "play_time_ms" is user feedback/)
    assert.throws(() => kuairandSchema({ thresholds: [1] } as never), /unknown key|Unrecognized key|thresholds/)
  })
})
