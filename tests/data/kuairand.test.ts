import { after, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { encodeDataset } from '../../src/data/encode.js'
import { loadPreprocessing, savePreprocessing } from '../../src/data/preprocessing.js'
import { openDataset } from '../../src/data/adapters.js'
import { kuairandSchema, PAPER_THRESHOLDS_SEC } from '../../src/data/kuairand.js'
import { KUAIRAND_HEADER, kuairandLine, paperKeeps, writeKuaiRandLog } from '../helpers/kuairand-log.js'
import { Rng } from '../helpers/rng.js'

const root = mkdtempSync(join(tmpdir(), 'resflow-kuairand-'))
after(() => rmSync(root, { recursive: true, force: true }))

interface Row {
  click: number
  playMs: number
}

/** KuaiRand-like log: watch time heavy-tailed, a few autoplayed rows watched without a click. */
function writeLog(file: string, rows: number, seed: number): Row[] {
  const rng = new Rng(seed)
  const out: Row[] = []
  const lines = [KUAIRAND_HEADER]
  for (let i = 0; i < rows; i++) {
    const click = rng.next() < 0.4 ? 1 : 0
    const autoplay = !click && rng.next() < 0.1
    // exact threshold values included: play_time_ms = 5000 is not "longer than 5 s"
    const playMs = click || autoplay ? (i % 50 === 0 ? 5000 : Math.round(1000 * Math.exp(rng.next() * 4.7))) : 0
    const durationMs = 10_000 + rng.int(120_000)
    out.push({ click, playMs })
    lines.push(kuairandLine(rng, i, { click, playMs, durationMs }, () => rng.int(3)))
  }
  writeFileSync(file, lines.join('\n') + '\n')
  return out
}

describe('kuairand adapter', () => {
  const dir = join(root, 'logs')
  mkdirSync(dir)
  const train = writeLog(join(dir, 'log_train.csv'), 600, 1)
  writeLog(join(dir, 'log_test.csv'), 150, 2)

  it("builds click → watch_5s → ... → watch_80s with the paper's thresholds, funnel-consistent", async () => {
    const d = await openDataset({ dataset: 'kuairand', path: dir })
    assert.deepEqual(PAPER_THRESHOLDS_SEC, [5, 10, 20, 30, 40, 50, 60, 70, 80]) // other-modality/train.py target_num = 9
    assert.deepEqual(d.spec.tasks, ['click', ...PAPER_THRESHOLDS_SEC.map((t) => `watch_${t}s`)])
    assert.deepEqual(
      d.spec.sparse.map((f) => f.name),
      ['user_id', 'video_id', 'tab'],
    )
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
    assert.deepEqual(
      d.spec.dense.map((f) => f.name),
      ['duration_ms'],
    )
    assert.equal(d.train.rows, train.length)
    assert.equal(d.train.report.droppedFunnel, 0)
    assert.throws(
      () => kuairandSchema({ thresholdsSec: [10, 5] }),
      /thresholdsSec\[1\]: expected more than 10 .* got 5/,
    )
    assert.throws(() => kuairandSchema({ dense: ['play_time_ms'] }), /dense\[0\]: "play_time_ms" is user feedback/)
    assert.throws(() => kuairandSchema({ thresholds: [1] } as never), /unknown key|Unrecognized key|thresholds/)
  })
})

describe("kuairand adapter: the paper's run (configs/datasets/kuairand.yaml)", () => {
  const options = fileURLToPath(new URL('../../configs/datasets/kuairand.yaml', import.meta.url))
  const dir = join(root, 'paper')
  mkdirSync(dir)
  const train = writeKuaiRandLog(join(dir, 'log_train.csv'), 400, 3)
  const test = writeKuaiRandLog(join(dir, 'log_test.csv'), 120, 4)
  const watch = PAPER_THRESHOLDS_SEC.map((t) => `watch_${t}s`)

  it('has the nine watch tasks and no click task', async () => {
    const d = await openDataset({ dataset: 'kuairand', path: dir, schema: options })
    assert.deepEqual(d.spec.tasks, [
      'watch_5s',
      'watch_10s',
      'watch_20s',
      'watch_30s',
      'watch_40s',
      'watch_50s',
      'watch_60s',
      'watch_70s',
      'watch_80s',
    ])
    assert.ok(!('click' in d.train.columns.labels))
    assert.deepEqual(
      d.spec.dense.map((f) => f.name),
      ['duration_ms'],
    )
  })

  it('keeps only rows with play_time_ms > 0 and tab 1, and counts the rest', async () => {
    const d = await openDataset({ dataset: 'kuairand', path: dir, schema: options })
    const kept = train.filter(paperKeeps)
    assert.ok(
      train.some((r) => r.tab === null) &&
        train.some((r) => r.tab === 2) &&
        train.some((r) => r.playMs === 0 && r.tab === 1),
      'the log has every kind of row left out',
    )
    assert.equal(d.train.rows, kept.length)
    assert.equal(d.train.report.filtered, train.length - kept.length)
    assert.equal(d.train.report.read, train.length)
    assert.equal(d.train.report.droppedFunnel, 0)
    assert.equal(d.test?.rows, test.filter(paperKeeps).length)
    assert.equal(d.test?.report.filtered, test.length - test.filter(paperKeeps).length)
    // the tab vocabulary is fitted on kept rows only: tab 1 alone
    assert.equal(d.spec.sparse.find((f) => f.name === 'tab')?.vocabSize, 2)
  })

  it('labels whole seconds, int(play_time_ms / 1000) > t, as the released code does', async () => {
    const d = await openDataset({ dataset: 'kuairand', path: dir, schema: options })
    const kept = train.filter(paperKeeps)
    const labels = d.train.columns.labels
    kept.forEach((r, i) => {
      for (const [k, t] of PAPER_THRESHOLDS_SEC.entries())
        assert.equal(
          labels[watch[k]][i],
          Math.floor(r.playMs / 1000) > t ? 1 : 0,
          `row ${i}, ${t} s (play ${r.playMs} ms)`,
        )
    })
    const at = (ms: number) => kept.findIndex((r) => r.playMs === ms)
    for (const ms of [5999, 6000, 80_999, 81_000]) assert.ok(at(ms) >= 0, `the kept rows include a play of ${ms} ms`)
    assert.equal(labels.watch_5s[at(5999)], 0) // 5.999 s is 5 whole seconds, not more than 5
    assert.equal(labels.watch_5s[at(6000)], 1)
    assert.equal(labels.watch_80s[at(80_999)], 0)
    assert.equal(labels.watch_80s[at(81_000)], 1)
  })

  it('applies the same filter when a saved run encodes new files (eval, predict)', async () => {
    const d = await openDataset({ dataset: 'kuairand', path: dir, schema: options })
    const file = join(root, 'kuairand-prep.json')
    savePreprocessing(d.prep, file)
    const again = await encodeDataset(loadPreprocessing(file), [join(dir, 'log_test.csv')])
    assert.equal(again.rows, test.filter(paperKeeps).length)
    assert.equal(again.report.filtered, test.length - again.rows)
    assert.deepEqual([...again.columns.labels.watch_10s], [...d.test!.columns.labels.watch_10s])
  })

  it('rejects a filter condition with neither or both of greaterThan and oneOf', () => {
    assert.throws(
      () => kuairandSchema({ filter: [{ column: 'tab' }] }),
      /kuairand options: filter\[0\]: give exactly one of greaterThan and oneOf for column "tab", got neither/,
    )
    assert.throws(
      () => kuairandSchema({ filter: [{ column: 'tab', greaterThan: 0, oneOf: [1] }] }),
      /filter\[0\]: .* got both/,
    )
    assert.deepEqual(
      kuairandSchema({ clickTask: false, thresholdsSec: [3] }).tasks.map((t) => t.name),
      ['watch_3s'],
    )
    assert.equal(kuairandSchema({ wholeSeconds: true, thresholdsSec: [5] }).tasks[1]?.greaterThan, 5999)
  })
})
