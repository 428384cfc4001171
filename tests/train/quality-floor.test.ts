/**
 * Quality floors measured against the independent PyTorch reference (../shared/reference/mtl_ref.py),
 * not against resflow itself: a fixed data set, a fixed seed, and the reference's mean test AUC on the
 * same rows minus a margin. The reference's figures and the commands that produced them are in
 * tests/fixtures/quality-floor.json. A change that makes the default recipe train worse (for instance
 * input BatchNorm back on, or Xavier init) drops below these floors; see bench/results/quality.md.
 */
import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { after, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { generateSynthetic } from '../../src/data/synth.js'
import { computeAuc } from '../../src/metrics/auc.js'
import { collectPredictions } from '../../src/train/evaluate.js'
import { loadExperiment } from '../../src/train/experiment.js'
import { prepareData } from '../../src/train/prepare.js'
import { trainRun } from '../../src/train/train-run.js'

const here = dirname(fileURLToPath(import.meta.url))
const repo = resolve(here, '../..')
interface Floor {
  /** the reference's test AUC per task and seed */
  reference: Record<string, number[]>
  /** floor = mean of the reference − margin, per task */
  margin: Record<string, number>
  command: string
}
const fixture = JSON.parse(readFileSync(join(here, '../fixtures/quality-floor.json'), 'utf8')) as {
  funnel: Floor & { data: { rows: number; seed: number; split: [number, number, number] } }
  census: Floor
}

const floorOf = (f: Floor, task: string) =>
  f.reference[task].reduce((a, b) => a + b, 0) / f.reference[task].length - f.margin[task]

/** Asserts that each task's test AUC reaches its floor, the message naming the reference mean's margin. */
function assertAboveFloors(auc: Record<string, number>, f: Floor, tasks: string[]): void {
  for (const task of tasks) {
    const floor = floorOf(f, task)
    assert.ok(
      auc[task] >= floor,
      `${task}: test AUC ${auc[task].toFixed(4)} < floor ${floor.toFixed(4)} (reference mean − ${f.margin[task]})`,
    )
  }
}

/** Trains `model` with the experiment's recipe and seed; returns the test AUC per task. */
async function testAuc(configFile: string, model: string): Promise<Record<string, number>> {
  const e = loadExperiment(configFile)
  const data = await prepareData(e.data, () => {}, e.file)
  const dir = mkdtempSync(join(tmpdir(), 'resflow-floor-'))
  try {
    const run = await trainRun(e, data, { model, runDir: dir })
    const test = await collectPredictions(run.session, data.testBatches(e.evalBatchSize)!)
    await run.session.release()
    return Object.fromEntries(data.spec.tasks.map((t) => [t, computeAuc(test.probs[t], test.labels[t])]))
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

describe('quality floors against the PyTorch reference', () => {
  const work = mkdtempSync(join(tmpdir(), 'resflow-quality-'))
  after(() => rmSync(work, { recursive: true, force: true }))

  it('synthetic funnel (datagen, 400k training rows, the bench:quality funnel): resflow with the default recipe reaches the reference minus a margin', async () => {
    const { rows, seed, split } = fixture.funnel.data
    await generateSynthetic({ outDir: join(work, 'funnel'), rows, seed, tasks: ['click', 'purchase'], split })
    // the recipe of configs/quality/funnel.yaml (the reference's), on the generated folder
    const config = readFileSync(join(repo, 'configs/quality/funnel.yaml'), 'utf8').replace(
      /^ {2}dir: .*$/m,
      `  dir: ${join(work, 'funnel')}`,
    )
    writeFileSync(join(work, 'funnel.yaml'), config)
    const auc = await testAuc(join(work, 'funnel.yaml'), 'resflow')
    assertAboveFloors(auc, fixture.funnel, ['click', 'purchase'])
  })

  it('census income (UCI, given train file, val file halved): resflow reaches the reference minus a margin', async (t) => {
    if (!existsSync(resolve(repo, '../shared/data/census-income'))) return t.skip('../shared/data/census-income absent')
    const auc = await testAuc(join(repo, 'configs/quality/census.yaml'), 'resflow')
    assertAboveFloors(auc, fixture.census, ['income', 'marital'])
  })
})
