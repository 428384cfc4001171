import { after, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect, sqlString } from '../../src/data/duck.js'
import { encodeDataset } from '../../src/data/encode.js'
import { fitPreprocessing } from '../../src/data/preprocessing.js'
import { parseDatasetSchema } from '../../src/data/schema.js'
import { Rng } from '../helpers/rng.js'

const root = mkdtempSync(join(tmpdir(), 'resflow-layouts-'))
after(() => rmSync(root, { recursive: true, force: true }))

describe('file layouts', () => {
  it('reads a hive-partitioned Parquet folder, with the partition key as a feature', async () => {
    const dir = join(root, 'hive')
    const conn = await connect()
    await conn.run(`COPY (SELECT i AS user, (i % 4) AS day, (i % 7 = 0)::INTEGER AS click, (i % 14 = 0)::INTEGER AS buy FROM range(1000) t(i))
      TO ${sqlString(dir)} (FORMAT PARQUET, PARTITION_BY (day))`)
    assert.deepEqual(readdirSync(dir).sort(), ['day=0', 'day=1', 'day=2', 'day=3'])
    const schema = parseDatasetSchema(
      {
        format: 'parquet',
        hivePartitioning: true,
        sparse: [{ name: 'user' }, { name: 'day' }],
        tasks: [{ name: 'click' }, { name: 'buy' }],
      },
      'hive schema',
    )
    const prep = await fitPreprocessing(schema, [dir], { conn })
    assert.equal(prep.sparse.find((f) => f.name === 'day')?.vocab.length, 4)
    const ds = await encodeDataset(prep, [dir], { conn })
    assert.equal(ds.rows, 1000)
    assert.equal(ds.report.droppedFunnel, 0)
    // the day id of each row agrees with its user (day = user % 4), whatever order the files were read in
    const userVocab = prep.sparse.find((f) => f.name === 'user')!.vocab
    const dayVocab = prep.sparse.find((f) => f.name === 'day')!.vocab
    for (let i = 0; i < ds.rows; i++) {
      const user = Number(userVocab[ds.columns.sparse.user[i] - 1])
      assert.equal(Number(dayVocab[ds.columns.sparse.day[i] - 1]), user % 4)
      assert.equal(ds.columns.labels.click[i], user % 7 === 0 ? 1 : 0)
    }
    conn.closeSync()
  })

  it('reads a glob of CSV files and names the right file of a bad cell', async () => {
    const dir = join(root, 'glob')
    mkdirSync(dir)
    const header = 'user,price,click'
    for (let f = 0; f < 3; f++)
      writeFileSync(
        join(dir, `part-${f}.csv`),
        [header, ...Array.from({ length: 50 }, (_, i) => `u${f * 50 + i},${i},${i % 2}`)].join('\n') + '\n',
      )
    writeFileSync(join(dir, 'other.txt'), 'not data\n')
    const schema = parseDatasetSchema(
      { format: 'csv', sparse: [{ name: 'user' }], dense: [{ name: 'price' }], tasks: [{ name: 'click' }] },
      'glob schema',
    )
    const glob = join(dir, 'part-*.csv')
    const prep = await fitPreprocessing(schema, [glob])
    assert.equal(prep.sparse[0].vocab.length, 150)
    const ds = await encodeDataset(prep, [glob])
    assert.equal(ds.rows, 150)
    writeFileSync(join(dir, 'part-3.csv'), [header, 'u1,1,0', 'u2,2,1', 'u3,3,5'].join('\n') + '\n')
    await assert.rejects(encodeDataset(prep, [glob]), /part-3\.csv:4: column "click": label must be 0 or 1, got "5"/)
  })

  it('encodes a multi-valued feature on 20k rows: ids, min count and pooling kept', async () => {
    const rng = new Rng(11)
    const lines = ['user,tags,click']
    const want: string[][] = []
    for (let i = 0; i < 20_000; i++) {
      // Zipf-ish tags: t0 common, t499 rare; 0–6 tags per row, repeats allowed
      const tags = Array.from({ length: rng.int(7) }, () => `t${Math.floor(500 * rng.next() ** 4)}`)
      want.push(tags)
      lines.push(`u${rng.int(500)},${tags.join('|')},${rng.int(2)}`)
    }
    const file = join(root, 'multi.csv')
    writeFileSync(file, lines.join('\n') + '\n')
    const schema = parseDatasetSchema(
      {
        format: 'csv',
        sparse: [{ name: 'user' }],
        multi: [{ name: 'tags', separator: '|', pooling: 'sum', minCount: 100 }],
        tasks: [{ name: 'click' }],
      },
      'multi schema',
    )
    const prep = await fitPreprocessing(schema, [file])
    const counts = new Map<string, number>()
    for (const row of want) for (const t of row) counts.set(t, (counts.get(t) ?? 0) + 1)
    const vocab = prep.multi[0].vocab
    assert.deepEqual(new Set(vocab), new Set([...counts].filter(([, c]) => c >= 100).map(([t]) => t)))
    assert.ok(vocab.length < counts.size, 'some rare tags fall under minCount')
    const ds = await encodeDataset(prep, [file])
    assert.equal(ds.spec.multi[0].pooling, 'sum')
    const { offsets, ids } = ds.columns.multi.tags
    assert.equal(offsets.length, 20_001)
    assert.equal(
      ids.length,
      want.reduce((a, r) => a + r.length, 0),
    )
    const idOf = new Map(vocab.map((t, i) => [t, i + 1]))
    want.forEach((row, i) => {
      assert.deepEqual(
        [...ids.subarray(offsets[i], offsets[i + 1])],
        row.map((t) => idOf.get(t) ?? 0),
        `row ${i}`,
      )
    })
    // a shuffled batch keeps each row's list intact
    const [b] = ds.batches(256, { shuffle: true, seed: 2, blockSize: 64 })
    const total = b.multi.tags.offsets[b.size]
    assert.equal(b.multi.tags.ids.length, total)
  })
})
