/**
 * resflow's public API: everything the CLI does, as typed functions. Explicit re-exports, grouped by
 * layer (engine → nn → models → data → train → metrics/report → export/serve).
 */

// errors
export {
  ResflowError,
  ConfigError,
  DataError,
  ShapeError,
  GradientError,
  RuntimeError,
  ExportError,
  RequestError,
  RunError,
  WriteError,
} from './errors.js'

// engine: symbolic graphs, autodiff, ONNX, onnxruntime
export { Graph, Tensor } from './engine/node.js'
export type { DType, Dim, Shape, OpName, LeafKind } from './engine/node.js'
export * as ops from './engine/ops.js'
export { gradients, topoSort } from './engine/autodiff.js'
export { toOnnx, OPSET } from './engine/onnx-graph.js'
export type { ModelOptions } from './engine/onnx-graph.js'
export { compile } from './engine/compile.js'
export { Program, sessionOptions } from './engine/runtime.js'
export type { RuntimeOptions, Feed } from './engine/runtime.js'
export { Rng } from './engine/rng.js'

// nn: layers, losses, embeddings, parameters
export { linear, prelu, batchNorm, dropout, denseBlock, mlp } from './nn/layers.js'
export { bceWithLogits, softplus } from './nn/losses.js'
export { EmbeddingTable, embeddingInputs, packedLayout } from './nn/embedding.js'
export type { EmbeddingSpec } from './nn/embedding.js'
export {
  DenseOptimizerSchema,
  SparseOptimizerSchema,
  DEFAULT_LR,
  denseOptimizerSettings,
  sparseOptimizerSettings,
} from './config/optimizers.js'
export type {
  DenseOptimizerConfig,
  DenseOptimizerSettings,
  SparseOptimizerConfig,
  SparseOptimizerSettings,
} from './config/optimizers.js'
export { BuildContext, ParamStore, DEFAULT_LAYERS } from './nn/params.js'
export type { LayerOptions, InputSplit, SplitInput, SplitLayer } from './nn/params.js'
export type { Side } from './nn/inputs.js'
export * as init from './nn/init.js'

// models
export { MODELS, MODEL_NAMES, buildModel, buildParsedModel, getModel, parseModelConfig } from './models/registry.js'
export type {
  BuildExtras,
  ModelEntry,
  ModelName,
  ModelConfig,
  ModelConfigInput,
  ParsedModelConfig,
} from './models/registry.js'
export { parameterCount } from './models/count.js'
export { positiveRates } from './models/task-graph.js'
export type { Model, ModelInputs, ModelOutputs } from './models/types.js'

// data
export type { Batch, InputSpec, SparseFeature, MultiFeature, DenseFeature, MultiColumn } from './data/types.js'
export { DatasetSchemaSchema, loadDatasetSchema, parseDatasetSchema, columnOf } from './data/schema.js'
export type { DatasetSchema, DatasetSchemaInput, SparseSpec, MultiSpec, DenseSpec, TaskSpec } from './data/schema.js'
export {
  fitPreprocessing,
  savePreprocessing,
  loadPreprocessing,
  inputSpecOf,
  transformDense,
  bucketOf,
  PreprocessingSchema,
} from './data/preprocessing.js'
export type { Preprocessing } from './data/preprocessing.js'
export { encodeDataset } from './data/encode.js'
export { makeEncodedDataset, sliceBatch, permutation, blockPermutation } from './data/dataset.js'
export type { EncodedDataset, EncodedColumns, EncodeReport, BatchOptions } from './data/dataset.js'
export { encodeRows } from './data/encode-rows.js'
export type { RawRow } from './data/encode-rows.js'
export { generateSynthetic } from './data/synth.js'
export type { SyntheticOptions, SyntheticResult } from './data/synth.js'
export { DATASETS, SPLIT_NAMES, openDataset, getAdapter, resolveDataPath } from './data/adapters.js'
export type {
  OpenDatasetOptions,
  OpenedDataset,
  DatasetAdapter,
  FolderFiles,
  SplitName,
  ResolvedDataPath,
  ResolveDataPathOptions,
} from './data/adapters.js'
export type { ResolveOptions, Splits } from './data/splits.js'
export { cachedPreprocessing } from './data/cache.js'
export { prepareAliccpRaw, aliccpRawSchema } from './data/aliccp-raw.js'
export { kuairandSchema, loadKuaiRandSchema, KuaiRandOptionsSchema, PAPER_THRESHOLDS_SEC } from './data/kuairand.js'
export type { KuaiRandOptions, KuaiRandOptionsInput } from './data/kuairand.js'
export { loadConfigFile } from './config/load.js'

// training
export { TrainSession } from './train/session.js'
export { loadSessionWeights } from './train/session-weights.js'
export type { SessionWeightsTarget } from './train/session-weights.js'
export type { SessionOptions, StepProfile, StepResult, TrainingState } from './train/session.js'
export type { ParallelProfile } from './train/parallel.js'
export { DenseOptimizer } from './train/optim.js'
export type { Moments } from './train/optim.js'
export { saveWeights, loadWeights } from './run/checkpoint.js'
export { readRun, writeManifest, runFiles } from './run/run-dir.js'
export type { RunManifest } from './run/run-dir.js'
export { openRun, modelWeights } from './run/open-run.js'
export type { LoadedRun, ModelWeights } from './run/open-run.js'
export { fit } from './train/trainer.js'
export type { FitOptions, FitResult } from './train/trainer.js'
export type { EpochLog } from './train/epoch-log.js'
export { loadExperiment } from './train/experiment.js'
export { ExperimentSchema, DataConfig, FUSION_KINDS } from './config/experiment.js'
export type { Experiment } from './config/experiment.js'
export { prepareData } from './train/prepare.js'
export type { PreparedData, DataSource } from './train/prepared-data.js'
export { trainRun } from './train/train-run.js'
export { loadRun, evaluateRun, collectPredictions, scorePredictions } from './train/evaluate.js'
export type { EvaluateOptions, Predictions, ScoreOptions, ScoringRun } from './train/evaluate.js'
export { runCompare } from './train/compare.js'
export type { CompareOptions, CompareResult } from './train/compare.js'

// metrics, fusion, reports
export type { Groups, Labels, MetricRecord, Scores } from './metrics/types.js'
export { computeAuc, computeRocCurve } from './metrics/auc.js'
export type { RocCurve, RocOptions } from './metrics/auc.js'
export { computeGauc } from './metrics/gauc.js'
export type { GaucResult } from './metrics/gauc.js'
export { computeLogloss, LOGLOSS_EPS } from './metrics/logloss.js'
export { computeCalibration, computeCalibrationBins } from './metrics/calibration.js'
export type { Calibration, CalibrationBin, CalibrationBinOptions } from './metrics/calibration.js'
export { computeNdcgAtK, computeRecallAtK } from './metrics/ranking.js'
export type { RankingResult } from './metrics/ranking.js'
export { computeFunnelViolations, FUNNEL_TOLERANCE } from './metrics/funnel.js'
export type { FunnelPairViolation, FunnelViolations } from './metrics/funnel.js'
export { computeTaskMetrics } from './metrics/evaluate.js'
export type { TaskMetric, TaskMetricsInput } from './metrics/evaluate.js'
export { applyFusion, fuse, searchFusionWeights, parseFusion, FusionSchema } from './metrics/fusion.js'
export type { Fusion } from './metrics/fusion.js'
export type { EpochRecord, FusionReport, FusionSweepEntry, ReportData, RocPoints, RunReport } from './report/types.js'
export { summarise, metricDirection, bestMean, formatSummary, comparisonTables, BAYES_MODEL } from './report/summary.js'
export type { ComparisonTable, MetricSummary, NumberFormat } from './report/summary.js'
export { renderResultsMarkdown } from './report/markdown.js'
export { renderReport } from './report/html.js'
export { buildCharts } from './report/charts.js'
export type { ChartSpec, Highlight, SeriesSpec, TickSpec } from './report/charts.js'

// export and serving
export { exportModel, featureLayout, readExportMetadata, EXPORT_SCHEMA_VERSION } from './export/onnx.js'
export type { ExportedGraph } from './export/onnx.js'
export { createPredictor, loadPredictor, exportRun } from './export/predictor.js'
export type { ExportedRun, Predictor } from './export/predictor.js'
export type { RawFeature, RawKind, RawValue, RawRow as RequestRow, RowCodec } from './export/codec.js'
export { codecFromPreprocessing } from './export/codec.js'
export { createHandler } from './serve/handler.js'
export type { Handler } from './serve/handler.js'
export type { RankResponse, RankResult, PhaseTimes } from './serve/rank.js'
export { ModelSlot } from './serve/model-slot.js'
export { buildApp, startServer, handleSignals } from './serve/server.js'
export type { Stoppable } from './serve/signals.js'
export { parseRankRequest } from './serve/request.js'
export { loadServed } from './serve/load.js'
export type { ServedOptions } from './serve/load.js'
export { ItemStore, loadItemStore, UNKNOWN_ITEMS } from './serve/item-store.js'
export type { ItemTable, ItemStoreOptions, UnknownItems } from './serve/item-store.js'
export { CompiledCodec, BatchWriter, compiledCodec } from './serve/columnar.js'
export type { ColumnPlan, Target, SparseTarget, BucketTarget, DenseTarget, MultiTarget } from './serve/columnar.js'
export type { Served } from './serve/model-slot.js'
export type { ItemSplit, SplitPrediction } from './serve/item-split.js'
export type { RowSplit } from './serve/row-split.js'
export { encodeRankRequest } from './serve/rank-encode.js'
export { createPreRanker, createPreRankerFromItems, loadPreRanker } from './serve/prerank.js'
export type { ItemId } from './serve/prerank-index.js'
export type {
  PreRanker,
  PreRankOptions,
  PrerankHit,
  PrerankResult,
  CandidateScores,
  EncodedItems,
} from './serve/prerank.js'
export { parsePrerankRequest, prerankResponse, DEFAULT_PRERANK_LIMITS } from './serve/prerank-request.js'
export type { PrerankRequest, PrerankResponse, PrerankLimits } from './serve/prerank-request.js'
export { exportTwinRun, twinOfRun, writeTwinTowers, TWIN_METADATA_KEY } from './export/twin.js'
export type { TwinExport, TwinComposition, TowerPart } from './export/twin.js'
export type { EncodedRank, LookupCounts } from './serve/rank-encode.js'
