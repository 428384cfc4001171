/**
 * eval / predict --path as a file, a glob or a dataset folder (+ --split): a folder yields exactly the files
 * of one split, found by the dataset adapter, and the errors name the path, the option and what was found.
 */
import assert from 'node:assert/strict'
import { copyFileSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { before, describe, it } from 'node:test'
import { leftOut } from '../../src/cli/commands/eval.js'
import { resolveDataPath } from '../../src/data/adapters.js'
import { parseDatasetSchema } from '../../src/data/schema.js'
import type { MetricRecord } from '../../src/metrics/types.js'
import { evaluateRun, loadRun } from '../../src/train/evaluate.js'
import { cli, predict, tempDir, tinyConfig } from './tiny.js'

describe('eval / predict --path: file, glob or dataset folder with --split', () => {
  const run = join(tempDir(), 'run')
  let dir = '' // the synthetic data folder the run was trained from: train/val/test.parquet + schema.json

  before(async () => {
    const r = await cli('train', '--config', tinyConfig(), '--out', run)
    assert.equal(r.code, 0, r.stderr)
    const files = JSON.parse(readFileSync(join(run, 'run.json'), 'utf8')).dataset.files
    dir = dirname(files.test[0])
    assert.deepEqual(
      [files.train[0], files.val[0], files.test[0]],
      ['train', 'val', 'test'].map((s) => join(dir, `${s}.parquet`)),
    )
  })

  const evalJson = async (...args: string[]): Promise<MetricRecord[]> => {
    const r = await cli('eval', '--run', run, '--dataset', 'synthetic', '--json', '--path', ...args)
    assert.equal(r.code, 0, r.stderr)
    return JSON.parse(r.stdout) as MetricRecord[]
  }
  const auc = (records: MetricRecord[], task: string) =>
    records.find((r) => r.task === task && r.metric === 'auc')!.value

  it("a folder scores one split: the same records as that split's file (default test, --split val)", async () => {
    const testFile = await evalJson(join(dir, 'test.parquet'))
    const folder = await evalJson(dir)
    assert.ok(testFile.length > 5)
    assert.deepEqual(folder, testFile)
    assert.deepEqual((await resolveDataPath(dir, { dataset: 'synthetic', split: 'test' })).files, [
      join(dir, 'test.parquet'),
    ])

    const valFile = await evalJson(join(dir, 'val.parquet'), '--split', 'val')
    const folderVal = await evalJson(dir, '--split', 'val')
    assert.deepEqual(folderVal, valFile)
    assert.ok(folderVal.every((r) => r.split === 'val'))
    // the two splits are different rows, so the records do differ (the folder is not read whole)
    assert.notEqual(auc(folderVal, 'click'), auc(folder, 'click'))
  })

  it("predict on a folder + --split writes the same rows as on the split's file", async () => {
    const out = tempDir()
    const a = await predict(run, 'synthetic', dir, join(out, 'folder.csv'), '--split', 'val')
    assert.equal(a.code, 0, a.stderr)
    assert.match(a.stderr, /predict: 560 rows of .*, split val: val\.parquet/)
    const b = await predict(run, 'synthetic', join(dir, 'val.parquet'), join(out, 'file.csv'))
    assert.equal(b.code, 0, b.stderr)
    const folderCsv = readFileSync(join(out, 'folder.csv'), 'utf8')
    assert.equal(folderCsv.trim().split('\n').length, 561)
    assert.equal(folderCsv, readFileSync(join(out, 'file.csv'), 'utf8'))
  })

  it('a folder without the split fails naming the folder and listing the splits it has', async () => {
    const noTest = mkdtempSync(join(tmpdir(), 'resflow-notest-'))
    for (const s of ['train', 'val']) copyFileSync(join(dir, `${s}.parquet`), join(noTest, `${s}.parquet`))
    const byDefault = await cli('eval', '--run', run, '--dataset', 'synthetic', '--path', noTest)
    assert.equal(byDefault.code, 1)
    assert.equal(
      byDefault.stderr.trim(),
      `resflow eval: --path ${noTest}: no test split (the default) in this folder for dataset synthetic (splits found: train: train.parquet; val: val.parquet); choose one with --split train|val`,
    )
    const asked = await predict(run, 'synthetic', noTest, join(noTest, 'x.csv'), '--split', 'test')
    assert.equal(asked.code, 1)
    assert.ok(
      asked.stderr.includes(
        `--path ${noTest}: no "test" split in this folder for dataset synthetic (splits found: train: train.parquet; val: val.parquet)`,
      ),
      asked.stderr,
    )
    assert.ok(!existsSync(join(noTest, 'x.csv')))
    const badName = await cli('eval', '--run', run, '--dataset', 'synthetic', '--path', noTest, '--split', 'holdout')
    assert.equal(badName.code, 1)
    assert.match(badName.stderr, /--split: a folder's split is one of train, val, test, got "holdout"/)
  })

  it('a glob matching nothing, or a missing file, fails naming --path and the pattern', async () => {
    const pattern = join(dir, 'nothing-*.parquet')
    const glob = await cli('eval', '--run', run, '--dataset', 'synthetic', '--path', pattern)
    assert.equal(glob.code, 1)
    assert.equal(glob.stderr.trim(), `resflow eval: --path "${pattern}": no files match this glob`)
    const missing = await cli('eval', '--run', run, '--dataset', 'synthetic', '--path', join(dir, 'tset.parquet'))
    assert.equal(missing.code, 1)
    assert.equal(missing.stderr.trim(), `resflow eval: --path ${join(dir, 'tset.parquet')}: no such file or folder`)
    // a glob that matches reads every matched file: train + test here
    const both = await cli('eval', '--run', run, '--dataset', 'synthetic', '--path', join(dir, 't*.parquet'))
    assert.equal(both.code, 0, both.stderr)
    assert.match(both.stdout, /\((\d+) rows\)/)
    assert.equal(Number(/\((\d+) rows\)/.exec(both.stdout)![1]), 6000 - 560)
  })

  it("the library: evaluateRun takes a folder and a split, the dataset defaulting to the run's", async () => {
    const loaded = await loadRun(run)
    try {
      const folder = await evaluateRun(loaded, dir, { split: 'val' })
      const file = await evaluateRun(loaded, join(dir, 'val.parquet'), { split: 'val' })
      assert.deepEqual(folder.source, { path: dir, kind: 'folder', files: [join(dir, 'val.parquet')], split: 'val' })
      assert.equal(folder.predictions.rows, 560)
      assert.deepEqual(folder.records, file.records)
      assert.deepEqual(folder.predictions.probs, file.predictions.probs)
      await assert.rejects(
        evaluateRun(loaded, dir, { dataset: 'synthtic' }),
        /^ConfigError: dataset: unknown dataset "synthtic" \(available: /,
      )
    } finally {
      await loaded.session.release()
    }
    await assert.rejects(
      resolveDataPath(dir),
      /path .* is a folder: give the dataset \(dataset\) whose adapter finds its split files/,
    )
  })
})

describe('resolveDataPath', () => {
  it('a folder whose data files carry no split names is read whole, unless a split is asked for', async () => {
    const plain = mkdtempSync(join(tmpdir(), 'resflow-plain-'))
    for (const f of ['part-1.parquet', 'part-0.parquet', 'notes.txt']) writeFileSync(join(plain, f), '')
    assert.deepEqual(await resolveDataPath(plain, { dataset: 'synthetic' }), {
      path: plain,
      kind: 'folder',
      files: ['part-0.parquet', 'part-1.parquet'].map((f) => join(plain, f)),
      split: null,
    })
    await assert.rejects(
      resolveDataPath(plain, { dataset: 'synthetic', split: 'val' }),
      /no "val" split in this folder: none of its synthetic data files is named after a split \(train, val, test\): part-0\.parquet, part-1\.parquet/,
    )
    const empty = mkdtempSync(join(tmpdir(), 'resflow-empty-'))
    writeFileSync(join(empty, 'notes.txt'), '')
    await assert.rejects(
      resolveDataPath(empty, { dataset: 'synthetic' }),
      /path .*: no synthetic data files in this folder \(expected: .*; found: notes\.txt\)/,
    )
  })

  it("finds census-income.{train,val}.gz, and the UCI release's census-income.data.gz as train", async (t) => {
    const uci = mkdtempSync(join(tmpdir(), 'resflow-census-'))
    for (const f of ['census-income.data.gz', 'census-income.test.gz', 'census-income.names'])
      writeFileSync(join(uci, f), '')
    assert.deepEqual((await resolveDataPath(uci, { dataset: 'census' })).files, [join(uci, 'census-income.test.gz')])
    assert.deepEqual((await resolveDataPath(uci, { dataset: 'census', split: 'train' })).files, [
      join(uci, 'census-income.data.gz'),
    ])

    const shared = resolve(dirname(fileURLToPath(import.meta.url)), '../../../shared/data/census-income')
    if (!existsSync(shared)) return t.skip('../shared/data/census-income absent')
    assert.deepEqual(await resolveDataPath(shared, { dataset: 'census', split: 'val' }), {
      path: shared,
      kind: 'folder',
      files: [join(shared, 'census-income.val.gz')],
      split: 'val',
    })
    await assert.rejects(resolveDataPath(shared, { dataset: 'census', optionPrefix: '--' }), (err: Error) => {
      assert.equal(
        err.message,
        `--path ${shared}: no test split (the default) in this folder for dataset census (splits found: train: census-income.train.gz; val: census-income.val.gz); choose one with --split train|val`,
      )
      return true
    })
  })
})

describe("eval / predict: rows a run's filter leaves out", () => {
  it('are counted in the summary line with the filter, and nothing is said without one', () => {
    const report = { files: [], read: 10, rows: 6, filtered: 4, droppedFunnel: 0, skippedBad: 0 }
    const schema = parseDatasetSchema({
      tasks: [{ name: 'click' }],
      filter: [
        { column: 'play_time_ms', greaterThan: 0 },
        { column: 'tab', oneOf: [1] },
      ],
    })
    assert.equal(leftOut(report, schema), ", 4 more left out by the run's filter (play_time_ms > 0, tab in [1])")
    assert.equal(leftOut({ ...report, filtered: 0 }, parseDatasetSchema({ tasks: [{ name: 'click' }] })), '')
  })
})
