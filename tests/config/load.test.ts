import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { z } from 'zod'
import { loadConfigFile, parseConfigText, withFile } from '../../src/config/load.js'
import { ConfigError } from '../../src/errors.js'

const Trainer = z.strictObject({
  batchSize: z.number().int().positive(),
  epochs: z.number().int().default(1),
  lr: z.number(),
  seed: z.number().int().default(0),
})
const Config = z.strictObject({
  model: z.strictObject({ towers: z.array(z.number().int().positive()) }),
  trainer: Trainer,
  kind: z.enum(['a', 'b']).optional(),
})

describe('loadConfigFile', () => {
  it('returns the parsed value with defaults filled in', () => {
    const dir = mkdtempSync(join(tmpdir(), 'resflow-config-'))
    const file = join(dir, 'x.yaml')
    writeFileSync(file, 'model:\n  towers: [128, 64]\ntrainer:\n  batchSize: 512\n  lr: 0.001\n')
    const cfg = loadConfigFile(file, Config)
    assert.deepEqual(cfg.model.towers, [128, 64])
    assert.equal(cfg.trainer.epochs, 1)
  })

  it('names the file and the field path with the value it got', () => {
    const text = 'model:\n  towers: [128, "64x"]\ntrainer:\n  batchSize: 512\n  lr: 0.001\n'
    assert.throws(
      () => parseConfigText(text, 'configs/x.yaml', Config),
      /configs\/x\.yaml: model\.towers\[1\]: expected number, got "64x"/,
    )
  })

  it('lists the allowed keys when it meets an unknown one', () => {
    const text = 'model:\n  towers: [1]\ntrainer:\n  batchsize: 512\n  batchSize: 1\n  lr: 0.1\n'
    assert.throws(
      () => parseConfigText(text, 'configs/x.yaml', Config),
      /configs\/x\.yaml: trainer: unknown key "batchsize" \(allowed: batchSize, epochs, lr, seed\)/,
    )
  })

  it('lists the allowed values of an enum and reads JSON too', () => {
    const text = JSON.stringify({ model: { towers: [1] }, trainer: { batchSize: 1, lr: 1 }, kind: 'c' })
    assert.throws(
      () => parseConfigText(text, 'x.json', Config),
      (err: unknown) =>
        err instanceof ConfigError &&
        /x\.json: kind: expected one of "a", "b", got "c"/.test(err.message) &&
        err.field === 'kind',
    )
  })

  it('reports a missing required field and bad YAML', () => {
    assert.throws(
      () => parseConfigText('model:\n  towers: []\ntrainer:\n  lr: 1\n', 'c.yaml', Config),
      /c\.yaml: trainer\.batchSize: expected number, got nothing \(required\)/,
    )
    assert.throws(() => parseConfigText('model: [\n', 'c.yaml', Config), /c\.yaml: not valid YAML/)
  })
})

describe('withFile', () => {
  const bad = () => {
    throw new ConfigError('data.val: expected a file', { field: 'data.val' })
  }
  const check = (err: unknown) => {
    assert.ok(err instanceof ConfigError)
    assert.equal(err.message, 'exp.yaml: data.val: expected a file')
    assert.equal(err.file, 'exp.yaml')
    assert.equal(err.field, 'data.val')
    return true
  }

  it('names the file in a ConfigError thrown by fn, once, and passes other errors and results through', () => {
    assert.throws(() => withFile('exp.yaml', bad), check)
    assert.throws(() => withFile('exp.yaml', () => withFile('exp.yaml', bad)), check)
    assert.throws(() => withFile('exp.yaml', () => JSON.parse('{')), SyntaxError)
    assert.equal(
      withFile('exp.yaml', () => 3),
      3,
    )
  })

  it('names the file when fn returns a promise that rejects with a ConfigError', async () => {
    await assert.rejects(
      withFile('exp.yaml', async () => bad()),
      check,
    )
    assert.equal(await withFile('exp.yaml', async () => 4), 4)
  })
})
