import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { encodeDataset } from '../../src/data/encode.js'
import { encodeRows } from '../../src/data/encode-rows.js'
import { fitPreprocessing, inputSpecOf, loadPreprocessing, savePreprocessing } from '../../src/data/preprocessing.js'
import { parseDatasetSchema } from '../../src/data/schema.js'

const dir = mkdtempSync(join(tmpdir(), 'resflow-encode-'))
function csv(name: string, lines: string[]): string {
  const f = join(dir, name)
  writeFileSync(f, lines.join('\n') + '\n')
  return f
}
const header = 'user,city,tags,price,click,buy'
const train = csv('train.csv', [
  header,
  'u1,paris,a|b,10,1,0',
  'u1,paris,b,20,0,0',
  'u2,rome,,30,1,1',
  'u3,paris,a|c|a,40,0,1',
  'u2,oslo,c,50,0,0',
])
const schema = parseDatasetSchema(
  {
    sparse: [{ name: 'user' }, { name: 'city', minCount: 2 }],
    multi: [{ name: 'tags', separator: '|', pooling: 'sum' }],
    dense: [{ name: 'price', transform: 'standardize' }],
    tasks: [{ name: 'click' }, { name: 'purchase', column: 'buy' }],
    funnel: 'drop',
  },
  'test schema',
)

describe('fitPreprocessing + encodeDataset', () => {
  it('maps rare and unseen values to id 0 and counts funnel drops', async () => {
    const prep = await fitPreprocessing(schema, [train])
    const spec = inputSpecOf(prep)
    assert.deepEqual(spec.tasks, ['click', 'purchase'])
    assert.equal(spec.sparse.find((f) => f.name === 'city')?.vocabSize, 2) // paris only (rome, oslo seen once)
    const ds = await encodeDataset(prep, [train])
    assert.equal(ds.report.read, 5)
    assert.equal(ds.report.droppedFunnel, 1) // u3: click 0, buy 1
    assert.equal(ds.rows, 4)
    const city = ds.columns.sparse.city
    assert.deepEqual([...city], [1, 1, 0, 0])
    const tags = ds.columns.multi.tags
    assert.deepEqual([...tags.offsets], [0, 2, 3, 3, 4])
    // standardized with the training mean (30 over all 5 rows) and population std
    const std = Math.sqrt((400 + 100 + 0 + 100 + 400) / 5)
    assert.ok(Math.abs(ds.columns.dense[0] - (10 - 30) / std) < 1e-6)
  })

  it('encodes serving rows exactly as the training pass does, after a JSON round trip', async () => {
    const prep = await fitPreprocessing(schema, [train])
    const file = join(dir, 'prep.json')
    savePreprocessing(prep, file)
    const loaded = loadPreprocessing(file)
    const ds = await encodeDataset(loaded, [train])
    const b = encodeRows(loaded, [
      { user: 'u1', city: 'paris', tags: 'a|b', price: 10 },
      { user: 'zz', city: 'rome', tags: 'c', price: '30' },
    ])
    assert.equal(b.sparse.user[0], ds.columns.sparse.user[0])
    assert.equal(b.sparse.user[1], 0)
    assert.equal(b.sparse.city[1], 0)
    assert.deepEqual([...b.multi.tags.ids.subarray(0, 2)], [...ds.columns.multi.tags.ids.subarray(0, 2)])
    assert.equal(b.dense[0], ds.columns.dense[0])
    assert.throws(
      () => encodeRows(loaded, [{ user: 'u1', city: 'x', tags: '', price: 'cheap' }]),
      /rows\[0\]\.price: expected a number, got "cheap"/,
    )
  })

  it('gives seeded shuffled batches that cover every row once', async () => {
    const prep = await fitPreprocessing(schema, [train])
    const ds = await encodeDataset(prep, [train])
    const seen = (seed: number) => [...ds.batches(3, { shuffle: true, seed })].flatMap((b) => [...b.dense])
    assert.deepEqual(seen(7), seen(7))
    assert.deepEqual([...seen(7)].sort(), [...ds.columns.dense].sort())
    const plain = [...ds.batches(3)]
    assert.deepEqual(
      plain.map((b) => b.size),
      [3, 1],
    )
    assert.equal([...ds.batches(3, { dropLast: true })].length, 1)
  })
})

describe('bad input', () => {
  it('names file, line and column of a label outside {0,1}', async () => {
    const prep = await fitPreprocessing(schema, [train])
    const bad = csv('bad-label.csv', [header, 'u1,paris,a,10,1,0', 'u1,paris,a,10,0,0', 'u1,paris,a,10,2,0'])
    await assert.rejects(encodeDataset(prep, [bad]), /bad-label\.csv:4: column "click": label must be 0 or 1, got "2"/)
  })

  it('names file, line and column of a non-numeric value', async () => {
    const prep = await fitPreprocessing(schema, [train])
    const rows = [header, ...Array.from({ length: 3000 }, () => 'u1,paris,a,10,1,0'), 'u1,paris,a,ten,1,0']
    const bad = csv('bad-number.csv', rows)
    await assert.rejects(
      encodeDataset(prep, [bad]),
      /bad-number\.csv:3002: column "price": expected a number, got "ten"/,
    )
  })

  it('skips and counts bad rows when asked', async () => {
    const skipping = parseDatasetSchema({ ...schema, badRows: 'skip' }, 'test schema')
    const prep = await fitPreprocessing(skipping, [train])
    const bad = csv('bad-skip.csv', [header, 'u1,paris,a,10,1,0', 'u1,paris,a,x,1,0', 'u1,paris,a,10,7,0'])
    const ds = await encodeDataset(prep, [bad])
    assert.equal(ds.report.skippedBad, 2)
    assert.equal(ds.rows, 1)
  })

  it('reports a missing column, a broken funnel and an empty file', async () => {
    const prep = await fitPreprocessing(schema, [train])
    const noBuy = csv('no-buy.csv', ['user,city,tags,price,click', 'u1,paris,a,10,1'])
    await assert.rejects(encodeDataset(prep, [noBuy]), /no-buy\.csv: missing column "buy"/)
    const strict = parseDatasetSchema({ ...schema, funnel: 'error' }, 'test schema')
    await assert.rejects(
      fitPreprocessing(strict, [train]).then((p) => encodeDataset(p, [train])),
      /train\.csv:5: column "buy": funnel broken/,
    )
    const empty = csv('empty.csv', [header])
    await assert.rejects(encodeDataset(prep, [empty]), /empty\.csv: no data rows/)
  })
})

describe('row filter', () => {
  // kept: price > 15 and city paris or rome; the u9 rows (price 10, or city oslo, or price missing) are left out
  const rows = [
    header,
    'u1,paris,a,20,1,0',
    'u9,paris,b,10,1,1',
    'u2,rome,c,40,1,1',
    'u9,oslo,a,90,0,1',
    'u3,paris,,60,0,0',
    'u9,paris,a,,0,0',
  ]
  const file = csv('filtered.csv', rows)
  const filtered = parseDatasetSchema(
    {
      ...schema,
      dense: [{ name: 'price', transform: 'standardize', fillMissing: 0 }],
      filter: [
        { column: 'price', greaterThan: 15 },
        { column: 'city', oneOf: ['paris', 'rome'] },
      ],
    },
    'test schema',
  )

  it('fits and encodes only the rows meeting every condition, and counts the others', async () => {
    const prep = await fitPreprocessing(filtered, [file])
    assert.equal(prep.fit.rows, 3)
    assert.equal(inputSpecOf(prep).sparse.find((f) => f.name === 'user')?.vocabSize, 4) // u1, u2, u3: u9 is only in rows left out
    assert.equal(prep.dense[0]?.mean, 40) // (20 + 40 + 60) / 3
    const ds = await encodeDataset(prep, [file])
    assert.equal(ds.rows, 3)
    assert.equal(ds.report.filtered, 3)
    assert.equal(ds.report.read, 6)
    assert.equal(ds.report.droppedFunnel, 0) // the broken funnel of u9 in oslo (click 0, buy 1) is left out first
    assert.deepEqual([...ds.columns.labels.purchase], [0, 1, 0])
  })

  it('compares numbers as numbers in oneOf, and a missing cell never passes', async () => {
    const ints = csv('filter-ints.csv', ['user,tab,click', 'a,1,1', 'b,1.0,0', 'c,2,1', 'd,,0', 'e,01,1'])
    const s = parseDatasetSchema(
      { sparse: [{ name: 'user' }], tasks: [{ name: 'click' }], filter: [{ column: 'tab', oneOf: [1] }] },
      'test schema',
    )
    const ds = await encodeDataset(await fitPreprocessing(s, [ints]), [ints])
    assert.deepEqual([...ds.columns.labels.click], [1, 0, 1]) // a, b, e
    assert.equal(ds.report.filtered, 2)
  })

  it('ignores bad cells in rows it leaves out, and numbers the lines of a bad kept row over the whole file', async () => {
    const prep = await fitPreprocessing(filtered, [file])
    const ok = csv('filtered-bad-out.csv', [header, 'u1,paris,a,20,1,0', 'u9,paris,a,10,7,0'])
    assert.equal((await encodeDataset(prep, [ok])).rows, 1)
    const bad = csv('filtered-bad-in.csv', [
      header,
      'u9,paris,a,10,7,0',
      'u9,oslo,a,50,7,0',
      'u1,paris,a,20,1,0',
      'u1,paris,a,20,2,0',
    ])
    await assert.rejects(
      encodeDataset(prep, [bad]),
      /filtered-bad-in\.csv:5: column "click": label must be 0 or 1, got "2"/,
    )
  })

  it('names a missing filter column, an empty result and a malformed condition', async () => {
    const noColumn = parseDatasetSchema({ ...schema, filter: [{ column: 'tab', oneOf: [1] }] }, 'test schema')
    await assert.rejects(fitPreprocessing(noColumn, [train]), /train\.csv: missing column "tab"/)
    const none = parseDatasetSchema({ ...filtered, filter: [{ column: 'price', greaterThan: 1000 }] }, 'test schema')
    await assert.rejects(fitPreprocessing(none, [file]), /filtered\.csv: no data rows passing the schema's filter/)
    const prep = await fitPreprocessing(filtered, [file])
    const allOut = csv('filtered-none.csv', [header, 'u9,paris,a,10,1,0'])
    await assert.rejects(
      encodeDataset(prep, [allOut]),
      /filtered-none\.csv: no data rows: the schema's filter \(price > 15, city in \["paris","rome"\]\) left out all 1/,
    )
    assert.throws(
      () => parseDatasetSchema({ ...schema, filter: [{ column: 'tab' }] }, 'schema.yaml'),
      /schema\.yaml: filter\[0\]: give exactly one of greaterThan and oneOf for column "tab", got neither/,
    )
    assert.throws(
      () => parseDatasetSchema({ ...schema, filter: [{ column: 'tab', equals: 1 }] } as never, 'schema.yaml'),
      /schema\.yaml: filter\[0\]: unknown key "equals" \(allowed: column, greaterThan, oneOf\)/,
    )
  })
})

describe('log1p-standardize (the default numeric transform)', () => {
  it('standardizes u = sign(x)·log1p(|x|) with the mean and deviation of u on the training rows, as the PyTorch reference', async () => {
    const xs = [-3, 0, 0.5, 10, 1000]
    const f = csv('slog.csv', ['x,click', ...xs.map((x, i) => `${x},${i % 2}`)])
    const s = parseDatasetSchema({ dense: [{ name: 'x' }], tasks: [{ name: 'click' }] }, 'slog schema')
    assert.equal(s.dense[0].transform, 'log1p-standardize')
    const prep = await fitPreprocessing(s, [f])
    const u = xs.map((x) => Math.sign(x) * Math.log1p(Math.abs(x)))
    const mean = u.reduce((a, b) => a + b, 0) / u.length
    const std = Math.sqrt(u.reduce((a, b) => a + (b - mean) ** 2, 0) / u.length) // population deviation (ddof 0)
    assert.ok(Math.abs(prep.dense[0].mean - mean) < 1e-12, `mean ${prep.dense[0].mean} vs ${mean}`)
    assert.ok(Math.abs(prep.dense[0].std - std) < 1e-12, `std ${prep.dense[0].std} vs ${std}`)
    const ds = await encodeDataset(prep, [f])
    const z = Array.from(ds.columns.dense)
    u.forEach((v, i) => assert.ok(Math.abs(z[i] - (v - mean) / std) < 1e-6, `row ${i}: ${z[i]} vs ${(v - mean) / std}`))
    // standardized on the training rows: mean 0, deviation 1
    const m = z.reduce((a, b) => a + b, 0) / z.length
    assert.ok(Math.abs(m) < 1e-6 && Math.abs(Math.sqrt(z.reduce((a, b) => a + (b - m) ** 2, 0) / z.length) - 1) < 1e-5)
  })
})
