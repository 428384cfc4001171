/**
 * What the data side hands to training, evaluation and comparison (prepare.ts builds it in memory,
 * prepare-streamed.ts from the on-disk cache).
 */
import type { DatasetSchema } from '../data/schema.js'
import type { Preprocessing } from '../data/preprocessing.js'
import type { Batch, InputSpec } from '../data/types.js'

export interface PreparedData {
  spec: InputSpec
  /** the fitted preprocessing artifact, written to RUN_DIR/preprocessing.json */
  preprocessing: Preprocessing
  /** how the data was read, stored in the run manifest */
  dataset: Record<string, unknown>
  rows: { train: number; val: number; test: number }
  /** share of positives per task on the training split (ResFlow's taskOrder 'auto') */
  positiveRates: Record<string, number>
  /** one epoch of shuffled training batches; the order depends only on (seed, epoch) */
  trainBatches(seed: number, epoch: number, batchSize: number): Iterable<Batch>
  valBatches(batchSize: number): Iterable<Batch>
  /** null when there is no test split */
  testBatches(batchSize: number): Iterable<Batch> | null
}

/** The schema and the files of each split. */
export interface DataSource {
  schema: DatasetSchema
  train: string[]
  val: string[]
  test: string[] | null
}
