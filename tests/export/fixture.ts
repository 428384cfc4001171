/**
 * A tiny trained model with every kind of input (single-valued and multi-valued categorical, sum and
 * mean pooling, dense), two tasks, BatchNorm, and a run directory written with the run-dir helpers
 * (format 1, sealed with checksums.json as a training seals its run).
 * Used until (and beside) the registry and the data layer: the codec here is a miniature preprocessing.
 */
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Batch, InputSpec } from '../../src/data/types.js'
import type { RawRow, RowCodec, RunDeps } from '../../src/export/predictor.js'
import { saveWeights } from '../../src/run/checkpoint.js'
import { runFiles, sealRun, writeManifest } from '../../src/run/run-dir.js'
import { writeAtomic } from '../../src/run/checkpoint.js'
import { TrainSession } from '../../src/train/session.js'
import { tinyModel } from '../helpers/tiny-model.js'
import { Rng } from '../helpers/rng.js'

export const SPEC: InputSpec = {
  sparse: [
    { name: 'user', vocabSize: 20 },
    { name: 'item', vocabSize: 30, side: 'item' },
  ],
  multi: [
    { name: 'tags', vocabSize: 12, pooling: 'mean' },
    { name: 'cats', vocabSize: 8, pooling: 'sum', side: 'item' },
  ],
  dense: [{ name: 'age' }, { name: 'price', side: 'item' }],
  tasks: ['click', 'purchase'],
}

/** Miniature preprocessing: vocabularies "u<i>", "i<i>", "t<i>", "c<i>" (unknown → 0), age/100, log1p(price). */
export const PREP = {
  vocab: { user: 'u', item: 'i', tags: 't', cats: 'c' } as Record<string, string>,
  sizes: { user: 20, item: 30, tags: 12, cats: 8 } as Record<string, number>,
}

function idOf(feature: string, value: string | number | null): number {
  if (value === null) return 0
  const s = String(value)
  const prefix = PREP.vocab[feature]
  if (!s.startsWith(prefix)) return 0
  const n = Number(s.slice(prefix.length))
  return Number.isInteger(n) && n > 0 && n < PREP.sizes[feature] ? n : 0
}

export const codec: RowCodec = {
  spec: SPEC,
  features: [
    { name: 'user', kind: 'categorical' },
    { name: 'item', kind: 'categorical' },
    { name: 'tags', kind: 'list' },
    { name: 'cats', kind: 'list' },
    { name: 'age', kind: 'numeric' },
    { name: 'price', kind: 'numeric', nullable: false },
  ],
  encode(rows: readonly RawRow[]): Batch {
    const B = rows.length
    const user = new Int32Array(B)
    const item = new Int32Array(B)
    const dense = new Float32Array(B * 2)
    const multi = (f: string) => {
      const offsets = new Int32Array(B + 1)
      const ids: number[] = []
      rows.forEach((r, i) => {
        const v = r[f]
        const list = v === null || v === undefined ? [] : Array.isArray(v) ? v : String(v).split('|').filter(Boolean)
        for (const x of list) ids.push(idOf(f, x))
        offsets[i + 1] = ids.length
      })
      return { offsets, ids: Int32Array.from(ids) }
    }
    rows.forEach((r, i) => {
      user[i] = idOf('user', r.user as string)
      item[i] = idOf('item', r.item as string)
      dense[i * 2] = r.age === null ? 0 : Number(r.age) / 100
      dense[i * 2 + 1] = r.price === null ? 0 : Math.log1p(Number(r.price))
    })
    return { size: B, sparse: { user, item }, multi: { tags: multi('tags'), cats: multi('cats') }, dense, labels: {} }
  },
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

export const deps: RunDeps = {
  buildModel: (_manifest, spec) => tinyModel(spec, { hidden: [8, 4], dim: 4 }),
  codecOf: () => codec,
}

/** Trains the tiny model a few steps and writes a run directory; returns the dir and the session. */
export async function tinyRun(
  opts: {
    seed?: number
    fusion?: { kind: 'additive' | 'multiplicative'; weights: Record<string, number> } | null
    steps?: number
  } = {},
) {
  const seed = opts.seed ?? 7
  const model = deps.buildModel({} as never, SPEC)
  const session = await TrainSession.create(model, {
    seed,
    optimizer: { kind: 'adam', lr: 0.05 },
    sparseOptimizer: { kind: 'adam', lr: 0.05 },
    embeddingInitStd: 0.3,
  })
  for (let s = 0; s < (opts.steps ?? 5); s++)
    await session.trainStep(labelled(codec.encode(rawRows(64, seed * 100 + s)), s))
  const dir = mkdtempSync(join(tmpdir(), 'resflow-run-'))
  writeManifest(dir, {
    version: 1,
    model: 'tiny',
    modelConfig: {},
    tasks: SPEC.tasks,
    seed,
    fusion: opts.fusion === undefined ? { kind: 'additive', weights: { click: 1, purchase: 4 } } : opts.fusion,
    createdAt: `tiny-${seed}`,
  })
  writeAtomic(runFiles(dir).preprocessing, JSON.stringify(PREP))
  saveWeights(runFiles(dir).weights, session.params, session.tables)
  sealRun(dir)
  return { dir, session, model }
}
