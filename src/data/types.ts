/**
 * The contract between data and everything downstream (models, training, metrics, serving).
 *
 * Shapes: B = rows in the batch. Features keep the order of the InputSpec, which comes from the fitted
 * preprocessing artifact, so a value maps to the same id and the same column everywhere.
 */

/** One categorical feature with a single id per row. Id 0 is reserved for rare / unseen / missing. */
export interface SparseFeature {
  name: string
  /** number of rows of the embedding table, id 0 included */
  vocabSize: number
  /** which side of a twin-tower model the feature belongs to (default: 'user') */
  side?: 'user' | 'item'
}

/** A categorical feature with a list of ids per row, pooled to one vector. */
export interface MultiFeature {
  name: string
  vocabSize: number
  pooling: 'sum' | 'mean'
  side?: 'user' | 'item'
}

/** A numeric feature, already transformed (standardized, min-max, log1p or none). */
export interface DenseFeature {
  name: string
  side?: 'user' | 'item'
}

/** What a model needs to know about its inputs. */
export interface InputSpec {
  sparse: SparseFeature[]
  multi: MultiFeature[]
  dense: DenseFeature[]
  /** task (label) names in funnel order, e.g. ['click', 'purchase'] */
  tasks: string[]
}

/** A multi-valued column in CSR form: the ids of row i are ids[offsets[i] .. offsets[i+1]). */
export interface MultiColumn {
  offsets: Int32Array // [B+1]
  ids: Int32Array // [nnz]
}

/** A columnar batch of encoded rows. No per-row objects. */
export interface Batch {
  size: number // B
  sparse: Record<string, Int32Array> // each [B]
  multi: Record<string, MultiColumn>
  dense: Float32Array // [B, dense.length], row-major in InputSpec.dense order
  labels: Record<string, Float32Array> // each [B], values 0 or 1
  /** query or user group id per row, for GAUC / NDCG (optional) */
  group?: Int32Array | Float64Array
  /** extra numeric columns carried along, e.g. the synthetic generator's true probabilities "p_click" */
  extra?: Record<string, Float32Array>
}
