/**
 * openRun: the one place where a run folder becomes a model. It rebuilds the model the run was trained
 * with from the stored config, and refuses a folder whose stored config or preprocessing is wrong, naming
 * the file and the field.
 */
import assert from 'node:assert/strict'
import { readFileSync, writeFileSync } from 'node:fs'
import { describe, it } from 'node:test'
import { ConfigError } from '../../src/errors.js'
import { modelWeights, openRun } from '../../src/run/open-run.js'
import { runFiles, sealRun } from '../../src/run/run-dir.js'
import { MODEL_CONFIG, tinyRun } from '../export/fixture.js'

/** Rewrites run.json through `edit` and seals the folder again (as if it had been written so). */
function editManifest(dir: string, edit: (m: Record<string, unknown>) => void): void {
  const file = runFiles(dir).manifest
  const manifest = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>
  edit(manifest)
  writeFileSync(file, JSON.stringify(manifest))
  sealRun(dir)
}

describe('openRun', () => {
  it('rebuilds the trained model: same parameters, same shapes, and the weights map onto them', async () => {
    const { dir, session } = await tinyRun({ seed: 21, steps: 2 })
    try {
      const run = openRun(dir)
      assert.equal(run.model.name, MODEL_CONFIG.model)
      assert.deepEqual(run.modelConfig.options.bottom, MODEL_CONFIG.bottom)
      assert.deepEqual(run.model.tasks, ['click', 'purchase'])
      const weights = modelWeights(run.weightsFile, run.model)
      for (const [name, entry] of session.params.entries) {
        const stored = weights.params.get(name)
        assert.ok(stored, `parameter ${name} missing from the loaded run`)
        assert.deepEqual(stored, entry.values)
      }
      for (const [name, table] of session.tables) assert.deepEqual(weights.tables.get(name), table.weights())
    } finally {
      await session.release()
    }
  })

  it('refuses a stored model config with an unknown option, naming run.json and the option', async () => {
    const { dir, session } = await tinyRun({ seed: 22, steps: 1 })
    await session.release()
    editManifest(dir, (m) => {
      m.modelConfig = { ...(m.modelConfig as object), towerz: [4] }
    })
    assert.throws(
      () => openRun(dir),
      (err: unknown) => err instanceof ConfigError && err.message.includes('run.json: ') && /towerz/.test(err.message),
    )
  })

  it('refuses a run whose tasks differ from the model it rebuilds, naming run.json and tasks', async () => {
    const { dir, session } = await tinyRun({ seed: 23, steps: 1 })
    await session.release()
    editManifest(dir, (m) => {
      m.tasks = ['purchase', 'click']
    })
    assert.throws(
      () => openRun(dir),
      /run\.json: tasks \[purchase, click\] differ from the model's \[click, purchase\]/,
    )
  })
})
