import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { describe, it } from 'node:test'
import { loadExperiment, packageRoot } from '../../src/train/experiment.js'
import { cli, tempDir, tinyConfig } from './tiny.js'

const shipped = (name: string) => join(packageRoot(), 'configs', name)

describe('where the data of a config shipped in the package goes', () => {
  it('its .cache/ data folder moves under the cache root given, never inside the package', () => {
    const cache = tempDir()
    const e = loadExperiment(shipped('synthetic.yaml'), { cacheRoot: cache })
    assert.equal(e.data.dir, join(cache, 'synthetic'))
  })

  it('the cache root defaults to RESFLOW_CACHE, else .cache in the working directory', () => {
    const cache = tempDir()
    const before = process.env.RESFLOW_CACHE
    process.env.RESFLOW_CACHE = cache
    try {
      assert.equal(loadExperiment(shipped('synthetic_test.yaml')).data.dir, join(cache, 'synthetic_test'))
    } finally {
      if (before === undefined) delete process.env.RESFLOW_CACHE
      else process.env.RESFLOW_CACHE = before
    }
    assert.equal(loadExperiment(shipped('synthetic_test.yaml')).data.dir, resolve('.cache', 'synthetic_test'))
  })

  it('its other data folders resolve in the working directory; the schema files it names stay in the package', () => {
    const e = loadExperiment(shipped('kuairand.yaml'), { cacheRoot: tempDir() })
    assert.equal(e.data.dir, resolve('data', 'kuairand-pure'))
    assert.equal(e.data.schema, shipped(join('datasets', 'kuairand.yaml')))
  })

  it("a config of the user's own keeps its paths relative to its folder", () => {
    const file = tinyConfig((y) => y.replace(/dir: .*/, 'dir: data/here'))
    assert.equal(loadExperiment(file, { cacheRoot: tempDir() }).data.dir, resolve(file, '..', 'data', 'here'))
  })

  it("train --cache DIR generates a shipped config's data under DIR", async () => {
    const cache = tempDir()
    const r = await cli(
      'train',
      '--config',
      shipped('synthetic_test.yaml'),
      '--cache',
      cache,
      '--epochs',
      '1',
      '--out',
      join(tempDir(), 'run'),
    )
    assert.equal(r.code, 0, r.stderr)
    assert.ok(existsSync(join(cache, 'synthetic_test', 'train.parquet')), r.stderr)
  })
})
