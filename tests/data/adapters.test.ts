import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { openDataset, getAdapter } from '../../src/data/adapters.js'

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
const shared = resolve(repoRoot, '../shared/data')
const rate = (v: Float32Array) => v.reduce((a, b) => a + b, 0) / v.length

describe('dataset adapters on ../shared/data', () => {
  it('census: income ≈ 6.2% and marital ≈ 43% positive, label sources not used as features', async (t) => {
    if (!existsSync(resolve(shared, 'census-income'))) return t.skip('../shared/data/census-income absent')
    const d = await openDataset({ dataset: 'census', path: resolve(shared, 'census-income') })
    assert.equal(d.train.rows, 69833)
    assert.equal(d.val?.rows, 9976)
    assert.ok(Math.abs(rate(d.train.columns.labels.income) - 0.062) < 0.005)
    assert.ok(Math.abs(rate(d.train.columns.labels.marital) - 0.43) < 0.01)
    const names = [...d.spec.sparse, ...d.spec.dense].map((f) => f.name)
    assert.ok(!names.includes('marital_stat') && !names.includes('income_50k') && !names.includes('instance_weight'))
    assert.equal(d.spec.dense.length, 7)
  })

  it('aliexpress: 16 sparse, 63 dense, search_id groups', async (t) => {
    if (!existsSync(resolve(shared, 'samples/aliexpress'))) return t.skip('../shared/data/samples/aliexpress absent')
    const d = await openDataset({ dataset: 'aliexpress', path: resolve(shared, 'samples/aliexpress') })
    assert.equal(d.spec.sparse.length, 16)
    assert.equal(d.spec.dense.length, 63)
    assert.equal(d.train.rows, 100)
    assert.equal(d.test?.rows, 20)
    assert.ok(d.train.columns.group)
    assert.deepEqual(d.spec.tasks, ['click', 'conversion'])
  })

  it('aliccp: both processed layouts; the 18-field one drops click=0, purchase=1 rows with a count', async (t) => {
    if (!existsSync(resolve(shared, 'samples/ali-ccp'))) return t.skip('../shared/data/samples/ali-ccp absent')
    const d = await openDataset({ dataset: 'aliccp', path: resolve(shared, 'samples/ali-ccp') })
    assert.equal(d.spec.sparse.length, 23)
    assert.equal(d.spec.dense.length, 8)
    assert.equal(d.train.rows, 100)
    const aitm = await openDataset({ dataset: 'aliccp', path: resolve(shared, 'samples/ali-ccp/aitm_train.csv') })
    assert.equal(aitm.spec.sparse.length, 18)
    assert.ok(aitm.train.report.droppedFunnel > 0)
    assert.equal(aitm.train.report.rows + aitm.train.report.droppedFunnel, 48)
  })

  it('rejects an unknown dataset name listing the available ones', () => {
    assert.throws(
      () => getAdapter('censu'),
      /unknown dataset "censu" \(available: aliccp, aliccp-raw, aliexpress, census, csv, kuairand, parquet, synthetic\)/,
    )
  })
})

describe('split discovery', () => {
  it('never takes a test file for validation when a folder has no val file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'resflow-adapters-'))
    try {
      const header = 'user,click'
      writeFileSync(join(dir, 'log_train.csv'), [header, 'u1,1', 'u2,0', 'u3,1'].join('\n') + '\n')
      writeFileSync(join(dir, 'log_test.csv'), [header, 'u1,0', 'u4,1'].join('\n') + '\n')
      writeFileSync(join(dir, 'schema.yaml'), 'sparse: [{ name: user }]\ntasks: [{ name: click }]\n')
      const { splits } = await getAdapter('csv').resolve(dir, join(dir, 'schema.yaml'))
      assert.deepEqual(splits, { train: [join(dir, 'log_train.csv')], val: [], test: [join(dir, 'log_test.csv')] })
      const d = await openDataset({ dataset: 'csv', path: dir, schema: join(dir, 'schema.yaml') })
      assert.equal(d.val, undefined)
      assert.equal(d.test?.rows, 2)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
