/** The data layer's public API. */
export type { Batch, InputSpec, SparseFeature, MultiFeature, DenseFeature, MultiColumn } from './types.js'
export { DatasetSchemaSchema, loadDatasetSchema, parseDatasetSchema, columnOf } from './schema.js'
export type { DatasetSchema, DatasetSchemaInput, SparseSpec, MultiSpec, DenseSpec, TaskSpec } from './schema.js'
export {
  fitPreprocessing,
  savePreprocessing,
  loadPreprocessing,
  inputSpecOf,
  transformDense,
  bucketOf,
  PreprocessingSchema,
} from './preprocessing.js'
export type { Preprocessing } from './preprocessing.js'
export { encodeDataset } from './encode.js'
export { makeEncodedDataset, sliceBatch, permutation, blockPermutation } from './dataset.js'
export type { EncodedDataset, EncodedColumns, EncodeReport, BatchOptions } from './dataset.js'
export { encodeRows } from './encode-rows.js'
export type { RawRow } from './encode-rows.js'
export { generateSynthetic } from './synth.js'
export type { SyntheticOptions, SyntheticResult } from './synth.js'
export { DATASETS, SPLIT_NAMES, openDataset, getAdapter, resolveDataPath } from './adapters.js'
export type {
  OpenDatasetOptions,
  OpenedDataset,
  DatasetAdapter,
  FolderFiles,
  SplitName,
  ResolvedDataPath,
  ResolveDataPathOptions,
} from './adapters.js'
export { encodedCacheDir, readEncodedCache, writeEncodedCache, cachedPreprocessing } from './cache.js'
export { prepareAliccpRaw, aliccpRawSchema } from './aliccp-raw.js'
export { kuairandSchema, loadKuaiRandSchema, KuaiRandOptionsSchema, PAPER_THRESHOLDS_SEC } from './kuairand.js'
export type { KuaiRandOptions, KuaiRandOptionsInput } from './kuairand.js'
