/**
 * resflow's public API: everything the CLI does, as typed functions. Explicit re-exports, grouped by
 * layer (engine → nn → models → data → train → metrics/report → export/serve).
 */

// errors
export { ResflowError, ConfigError, DataError, ShapeError, GradientError, ExportError, RequestError, RunError, WriteError } from './errors.js'

// engine: symbolic graphs, autodiff, ONNX, onnxruntime
export { Graph, Tensor } from './engine/node.js'
export type { DType, Dim, Shape } from './engine/node.js'
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
export { DenseOptimizerSchema, SparseOptimizerSchema, DEFAULT_LR, denseOptimizerSettings, sparseOptimizerSettings } from './config/optimizers.js'
export type { DenseOptimizerConfig, DenseOptimizerSettings, SparseOptimizerConfig, SparseOptimizerSettings } from './config/optimizers.js'
export { BuildContext, ParamStore, DEFAULT_LAYERS } from './nn/params.js'
export type { LayerOptions } from './nn/params.js'
export * as init from './nn/init.js'

// models
export { MODELS, MODEL_NAMES, buildModel, getModel, parseModelConfig, parameterCount, positiveRates } from './models/index.js'
export type { BuildExtras, Model, ModelInputs, ModelOutputs, ModelEntry, ModelName, ModelConfig, ModelConfigInput } from './models/index.js'

// data
export * from './data/index.js'
export { loadConfigFile } from './config/load.js'

// training
export { TrainSession, loadSessionWeights } from './train/session.js'
export type { SessionOptions, StepProfile, StepResult, TrainingState } from './train/session.js'
export type { ParallelProfile } from './train/parallel.js'
export { DenseOptimizer } from './train/optim.js'
export { saveWeights, loadWeights } from './run/checkpoint.js'
export { readRun, writeManifest, runFiles } from './run/run-dir.js'
export type { RunManifest } from './run/run-dir.js'
export { fit } from './train/trainer.js'
export type { FitOptions, FitResult } from './train/trainer.js'
export { loadExperiment } from './train/experiment.js'
export { ExperimentSchema, DataConfig, FUSION_KINDS } from './config/experiment.js'
export type { Experiment } from './config/experiment.js'
export { prepareData } from './train/prepare.js'
export { trainRun } from './train/train-run.js'
export { loadRun, evaluateRun, collectPredictions, scorePredictions } from './train/evaluate.js'
export type { EvaluateOptions, LoadedRun, Predictions, ScoreOptions } from './train/evaluate.js'
export { runCompare } from './train/compare.js'
export type { CompareOptions, CompareResult } from './train/compare.js'

// metrics, fusion, reports
export * from './metrics/index.js'
export { applyFusion, fuse, searchFusionWeights, parseFusion, FusionSchema } from './metrics/fusion.js'
export type { Fusion } from './metrics/fusion.js'
export * from './report/index.js'

// export and serving
export { exportModel, featureLayout, readExportMetadata, EXPORT_SCHEMA_VERSION } from './export/onnx.js'
export { createPredictor, loadPredictor, exportRun, modelWeights } from './export/predictor.js'
export type { Predictor } from './export/predictor.js'
export { RUN_DEPS } from './export/run-deps.js'
export { codecFromPreprocessing } from './export/codec.js'
export { createHandler } from './serve/handler.js'
export type { Handler } from './serve/handler.js'
export { ModelSlot } from './serve/model-slot.js'
export { buildApp, startServer, handleSignals } from './serve/server.js'
export { parseRankRequest } from './serve/request.js'
export { loadServed } from './serve/load.js'
export type { ServedOptions } from './serve/load.js'
export { ItemStore, loadItemStore, UNKNOWN_ITEMS } from './serve/item-store.js'
export type { ItemTable, ItemStoreOptions, UnknownItems } from './serve/item-store.js'
export { CompiledCodec, BatchWriter, compiledCodec } from './serve/columnar.js'
export type { Served } from './serve/model-slot.js'
export { encodeRankRequest } from './serve/rank-encode.js'
export { createPreRanker, createPreRankerFromItems, loadPreRanker } from './serve/prerank.js'
export type { PreRanker, PreRankOptions, PrerankHit, PrerankResult, CandidateScores, EncodedItems } from './serve/prerank.js'
export { parsePrerankRequest, prerankResponse, DEFAULT_PRERANK_LIMITS } from './serve/prerank-request.js'
export type { PrerankRequest, PrerankResponse, PrerankLimits } from './serve/prerank-request.js'
export { exportTwinRun, twinOfRun, writeTwinTowers, TWIN_METADATA_KEY } from './export/twin.js'
export type { TwinExport, TwinComposition } from './export/twin.js'
export type { EncodedRank } from './serve/rank-encode.js'
