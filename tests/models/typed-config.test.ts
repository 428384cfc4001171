/**
 * Typed model configs in the public API: a config written in code is checked by the compiler against the
 * registry's zod schemas. The compile-time half runs in `npm test`'s `tsc -p tsconfig.json --noEmit`
 * (tsconfig includes tests/): each `@ts-expect-error` fails the typecheck if its line stops being an
 * error. The run-time half checks that the same configs build, or throw the ConfigError the schema gives
 * a config read from a file.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { type ModelConfig, type ModelConfigInput, ConfigError, buildModel } from '../../src/index.js'
import { FUNNEL_SPEC } from '../helpers/funnel.js'

describe('typed model configs', () => {
  it('accepts each model with its own options, defaults optional', () => {
    const configs: ModelConfig[] = [
      { model: 'resflow' },
      { model: 'resflow', embeddingDim: 4, towers: [8, 4], residual: 'logit', taskOrder: 'reversed' },
      { model: 'resflow', embeddingDim: 4, towers: { click: [8], purchase: [8] } },
      { model: 'mmoe', embeddingDim: 4, numExperts: 2, expertUnits: [8], towers: [4] },
      { model: 'shared-bottom', embeddingDim: 4, bottom: [8], towers: [4] },
      { model: 'resflow-twin', embeddingDim: 4, towers: [8], vectorDim: 4 },
    ]
    for (const config of configs) assert.deepEqual(buildModel(FUNNEL_SPEC, config).tasks, ['click', 'purchase'])
    assert.equal(buildModel(FUNNEL_SPEC, { model: 'esmm', embeddingDim: 4, towers: [4] }).name, 'esmm')
  })

  it('rejects a misspelled option, a wrong value type and an unknown model at compile time', () => {
    // each line is also a run-time error: the untyped path reports the same mistakes from a file
    // @ts-expect-error `towerz` is not an option of resflow (tsc: "Did you mean to write 'towers'?")
    assert.throws(() => buildModel(FUNNEL_SPEC, { model: 'resflow', towerz: [8] }), ConfigError)
    // @ts-expect-error towers is a list of units (or one list per task), not a string
    assert.throws(() => buildModel(FUNNEL_SPEC, { model: 'resflow', towers: '64' }), ConfigError)
    // @ts-expect-error `numExperts` belongs to the MoE models, not to resflow
    assert.throws(() => buildModel(FUNNEL_SPEC, { model: 'resflow', numExperts: 2 }), ConfigError)
    // @ts-expect-error no model is called "mmeo"
    assert.throws(() => buildModel(FUNNEL_SPEC, { model: 'mmeo' }), ConfigError)
    // @ts-expect-error the same check without buildModel: a value annotated as ModelConfig
    const typo: ModelConfig = { model: 'mmoe', numExperts: 2, expertUnit: [8] }
    assert.throws(() => buildModel(FUNNEL_SPEC, typo), ConfigError)
  })

  it('keeps the untyped path for configs read from files (model is a plain string)', () => {
    const fromFile = JSON.parse('{"model": "resflow", "embeddingDim": 4, "towers": [8]}') as ModelConfigInput
    assert.equal(buildModel(FUNNEL_SPEC, fromFile).name, 'resflow')
    const typoFromFile = JSON.parse('{"model": "resflow", "towerz": [8]}') as ModelConfigInput
    assert.throws(() => buildModel(FUNNEL_SPEC, typoFromFile), /unknown option "towerz" for model "resflow"/)
  })
})
