import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateSynthetic } from '../../src/data/synth.js'
import { loadDatasetSchema } from '../../src/data/schema.js'
import { fitPreprocessing } from '../../src/data/preprocessing.js'
import { encodeDataset } from '../../src/data/encode.js'
import { computeAuc } from '../../src/metrics/auc.js'

describe('generateSynthetic', () => {
  it('writes a learnable, funnel-consistent dataset with ≈4% clicks and ≈8% purchase given click', async () => {
    const outDir = mkdtempSync(join(tmpdir(), 'resflow-synth-'))
    const res = await generateSynthetic({ outDir, rows: 60000, seed: 5, tasks: ['click', 'cart', 'purchase'] })
    assert.ok(res.rates.click > 0.03 && res.rates.click < 0.05, `click rate ${res.rates.click}`)
    const pgc = res.rates.purchase / res.rates.click
    assert.ok(pgc > 0.05 && pgc < 0.12, `purchase given click ${pgc}`)
    const schema = loadDatasetSchema(res.schemaFile)
    const prep = await fitPreprocessing(schema, [res.files.train])
    const ds = await encodeDataset(prep, [res.files.train]) // funnel: error in the schema, so a violation would throw
    assert.equal(ds.rows, res.rows.train)
    const { click } = ds.columns.labels
    const auc = computeAuc(ds.columns.extra.p_click, click)
    assert.ok(auc > 0.72 && auc < 0.9, `true-probability AUC for click ${auc}`)
    assert.ok(ds.columns.group !== undefined)
  })

  it('repeats exactly with the same seed', async () => {
    const a = await generateSynthetic({ outDir: mkdtempSync(join(tmpdir(), 'resflow-synth-')), rows: 3000, seed: 9 })
    const b = await generateSynthetic({ outDir: mkdtempSync(join(tmpdir(), 'resflow-synth-')), rows: 3000, seed: 9 })
    assert.deepEqual(a.rates, b.rates)
    assert.deepEqual(a.rows, b.rows)
  })
})
