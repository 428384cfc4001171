/** `resflow export` of a resflow-twin run writes the two tower files a pre-ranking stack reads: each side's inputs only, with the composition in their metadata. */
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { run } from '../../src/cli/commands/export.js'
import { readExportMetadata } from '../../src/export/onnx.js'
import { TWIN_METADATA_KEY } from '../../src/export/twin.js'
import { VARIANTS, twinRun } from '../export/twin-fixture.js'

describe('resflow export of a twin run', () => {
  it('writes model.user.onnx and model.item.onnx with side inputs and the composition', async () => {
    const runDir = await twinRun(VARIANTS[0].config, VARIANTS[0].fusion)
    const out = join(mkdtempSync(join(tmpdir(), 'resflow-export-twin-')), 'model.onnx')
    const log = console.log
    console.log = () => {}
    try {
      assert.equal(await run(['--run', runDir, '--out', out]), 0)
    } finally {
      console.log = log
    }
    const user = await readExportMetadata(readFileSync(out.replace(/\.onnx$/, '.user.onnx')))
    const item = await readExportMetadata(readFileSync(out.replace(/\.onnx$/, '.item.onnx')))
    assert.deepEqual(JSON.parse(user['resflow.features']).dense, ['user_activity', 'context_score'])
    assert.deepEqual(JSON.parse(item['resflow.features']).dense, ['item_price', 'item_ctr_hist'])
    const composition = JSON.parse(user[TWIN_METADATA_KEY])
    assert.deepEqual(composition.tasks ?? composition.nodes.map((n: { task: string }) => n.task), [
      'click',
      'cart',
      'purchase',
    ])
    assert.deepEqual(JSON.parse(item[TWIN_METADATA_KEY]), composition)
  })
})
