import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { COMMAND_NAMES } from '../../src/cli/main.js'
import { MODELS, MODEL_NAMES } from '../../src/models/registry.js'
import { cli, tempDir, tinyConfig } from './tiny.js'

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }

describe('resflow --help, --version, help <command>', () => {
  for (const name of COMMAND_NAMES) {
    it(`${name} --help prints its usage, every option and an example`, async () => {
      const r = await cli(...name.split(' '), '--help')
      assert.equal(r.code, 0, r.stderr)
      assert.match(r.stdout, new RegExp(`^usage: resflow ${name} `))
      assert.match(r.stdout, /\noptions:\n/)
      assert.match(r.stdout, new RegExp(`\nexamples?:\n  resflow ${name}\\b`))
    })
  }

  it('datagen --help shows the defaults of its options', async () => {
    const r = await cli('datagen', '--help')
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /--rows VALUE .*\(default 200000\)/)
    assert.match(r.stdout, /--tasks VALUE .*\(default click,purchase\)/)
  })

  it('--version prints the package version', async () => {
    const r = await cli('--version')
    assert.equal(r.code, 0)
    assert.equal(r.stdout.trim(), pkg.version)
  })

  it("help <command> prints that command's help, help alone the command list", async () => {
    const r = await cli('help', 'data', 'stats')
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /^usage: resflow data stats /)
    const all = await cli('help')
    assert.equal(all.code, 0)
    assert.match(all.stdout, /models +list the registered models/)
    const bad = await cli('help', 'trian')
    assert.equal(bad.code, 2)
    assert.match(bad.stderr, /unknown command "trian" \(available: .*train/)
  })
})

describe('resflow models', () => {
  it('--json lists every registered model with its summary, paper and options with the schema defaults', async () => {
    const r = await cli('models', '--json')
    assert.equal(r.code, 0, r.stderr)
    const list = JSON.parse(r.stdout) as {
      name: string
      summary: string
      paper: string
      options: { name: string; type: string; default?: unknown; required: boolean }[]
    }[]
    assert.deepEqual(
      list.map((m) => m.name),
      MODEL_NAMES,
    )
    for (const m of list) {
      const entry = MODELS[m.name as keyof typeof MODELS]
      assert.equal(m.summary, entry.summary)
      assert.ok(m.paper.length > 0, m.name)
      assert.deepEqual(m.options.map((o) => o.name).sort(), Object.keys(entry.config.shape).sort())
    }
    const resflow = list.find((m) => m.name === 'resflow')!
    assert.deepEqual(resflow.options.find((o) => o.name === 'towers')?.default, [128, 64])
    assert.equal(resflow.options.find((o) => o.name === 'embeddingDim')?.default, 16)
    assert.match(resflow.paper, /2411\.09705/)
  })

  it('prints a table of the models and their options for a person', async () => {
    const r = await cli('models')
    assert.equal(r.code, 0, r.stderr)
    for (const name of MODEL_NAMES) assert.match(r.stdout, new RegExp(`^${name}  `, 'm'))
    assert.match(r.stdout, /towers .*= \[128,64\]/)
  })
})

describe('resflow train options', () => {
  it("--threads sets the experiment's onnxruntime threads", async () => {
    const out = join(tempDir(), 'run')
    const r = await cli('train', '--config', tinyConfig(), '--out', out, '--epochs', '1', '--threads', '2')
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stderr, /2 threads/)
  })

  it('--model PATH trains a preset file from configs/models', async () => {
    const out = join(tempDir(), 'run')
    const preset = new URL('../../configs/models/resflow_test.yaml', import.meta.url).pathname
    const r = await cli('train', '--config', tinyConfig(), '--out', out, '--epochs', '1', '--model', preset)
    assert.equal(r.code, 0, r.stderr)
    const manifest = JSON.parse(readFileSync(join(out, 'run.json'), 'utf8'))
    assert.equal(manifest.model, 'resflow')
    assert.deepEqual(manifest.modelConfig.towers, [16, 8])
  })

  it('--model NAME finds a preset of configs/models by name', async () => {
    const out = join(tempDir(), 'run')
    const r = await cli('train', '--config', tinyConfig(), '--out', out, '--epochs', '1', '--model', 'resflow_test')
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stderr, /preset .*resflow_test\.yaml/)
  })

  it('a bad preset fails before the data is prepared, naming the preset file and the option', async () => {
    const dir = tempDir()
    const data = join(dir, 'never-generated')
    const config = tinyConfig((y) => y.replace(/dir: .*/, `dir: ${data}`))
    const preset = join(dir, 'bad.yaml')
    writeFileSync(preset, 'model: resflow\ntowerz: [8]\n')
    const r = await cli('train', '--config', config, '--out', join(dir, 'run'), '--model', preset)
    assert.equal(r.code, 1)
    assert.match(r.stderr, /bad\.yaml: model: unknown option "towerz" for model "resflow"/)
    assert.ok(!existsSync(data), 'the data was generated before the preset was checked')
    const unknown = await cli('train', '--config', config, '--out', join(dir, 'run'), '--model', 'resflw')
    assert.equal(unknown.code, 1)
    assert.match(
      unknown.stderr,
      /--model: unknown model or preset "resflw" \(models: .*resflow.*; presets: .*resflow-aliccp/,
    )
  })

  it('Ctrl-C during training prints one line saying how to resume, and releases the run folder', async () => {
    const out = join(tempDir(), 'run')
    const config = tinyConfig((y) => y.replace('patience: 2', 'patience: null')) // no early stop: still training when the signal comes
    const child = spawn(
      process.execPath,
      [
        new URL('../../bin/resflow.js', import.meta.url).pathname,
        'train',
        '--config',
        config,
        '--out',
        out,
        '--epochs',
        '1000',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    )
    let stderr = ''
    const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)))
    await new Promise<void>((started) =>
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString()
        if (/epoch 2\/1000/.test(stderr)) started() // epoch 1's checkpoint is written
      }),
    )
    child.kill('SIGINT')
    const code = await exited
    assert.equal(code, 130, stderr.slice(-1500))
    const last = stderr.trim().split('\n').at(-1)!
    assert.equal(
      last,
      `train: interrupted; resume with: resflow train --config ${config} --out ${out} --epochs 1000 --resume`,
    )
    assert.ok(!existsSync(join(out, 'train.lock')), 'train.lock left behind')
  })
})
