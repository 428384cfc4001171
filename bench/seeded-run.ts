/**
 * A run directory for the serving benches: the preprocessing fitted to the files and model `name` at its
 * seeded initial weights (trained weights would not change what serving costs), with an additive fusion.
 */
import { type Preprocessing, fitPreprocessing, inputSpecOf } from '../src/data/preprocessing.js'
import type { DatasetSchema } from '../src/data/schema.js'
import { buildModel } from '../src/models/registry.js'
import { saveWeights, writeAtomic } from '../src/run/checkpoint.js'
import { runFiles, writeManifest } from '../src/run/run-dir.js'
import { TrainSession } from '../src/train/session.js'

export async function writeSeededRun(
  run: string,
  schema: DatasetSchema,
  files: string[],
  name: string,
): Promise<Preprocessing> {
  const prep = await fitPreprocessing(schema, files)
  const spec = inputSpecOf(prep)
  const modelConfig = { model: name }
  const session = await TrainSession.create(buildModel(spec, modelConfig), {
    seed: 1,
    embeddingInitStd: 0.1,
    workerThread: false,
  })
  writeManifest(run, {
    version: 1,
    model: name,
    modelConfig,
    tasks: spec.tasks,
    seed: 1,
    fusion: { kind: 'additive', weights: Object.fromEntries(spec.tasks.map((t, i) => [t, 4 ** i])) },
    createdAt: new Date().toISOString(),
  })
  writeAtomic(runFiles(run).preprocessing, JSON.stringify(prep))
  saveWeights(runFiles(run).weights, session.params, session.tables)
  await session.release()
  return prep
}
