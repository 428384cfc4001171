/**
 * npm run bench:engine — training throughput (samples/s) of the ResFlow-sized benchmark model,
 * resflow and PyTorch side by side in one run, interleaved, each at least twice.
 * Last line: {"resflow_samples_per_s": N, "pytorch_samples_per_s": M} (best runs at B=2048; M null without torch).
 */
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { TrainSession } from '../src/train/session.js'
import { benchBatches, benchModel } from './engine-model.js'

const args = new Map(process.argv.slice(2).map((a) => a.replace(/^--/, '').split('=') as [string, string]))
const steps = Number(args.get('steps') ?? 30)
const warmup = Number(args.get('warmup') ?? 5)
const repeats = Number(args.get('repeats') ?? 2)
const threads = Number(args.get('threads') ?? 1)
const batchSizes = (args.get('batch') ?? '1024,2048').split(',').map(Number)

async function resflowRun(batch: number): Promise<number> {
  const session = await TrainSession.create(benchModel(), {
    seed: 1,
    threads,
    optimizer: { kind: 'adam', lr: 1e-3 },
    sparseOptimizer: { kind: 'adam', lr: 1e-3 },
  })
  const batches = benchBatches(8, batch, 7)
  const stream = function* (n: number) {
    for (let i = 0; i < n; i++) yield batches[i % batches.length]
  }
  await session.trainBatches(stream(warmup))
  const t0 = performance.now()
  await session.trainBatches(stream(steps))
  const seconds = (performance.now() - t0) / 1000
  await session.release()
  return (steps * batch) / seconds
}

function torchAvailable(): string | null {
  for (const py of ['/usr/bin/python3', 'python3']) {
    const r = spawnSync(py, ['-c', 'import torch'], { encoding: 'utf8' })
    if (r.status === 0) return py
  }
  return null
}

function pytorchRun(py: string, batch: number): number | null {
  const script = fileURLToPath(new URL('./pytorch/engine_bench.py', import.meta.url))
  const r = spawnSync(
    py,
    [
      script,
      '--batch',
      String(batch),
      '--steps',
      String(steps),
      '--warmup',
      String(warmup),
      '--threads',
      String(threads),
      '--json',
    ],
    {
      encoding: 'utf8',
      env: { ...process.env, OMP_WAIT_POLICY: 'PASSIVE', OMP_NUM_THREADS: String(threads) },
    },
  )
  const last = r.stdout.trim().split('\n').pop() ?? ''
  try {
    return JSON.parse(last).samples_per_s as number
  } catch {
    console.error(`pytorch run failed: ${r.stderr.slice(-500)}`)
    return null
  }
}

const py = torchAvailable()
console.log(
  `bench:engine steps=${steps} warmup=${warmup} threads=${threads} repeats=${repeats} torch=${py ?? 'absent'}`,
)
const best: Record<string, { resflow: number; pytorch: number | null }> = {}
for (const batch of batchSizes) {
  const r: number[] = []
  const p: number[] = []
  for (let k = 0; k < repeats; k++) {
    r.push(await resflowRun(batch))
    console.log(`  B=${batch} run ${k + 1} resflow  ${r[k].toFixed(0)} samples/s`)
    if (py) {
      const v = pytorchRun(py, batch)
      if (v !== null) {
        p.push(v)
        console.log(`  B=${batch} run ${k + 1} pytorch  ${v.toFixed(0)} samples/s`)
      }
    }
  }
  best[batch] = { resflow: Math.max(...r), pytorch: p.length ? Math.max(...p) : null }
  console.log(
    `B=${batch}: resflow best ${best[batch].resflow.toFixed(0)}, pytorch best ${best[batch].pytorch?.toFixed(0) ?? 'n/a'}`,
  )
}
const last = best[2048] ?? best[batchSizes[batchSizes.length - 1]]
console.log(
  JSON.stringify({
    resflow_samples_per_s: Math.round(last.resflow),
    pytorch_samples_per_s: last.pytorch === null ? null : Math.round(last.pytorch),
  }),
)
