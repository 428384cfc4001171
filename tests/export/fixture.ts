/**
 * A tiny trained run with every kind of input (single-valued and multi-valued categorical, sum and mean
 * pooling, dense), two tasks and BatchNorm: a registry model over a written-out preprocessing, in a run
 * folder written with the run-dir helpers (format 1, sealed with checksums.json as a training seals its
 * run), so it loads through openRun like any trained run.
 */
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type Preprocessing, PreprocessingSchema, inputSpecOf } from '../../src/data/preprocessing.js'
import type { Batch } from '../../src/data/types.js'
import { type RowCodec, codecFromPreprocessing } from '../../src/export/codec.js'
import { type ModelConfig, buildModel } from '../../src/models/registry.js'
import type { Model } from '../../src/models/types.js'
import { saveWeights, writeAtomic } from '../../src/run/checkpoint.js'
import { runFiles, sealRun, writeManifest } from '../../src/run/run-dir.js'
import { TrainSession } from '../../src/train/session.js'
import { Rng } from '../helpers/rng.js'

const range = (prefix: string, n: number) => Array.from({ length: n - 1 }, (_, i) => `${prefix}${i + 1}`)

/**
 * A fitted preprocessing, written out instead of fitted (no DuckDB): vocabularies "u1".."u19", "i1".."i29",
 * "t1".."t11", "c1".."c7" (anything else → id 0), age min-max scaled by 100 (missing → 0), log1p(price).
 */
export const PREP: Preprocessing = PreprocessingSchema.parse({
  version: 1,
  schema: {
    sparse: [{ name: 'user' }, { name: 'item', side: 'item' }],
    multi: [
      { name: 'tags', pooling: 'mean' },
      { name: 'cats', pooling: 'sum', side: 'item' },
    ],
    dense: [
      { name: 'age', transform: 'minmax', fillMissing: 0 },
      { name: 'price', transform: 'log1p', side: 'item' },
    ],
    tasks: [{ name: 'click' }, { name: 'purchase' }],
  },
  sparse: [
    { name: 'user', column: 'user', valueType: 'string', vocab: range('u', 20) },
    { name: 'item', column: 'item', valueType: 'string', vocab: range('i', 30), side: 'item' },
  ],
  multi: [
    { name: 'tags', column: 'tags', separator: '|', pooling: 'mean', vocab: range('t', 12) },
    { name: 'cats', column: 'cats', separator: '|', pooling: 'sum', vocab: range('c', 8), side: 'item' },
  ],
  dense: [
    { name: 'age', column: 'age', transform: 'minmax', fill: 0, mean: 0, std: 1, min: 0, max: 100 },
    { name: 'price', column: 'price', transform: 'log1p', mean: 0, std: 1, min: 0, max: 200, side: 'item' },
  ],
  buckets: [],
  tasks: ['click', 'purchase'],
  fit: { files: [], rows: 0 },
})

/** The model-facing inputs of PREP. */
export const SPEC = inputSpecOf(PREP)

/** The codec of PREP, as serving builds it. */
export const codec: RowCodec = codecFromPreprocessing(PREP)

/** A registry model (so a run folder of it loads like any trained run), small enough to train in milliseconds. */
export const MODEL_CONFIG = {
  model: 'shared-bottom' as const,
  embeddingDim: 4,
  bottom: [8],
  towers: [4],
} satisfies ModelConfig

export function fixtureModel(): Model {
  return buildModel(SPEC, MODEL_CONFIG)
}

/** Seeded raw rows; some values unknown to the vocabularies, some lists empty. */
export function rawRows(n: number, seed: number): Record<string, string | number | string[]>[] {
  const rng = new Rng(seed)
  const list = (p: string, max: number, size: number) =>
    Array.from({ length: rng.int(max + 1) }, () => `${p}${rng.int(size + 2)}`)
  return Array.from({ length: n }, () => ({
    user: `u${rng.int(22)}`,
    item: `i${rng.int(32)}`,
    tags: list('t', 4, 12),
    cats: list('c', 3, 8),
    age: Math.round(18 + rng.next() * 60),
    price: Math.round(rng.next() * 2000) / 10,
  }))
}

/** Labels that depend on the inputs, so training moves the weights somewhere non-trivial. */
export function labelled(batch: Batch, seed: number): Batch {
  const rng = new Rng(seed)
  const click = new Float32Array(batch.size)
  const purchase = new Float32Array(batch.size)
  for (let i = 0; i < batch.size; i++) {
    const z = (batch.sparse.user[i] % 3) - 1 + batch.dense[i * 2] * 2 - 1
    click[i] = rng.next() < 1 / (1 + Math.exp(-z)) ? 1 : 0
    purchase[i] = click[i] && rng.next() < 0.3 ? 1 : 0
  }
  return { ...batch, labels: { click, purchase } }
}

type FixtureFusion = { kind: 'additive' | 'multiplicative'; weights: Record<string, number> } | null

/** A session of the fixture model, before any training step. */
export function fixtureSession(seed: number): Promise<TrainSession> {
  return TrainSession.create(fixtureModel(), {
    seed,
    optimizer: { kind: 'adam', lr: 0.05 },
    sparseOptimizer: { kind: 'adam', lr: 0.05 },
    embeddingInitStd: 0.3,
  })
}

/** Writes a session of the fixture model as a sealed run folder (format 1); `extras` pads weights.bin. */
export function writeFixtureRun(
  dir: string,
  session: TrainSession,
  opts: { seed: number; fusion: FixtureFusion; extras?: Map<string, Float32Array> },
): void {
  writeManifest(dir, {
    version: 1,
    model: MODEL_CONFIG.model,
    modelConfig: { ...MODEL_CONFIG },
    tasks: SPEC.tasks,
    seed: opts.seed,
    fusion: opts.fusion,
    createdAt: `tiny-${opts.seed}`,
  })
  writeAtomic(runFiles(dir).preprocessing, JSON.stringify(PREP))
  saveWeights(runFiles(dir).weights, session.params, session.tables, opts.extras ? { extras: opts.extras } : {})
  sealRun(dir)
}

/** Trains the fixture model a few steps and writes a run directory; returns the dir, the session and the model. */
export async function tinyRun(opts: { seed?: number; fusion?: FixtureFusion; steps?: number } = {}) {
  const seed = opts.seed ?? 7
  const session = await fixtureSession(seed)
  for (let s = 0; s < (opts.steps ?? 5); s++)
    await session.trainStep(labelled(codec.encode(rawRows(64, seed * 100 + s)), s))
  const dir = mkdtempSync(join(tmpdir(), 'resflow-run-'))
  const fusion =
    opts.fusion === undefined ? { kind: 'additive' as const, weights: { click: 1, purchase: 4 } } : opts.fusion
  writeFixtureRun(dir, session, { seed, fusion })
  return { dir, session, model: session.model }
}
