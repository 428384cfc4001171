/**
 * `node --import tsx bench/parallel.ts [--rows 300000] [--seeds 3] [--workers 1,2] [--epochs 1]`:
 * data-parallel workers side by side (docs/parallel.md). A `resflow datagen` click → purchase funnel
 * (configs/synthetic.yaml's model and recipe), one training per (seed, workers), the worker counts
 * interleaved seed by seed so that they share the machine's load; per run: training samples/s, test
 * AUC per task, and where the training loop's time went per step (TrainSession.profile, and with
 * workers > 1 the shards' run and merge, DataParallelProgram.profile). Ends with the ratio of
 * samples/s (N workers / 1) and the AUC difference, mean over seeds.
 *
 * --profile first measures the CPU time of one training step against the batch size, with the step run
 * on this thread (workerThread: false, so the process's CPU time is the step's): a line c + r·B gives
 * the per-run cost c that every worker pays whatever its shard, and r, the cost per row.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadavg } from 'node:os'
import { parseArgs } from 'node:util'
import { computeAuc } from '../src/metrics/auc.js'
import { collectPredictions } from '../src/train/evaluate.js'
import { buildModel } from '../src/models/registry.js'
import { loadExperiment, modelConfigFor } from '../src/train/experiment.js'
import { TrainSession } from '../src/train/session.js'
import { prepareData } from '../src/train/prepare.js'
import { trainRun } from '../src/train/train-run.js'
import { meanStd } from './stats.js'

const { values } = parseArgs({
  options: {
    rows: { type: 'string', default: '300000' },
    seeds: { type: 'string', default: '3' },
    workers: { type: 'string', default: '1,2' },
    epochs: { type: 'string', default: '1' },
    batch: { type: 'string', default: '1024' },
    /** also: CPU time of one step against the batch size (the step on this thread), for the per-run cost */
    profile: { type: 'boolean', default: false },
  },
})
const rows = Number(values.rows)
const seeds = Number(values.seeds)
const workerCounts = values.workers.split(',').map(Number)
const work = join(tmpdir(), `resflow-parallel-bench`)
mkdirSync(work, { recursive: true })
// the demo's model and recipe (configs/synthetic.yaml) on a funnel of `rows` rows, split 80/10/10
const config = join(work, `funnel-${rows}.yaml`)
writeFileSync(
  config,
  [
    'name: parallel-bench',
    `data: { dataset: synthetic, dir: ${join(work, `funnel-${rows}`)}, generate: { rows: ${rows}, seed: 1, tasks: [click, purchase], split: [0.8, 0.1, 0.1] } }`,
    'model: { model: resflow, embeddingDim: 16, towers: [128, 64] }',
    'optimizer: { kind: adam, lr: 0.001 }',
    'sparseOptimizer: { kind: adam, lr: 0.001 }',
    'embeddingInitStd: 0.0001',
    `epochs: ${Number(values.epochs)}`,
    `batchSize: ${Number(values.batch)}`,
    'earlyStopping: { metric: mean-auc, patience: 2 }',
    'fusion: null',
    'checkpointMinutes: null',
    '',
  ].join('\n'),
)
const experiment = loadExperiment(config)
const data = await prepareData(experiment.data, (line) => console.error(line), experiment.file)
console.error(
  `bench/parallel: ${data.rows.train} training rows, batch ${experiment.batchSize}, ${experiment.epochs} epoch(s), seeds 1..${seeds}, workers ${workerCounts.join(' vs ')}; load ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`,
)

if (values.profile) {
  const model = buildModel(data.spec, modelConfigFor(experiment, experiment.model.model), {
    positiveRates: data.positiveRates,
  })
  const sizes = [128, 256, 512, 1024, 2048]
  const points: { b: number; cpuMs: number; wallMs: number }[] = []
  for (const b of sizes) {
    const session = await TrainSession.create(model, {
      seed: 1,
      workerThread: false,
      optimizer: experiment.optimizer,
      sparseOptimizer: experiment.sparseOptimizer,
    })
    const batches = [...data.trainBatches(1, 1, b)].slice(0, Math.max(20, Math.floor(40960 / b)))
    for (const x of batches.slice(0, 5)) await session.trainStep(x) // warm-up
    const measured = batches.slice(5)
    const p0 = { ...session.profile }
    const cpu0 = process.cpuUsage()
    const t0 = performance.now()
    await session.trainBatches(measured)
    const cpu = process.cpuUsage(cpu0)
    const cpuMs = (cpu.user + cpu.system) / 1000 / measured.length
    const wallMs = (performance.now() - t0) / measured.length
    points.push({ b, cpuMs, wallMs })
    // one thread does everything here: each phase's share of the wall time is its share of the CPU time
    const phases = (['deferredMs', 'readMs', 'sourceMs', 'waitMs', 'denseMs', 'rowsMs'] as const).map(
      (k) => `${k.replace('Ms', '')} ${(((session.profile[k] - p0[k]) / measured.length / wallMs) * cpuMs).toFixed(2)}`,
    )
    console.log(`profile: batch ${String(b).padStart(4)}, CPU ms per step by phase (one thread): ${phases.join(', ')}`)
    await session.release()
  }
  // least squares y = c + r·B
  const fit = (y: (p: (typeof points)[number]) => number) => {
    const n = points.length
    const mb = points.reduce((a, p) => a + p.b, 0) / n
    const my = points.reduce((a, p) => a + y(p), 0) / n
    const r = points.reduce((a, p) => a + (p.b - mb) * (y(p) - my), 0) / points.reduce((a, p) => a + (p.b - mb) ** 2, 0)
    return `${(my - r * mb).toFixed(2)} ms + ${(r * 1000).toFixed(2)} ms per 1000 rows`
  }
  for (const p of points)
    console.log(
      `profile: batch ${String(p.b).padStart(4)}: ${p.cpuMs.toFixed(2)} ms CPU, ${p.wallMs.toFixed(2)} ms wall per step`,
    )
  console.log(
    `profile: CPU per step (whole step on one thread) ≈ ${fit((p) => p.cpuMs)}; load ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  )
  // the training loop alone (batches held in memory: no source, no validation), 1 vs N workers
  // alternated 3 times: CPU time of the process and wall time per step
  const batches = [...data.trainBatches(1, 1, experiment.batchSize)].slice(0, 120)
  const loop: Record<number, { cpu: number[]; wall: number[] }> = {}
  for (let rep = 0; rep < 3; rep++) {
    for (const workers of workerCounts) {
      const session = await TrainSession.create(model, {
        seed: 1,
        workers,
        optimizer: experiment.optimizer,
        sparseOptimizer: experiment.sparseOptimizer,
      })
      await session.trainBatches(batches.slice(0, 10)) // warm-up
      const cpu0 = process.cpuUsage()
      const t0 = performance.now()
      await session.trainBatches(batches.slice(10))
      const cpu = process.cpuUsage(cpu0)
      const r = (loop[workers] ??= { cpu: [], wall: [] })
      r.cpu.push((cpu.user + cpu.system) / 1000 / (batches.length - 10))
      r.wall.push((performance.now() - t0) / (batches.length - 10))
      await session.release()
    }
  }
  for (const w of workerCounts) {
    const cpu = meanStd(loop[w].cpu)
    const wall = meanStd(loop[w].wall)
    console.log(
      `profile: training loop, ${w} worker(s): ${cpu.mean.toFixed(2)} ± ${cpu.std.toFixed(2)} ms CPU, ${wall.mean.toFixed(2)} ± ${wall.std.toFixed(2)} ms wall per step`,
    )
  }
  console.log(
    `profile: load ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  )
}

interface Result {
  workers: number
  seed: number
  samplesPerSecond: number
  /** CPU time of the process (every thread) per 1000 training samples, ms: the work, whatever the load */
  cpuMsPerKSample: number
  auc: number[]
  /** per step, ms */
  perStep: Record<string, number>
}
const results: Result[] = []
for (let seed = 1; seed <= seeds; seed++) {
  for (const workers of workerCounts) {
    const e = { ...experiment, workers }
    const cpu0 = process.cpuUsage()
    const runDir = join(work, `run-w${workers}-s${seed}-${process.pid}`)
    const run = await trainRun(e, data, { seed, runDir })
    const cpu = process.cpuUsage(cpu0)
    const test = await collectPredictions(run.session, data.testBatches(e.evalBatchSize)!)
    const p = run.session.profile
    const perStep: Record<string, number> = {}
    for (const k of ['deferredMs', 'readMs', 'sourceMs', 'waitMs', 'denseMs', 'rowsMs'] as const)
      perStep[k] = p[k] / p.steps
    const pp = run.session.parallelProfile
    if (pp) {
      perStep.shardRunMs = pp.runMs / pp.steps
      perStep.mergeMs = pp.mergeMs / pp.steps
    }
    const r: Result = {
      workers,
      seed,
      samplesPerSecond: run.fit.samplesPerSecond,
      cpuMsPerKSample: (cpu.user + cpu.system) / 1000 / ((data.rows.train * e.epochs) / 1000),
      auc: run.manifest.tasks.map((t) => computeAuc(test.probs[t], test.labels[t])),
      perStep,
    }
    results.push(r)
    const fmt = Object.entries(perStep)
      .map(([k, v]) => `${k} ${v.toFixed(2)}`)
      .join(', ')
    console.log(
      `workers ${workers} seed ${seed}: ${r.samplesPerSecond.toFixed(0)} samples/s, CPU ${r.cpuMsPerKSample.toFixed(1)} ms per 1000 samples, test AUC ${r.auc.map((a) => a.toFixed(4)).join(' / ')}; per step: ${fmt}; load ${loadavg()[0].toFixed(2)}`,
    )
    await run.session.release()
    rmSync(runDir, { recursive: true, force: true })
  }
}
const base = results.filter((r) => r.workers === workerCounts[0])
for (const w of workerCounts.slice(1)) {
  const mine = results.filter((r) => r.workers === w)
  const ratio = meanStd(mine.map((r, i) => r.samplesPerSecond / base[i].samplesPerSecond))
  console.log(
    `workers ${w} / ${workerCounts[0]}: samples/s ratio ${ratio.mean.toFixed(3)} ± ${ratio.std.toFixed(3)} (per seed: ${mine.map((r, i) => (r.samplesPerSecond / base[i].samplesPerSecond).toFixed(3)).join(', ')})`,
  )
  const cpu = meanStd(mine.map((r, i) => r.cpuMsPerKSample / base[i].cpuMsPerKSample))
  console.log(
    `  CPU time per sample ratio ${cpu.mean.toFixed(3)} ± ${cpu.std.toFixed(3)} (the parallel overhead: > 1 means more work in all for the same samples)`,
  )
  data.spec.tasks.forEach((t, k) => {
    const d = meanStd(mine.map((r, i) => r.auc[k] - base[i].auc[k]))
    const a = meanStd(mine.map((r) => r.auc[k]))
    const b = meanStd(base.map((r) => r.auc[k]))
    console.log(
      `  ${t} test AUC: ${b.mean.toFixed(4)} ± ${b.std.toFixed(4)} (${workerCounts[0]}) vs ${a.mean.toFixed(4)} ± ${a.std.toFixed(4)} (${w}); paired Δ ${d.mean >= 0 ? '+' : ''}${d.mean.toFixed(4)} ± ${d.std.toFixed(4)}`,
    )
  })
}
