/**
 * Small resflow-twin runs over the synthetic funnel (three tasks, user/item sides from its schema), with
 * the real fitted preprocessing, trained a few steps (so BatchNorm statistics and weights are not at
 * their initial values) and written as sealed run directories. One data folder per test file, generated
 * on first use; one run per model-config variant.
 */
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect, queryObjects } from '../../src/data/duck.js'
import { type Preprocessing, fitPreprocessing, inputSpecOf } from '../../src/data/preprocessing.js'
import { encodeRows } from '../../src/data/encode-rows.js'
import { generateSynthetic } from '../../src/data/synth.js'
import { loadDatasetSchema } from '../../src/data/schema.js'
import type { Batch } from '../../src/data/types.js'
import type { Fusion } from '../../src/metrics/fusion.js'
import type { RawRow } from '../../src/export/codec.js'
import { buildModel } from '../../src/models/registry.js'
import { saveWeights, writeAtomic } from '../../src/run/checkpoint.js'
import { runFiles, sealRun, writeManifest } from '../../src/run/run-dir.js'
import { TrainSession } from '../../src/train/session.js'

export const TASKS = ['click', 'cart', 'purchase']
export const USER_COLUMNS = ['user_id', 'user_segment', 'hour', 'device', 'user_activity', 'context_score']
export const ITEM_COLUMNS = ['item_id', 'item_category', 'item_price', 'item_ctr_hist']

export interface TwinData {
  prep: Preprocessing
  /** raw training rows (features and labels) */
  rows: Record<string, string | number | null>[]
  /** one raw row per item id seen in the data: the item-side columns only */
  items: RawRow[]
  /** distinct contexts (user-side columns only) */
  contexts: RawRow[]
}

let data: Promise<TwinData> | undefined

/** The synthetic data, its fitted preprocessing, item rows and contexts (once per process). */
export function twinData(): Promise<TwinData> {
  data ??= (async () => {
    const dir = mkdtempSync(join(tmpdir(), 'resflow-twin-data-'))
    const gen = await generateSynthetic({ outDir: dir, rows: 4000, seed: 11, tasks: TASKS })
    const schema = loadDatasetSchema(gen.schemaFile)
    const conn = await connect()
    const prep = await fitPreprocessing(schema, [gen.files.train], { conn })
    const rows = (await queryObjects(conn, `SELECT * FROM read_parquet('${gen.files.train}') ORDER BY ALL`)) as Record<
      string,
      string | number | null
    >[]
    conn.closeSync()
    const pick = (r: Record<string, unknown>, cols: string[]) =>
      Object.fromEntries(cols.map((c) => [c, r[c] as string | number | null]))
    const items = new Map<string, RawRow>()
    for (const r of rows) if (!items.has(String(r.item_id))) items.set(String(r.item_id), pick(r, ITEM_COLUMNS))
    const contexts = rows.slice(0, 40).map((r) => pick(r, USER_COLUMNS))
    return { prep, rows, items: [...items.values()], contexts }
  })()
  return data
}

function labelled(prep: Preprocessing, rows: Record<string, string | number | null>[]): Batch {
  const batch = encodeRows(prep, rows)
  return { ...batch, labels: Object.fromEntries(TASKS.map((t) => [t, Float32Array.from(rows, (r) => Number(r[t]))])) }
}

/** Trains a resflow-twin with `modelConfig` a few steps and writes a sealed run directory. */
export async function twinRun(modelConfig: Record<string, unknown>, fusion: Fusion | null, seed = 3): Promise<string> {
  const { prep, rows } = await twinData()
  const spec = inputSpecOf(prep)
  const config = { embeddingDim: 4, towers: [8, 4], vectorDim: 6, ...modelConfig }
  const model = buildModel(spec, { model: 'resflow-twin', ...config })
  const session = await TrainSession.create(model, {
    seed,
    optimizer: { kind: 'adam', lr: 0.02 },
    sparseOptimizer: { kind: 'adam', lr: 0.05 },
    embeddingInitStd: 0.3,
    workerThread: false,
  })
  for (let s = 0; s < 6; s++) await session.trainStep(labelled(prep, rows.slice(s * 256, (s + 1) * 256)))
  const dir = mkdtempSync(join(tmpdir(), 'resflow-twin-run-'))
  writeManifest(dir, {
    version: 1,
    model: 'resflow-twin',
    modelConfig: config,
    tasks: TASKS,
    seed,
    fusion,
    createdAt: `twin-${seed}`,
  })
  writeAtomic(runFiles(dir).preprocessing, JSON.stringify(prep))
  saveWeights(runFiles(dir).weights, session.params, session.tables)
  sealRun(dir)
  await session.release()
  return dir
}

/** The twin variants serving must compose exactly as training: chain, task graph, non-increasing, none, reversed order. */
export const VARIANTS: { name: string; config: Record<string, unknown>; fusion: Fusion | null }[] = [
  {
    name: 'chain, residual full, additive fusion',
    config: {},
    fusion: { kind: 'additive', weights: { click: 1, cart: 2, purchase: 8 } },
  },
  {
    name: 'task graph (purchase ← click, cart), residual logit, multiplicative fusion',
    config: { residual: 'logit', graph: { cart: ['click'], purchase: ['click', 'cart'] } },
    fusion: { kind: 'multiplicative', weights: { click: 1, cart: 0, purchase: 0.5 } },
  },
  {
    name: 'non-increasing over a task graph',
    config: { nonIncreasing: true, graph: { cart: ['click'], purchase: ['click', 'cart'] } },
    fusion: { kind: 'additive', weights: { click: 1, purchase: 4 } },
  },
  { name: 'residual none, no stored fusion', config: { residual: 'none' }, fusion: null },
  {
    name: 'reversed chain order',
    config: { taskOrder: 'reversed', residual: 'logit' },
    fusion: { kind: 'additive', weights: { click: 1, cart: 1, purchase: 1 } },
  },
]
