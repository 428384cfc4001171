import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { cli, tinyConfig } from './tiny.js'

/** Runs `train` on the tiny config edited by `edit`; returns the error output. */
async function trainError(edit: (yaml: string) => string): Promise<{ file: string; stderr: string }> {
  const file = tinyConfig(edit)
  const r = await cli('train', '--config', file)
  assert.equal(r.code, 1, `expected a config error, got exit ${r.code}: ${r.stderr}`)
  return { file, stderr: r.stderr }
}

const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

describe('experiment config errors name the file and the field', () => {
  it('an unknown key, with the allowed ones', async () => {
    const { file, stderr } = await trainError((y) =>
      y.replace('optimizer: { kind: adam, lr: 0.003 }', 'optimizer: { kind: adam, learningRate: 0.003 }'),
    )
    assert.match(
      stderr,
      new RegExp(
        `${esc(file)}: optimizer: unknown key "learningRate" \\(allowed: beta1, beta2, clipNorm, eps, kind, lr, weightDecay\\)`,
      ),
    )
  })

  it('a value of the wrong type', async () => {
    const { file, stderr } = await trainError((y) => y.replace('epochs: 2', 'epochs: two'))
    assert.match(stderr, new RegExp(`${esc(file)}: epochs: expected number, got "two"`))
  })

  it("an option the model does not have, with the model's options", async () => {
    const { file, stderr } = await trainError((y) => y.replace('towers: [16, 8]', 'towers: [16, 8]\n  numExperts: 4'))
    assert.match(
      stderr,
      new RegExp(`${esc(file)}: model: unknown option "numExperts" for model "resflow" \\(allowed: .*residual`),
    )
  })

  it('an early-stopping task that is not in the data', async () => {
    const { file, stderr } = await trainError((y) =>
      y.replace('earlyStopping: { metric: mean-auc, patience: 2 }', 'earlyStopping: { metric: task-auc, task: cart }'),
    )
    assert.match(
      stderr,
      new RegExp(`${esc(file)}: earlyStopping\\.task: unknown task "cart" \\(tasks: click, purchase\\)`),
    )
  })

  it("an unknown model name, with the registry's names", async () => {
    const { file, stderr } = await trainError((y) => y.replace('model: resflow', 'model: resflw'))
    assert.match(stderr, new RegExp(`${esc(file)}: model: unknown model "resflw" \\(available: .*resflow`))
  })

  it('an unknown command-line option, with the allowed ones', async () => {
    const r = await cli('train', '--config', tinyConfig(), '--epoch', '3')
    assert.equal(r.code, 1)
    assert.match(
      r.stderr,
      /Unknown option '--epoch' \(allowed: --config, --out, --resume, --model, --seed, --epochs, --threads, --memory-budget-mb, --workers, --cache\)/,
    )
  })
})
