/**
 * A small ReportData built from seeded synthetic predictions through the real metric and fusion code:
 * 2 models × 2 seeds, a click → purchase funnel, 5 epochs. Model "resflow" gets less noise on its
 * scores than "mmoe" (its click AUC comes out higher for these seeds).
 */
import { searchFusionWeights } from '../../src/metrics/fusion.js'
import { computeCalibrationBins } from '../../src/metrics/calibration.js'
import { computeRocCurve } from '../../src/metrics/auc.js'
import { computeTaskMetrics } from '../../src/metrics/evaluate.js'
import type { MetricRecord } from '../../src/metrics/types.js'
import type { ReportData, RunReport } from '../../src/report/types.js'
import { seededRandom } from '../metrics/rng.js'

export function buildFixtureReport(): ReportData {
  const tasks = ['click', 'purchase']
  const records: MetricRecord[] = []
  const runs: RunReport[] = []
  for (const [m, model] of ['resflow', 'mmoe'].entries()) {
    for (const seed of [1, 2]) {
      const rand = seededRandom(100 * m + seed)
      const n = 2000
      const probs = { click: new Float32Array(n), purchase: new Float32Array(n) }
      const labels = { click: new Float32Array(n), purchase: new Float32Array(n) }
      const noise = m === 0 ? 0.15 : 0.35
      for (let i = 0; i < n; i++) {
        const pc = 0.05 + 0.4 * rand() // true click rate
        const pp = pc * 0.3 * rand() // true purchase rate, ≤ click
        labels.click[i] = rand() < pc ? 1 : 0
        labels.purchase[i] = labels.click[i] === 1 && rand() < pp / pc ? 1 : 0
        probs.click[i] = Math.min(0.99, Math.max(0.01, pc + noise * (rand() - 0.5) * pc))
        probs.purchase[i] = Math.min(probs.click[i], Math.max(0.001, pp + noise * (rand() - 0.5) * pp))
      }
      for (const r of computeTaskMetrics({ tasks, probs, labels })) records.push({ model, seed, split: 'test', ...r })
      const search = searchFusionWeights(probs, labels, { kind: 'additive', grid: [0, 0.5, 1, 2, 4, 8] })
      records.push({ model, seed, split: 'test', task: 'fused', metric: 'auc', value: search.value })
      const history = Array.from({ length: 5 }, (_, e) => ({
        epoch: e + 1,
        trainLoss: 0.6 / (e + 1) + 0.2 + 0.01 * seed,
        valLoss: 0.55 / (e + 1) + 0.25 + 0.02 * m,
        valAuc: { click: 0.6 + 0.03 * e - 0.02 * m, purchase: 0.55 + 0.04 * e - 0.03 * m },
      }))
      runs.push({
        model,
        seed,
        history,
        roc: Object.fromEntries(tasks.map((t) => [t, computeRocCurve(probs[t as 'click'], labels[t as 'click'])])),
        calibration: Object.fromEntries(
          tasks.map((t) => [t, computeCalibrationBins(probs[t as 'click'], labels[t as 'click'])]),
        ),
        fusion: { kind: 'additive', objective: search.objective, sweep: search.sweep, chosen: search.fusion.weights },
      })
    }
  }
  return { title: 'resflow comparison <fixture>', notes: ['configs/synthetic.yaml, 2 seeds'], tasks, records, runs }
}
