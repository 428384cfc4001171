import { after, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openDataset } from '../../src/data/adapters.js'
import { Rng } from '../helpers/rng.js'

const root = mkdtempSync(join(tmpdir(), 'resflow-aliccp-raw-'))
after(() => rmSync(root, { recursive: true, force: true }))

// Ali-CCP field ids: user side (common_features) and ad side (sample_skeleton); the *_14 fields are behaviour lists
const USER_SINGLE = ['101', '121', '122', '124', '125', '126', '127', '128', '129']
const USER_MULTI = ['109_14', '110_14', '127_14', '150_14']
const AD_SINGLE = ['205', '206', '207', '216', '508', '509', '702', '853', '301']
const AD_OPTIONAL = '210' // absent from some rows

const item = (field: string, id: number | string, value = '1.0') => `${field}\x02${id}\x03${value}`

interface Sample {
  click: number
  conversion: number
  common: string
  items: string[]
}

/** Writes skeleton + common files; returns what was written so tests can check the join. */
function writeRaw(
  dir: string,
  split: string,
  rows: number,
  seed: number,
  edit?: (lines: { skeleton: string[]; common: string[] }) => void,
) {
  const rng = new Rng(seed)
  const users = Array.from({ length: Math.max(5, rows >> 3) }, (_, u) => {
    const items = USER_SINGLE.map((f) => item(f, f === '101' ? 1000 + u : rng.int(f === '124' ? 2 : 8)))
    for (const f of USER_MULTI) {
      const n = 1 + rng.int(4)
      for (let k = 0; k < n; k++) items.push(item(f, 500 + rng.int(30), String(1 + rng.int(5))))
    }
    return { index: `c${seed}_${u}`, items }
  })
  const samples: Sample[] = []
  for (let i = 0; i < rows; i++) {
    const click = rng.next() < 0.3 ? 1 : 0
    const conversion = i % 97 === 5 ? 1 : click && rng.next() < 0.3 ? 1 : 0 // every 97th row breaks the funnel when click = 0
    const items = AD_SINGLE.map((f) => item(f, 7000 + rng.int(f === '301' ? 3 : 40)))
    if (rng.next() < 0.8) items.push(item(AD_OPTIONAL, 90 + rng.int(5)))
    samples.push({ click, conversion, common: users[rng.int(users.length)].index, items })
  }
  const lines = {
    skeleton: samples.map((s, i) =>
      [i + 1, s.click, s.conversion, s.common, s.items.length, s.items.join('\x01')].join(','),
    ),
    common: users.map((u) => [u.index, u.items.length, u.items.join('\x01')].join(',')),
  }
  edit?.(lines)
  writeFileSync(join(dir, `sample_skeleton_${split}.csv`), lines.skeleton.join('\n') + '\n')
  writeFileSync(join(dir, `common_features_${split}.csv`), lines.common.join('\n') + '\n')
  return { samples, users }
}

function fixture(name: string, edit?: (lines: { skeleton: string[]; common: string[] }) => void) {
  const dir = join(root, name)
  freshDir(dir)
  return { dir, ...writeRaw(dir, 'train', 400, 1, edit) }
}

function freshDir(dir: string) {
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(dir, { recursive: true })
}

describe('aliccp-raw adapter', () => {
  it('joins skeleton and common features, keeps multi-valued fields and drops funnel-breaking rows with a count', async () => {
    const dir = join(root, 'ok')
    freshDir(dir)
    const train = writeRaw(dir, 'train', 400, 1)
    writeRaw(dir, 'test', 120, 2)
    const cacheDir = join(root, 'cache')
    const d = await openDataset({ dataset: 'aliccp-raw', path: dir, cacheDir })
    assert.deepEqual(d.spec.tasks, ['click', 'purchase'])
    const multi = d.spec.multi.map((f) => f.name).sort()
    assert.deepEqual(multi, USER_MULTI.map((f) => `f${f}`).sort())
    const sparse = d.spec.sparse.map((f) => f.name)
    for (const f of [...USER_SINGLE, ...AD_SINGLE, AD_OPTIONAL])
      assert.ok(sparse.includes(`f${f}`), `sparse field f${f}`)
    assert.equal(d.spec.sparse.find((f) => f.name === 'f101')?.side, 'user')
    assert.equal(d.spec.sparse.find((f) => f.name === 'f205')?.side, 'item')

    const broken = train.samples.filter((s) => s.conversion > s.click).length
    assert.ok(broken > 0)
    assert.equal(d.train.report.read, 400)
    assert.equal(d.train.report.droppedFunnel, broken)
    assert.equal(d.train.rows, 400 - broken)
    assert.equal(d.test?.report.read, 120)

    // the join: row i's user id (field 101, from common_features) is the one of its common_feature_index
    const kept = train.samples.filter((s) => s.conversion <= s.click)
    const userOf = new Map(train.users.map((u) => [u.index, u.items]))
    const prep = d.prep.sparse.find((f) => f.name === 'f101')!
    const ids = d.train.columns.sparse.f101
    kept.forEach((s, i) => {
      const raw = userOf.get(s.common)![0].split('\x02')[1].split('\x03')[0]
      assert.equal(prep.vocab[ids[i] - 1], raw, `row ${i}`)
    })
    // multi-valued: 109_14 keeps every id of the user's list, in order
    const m = d.train.columns.multi.f109_14
    const vocab = d.prep.multi.find((f) => f.name === 'f109_14')!.vocab
    kept.forEach((s, i) => {
      const want = userOf
        .get(s.common)!
        .filter((x) => x.startsWith('109_14\x02'))
        .map((x) => x.split('\x02')[1].split('\x03')[0])
      const got = [...m.ids.subarray(m.offsets[i], m.offsets[i + 1])].map((id) => vocab[id - 1])
      assert.deepEqual(got, want, `row ${i}`)
    })
    // an optional field missing from a row maps to id 0
    const missing210 = kept.findIndex((s) => !s.items.some((x) => x.startsWith('210\x02')))
    assert.ok(missing210 >= 0)
    assert.equal(d.train.columns.sparse.f210[missing210], 0)
  })

  it('names file and line when feature_num disagrees with the list', async () => {
    const { dir } = fixture('bad-num', (l) => {
      l.skeleton[6] = l.skeleton[6].replace(/^(\d+,\d,\d,[^,]+,)(\d+)/, (_, a, n) => `${a}${Number(n) + 1}`)
    })
    await assert.rejects(
      openDataset({ dataset: 'aliccp-raw', path: dir, cacheDir: join(root, 'cache') }),
      /sample_skeleton_train\.csv:7: feature_num is (\d+) but feature_list has \d+ items/,
    )
  })

  it('names file and line of a missing common_feature_index', async () => {
    const { dir } = fixture('bad-index', (l) => {
      l.skeleton[41] = l.skeleton[41].replace(/^(\d+,\d,\d,)[^,]+/, '$1nowhere')
    })
    await assert.rejects(
      openDataset({ dataset: 'aliccp-raw', path: dir, cacheDir: join(root, 'cache') }),
      /sample_skeleton_train\.csv:42: common_feature_index "nowhere" not found in common_features_train\.csv/,
    )
  })

  it('names file and line of a bad label, a malformed item and a short row', async () => {
    const label = fixture('bad-label', (l) => {
      l.skeleton[3] = l.skeleton[3].replace(/^(\d+),\d/, '$1,2')
    })
    await assert.rejects(
      openDataset({ dataset: 'aliccp-raw', path: label.dir, cacheDir: join(root, 'cache') }),
      /sample_skeleton_train\.csv:4: column "click": label must be 0 or 1, got "2"/,
    )
    const malformed = fixture('bad-item', (l) => {
      l.common[2] = l.common[2].replace('\x03', '')
    })
    await assert.rejects(
      openDataset({ dataset: 'aliccp-raw', path: malformed.dir, cacheDir: join(root, 'cache') }),
      /common_features_train\.csv:3: feature_list: malformed item "101\\x0210021\.0"/,
    )
    const short = fixture('bad-row', (l) => {
      l.skeleton[9] = '10,1,0'
    })
    await assert.rejects(
      openDataset({ dataset: 'aliccp-raw', path: short.dir, cacheDir: join(root, 'cache') }),
      /sample_skeleton_train\.csv: .*Line: 10/,
    )
  })
})
