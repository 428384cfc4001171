/**
 * The experiment file's schema: data, model, loss, optimizers, epochs, batch size, early stopping,
 * fusion, seed, threads, workers and the `compare` settings. Strict zod schemas: an unknown key is an
 * error that lists the allowed ones, and every error names the file and the field (load.ts). Loading a
 * file (paths, presets, the model's own options) is train/experiment.ts; the schema and its defaults are
 * here only, so the library, the CLI and the docs read one definition.
 */
import { z } from 'zod'
import { DenseOptimizerSchema, SparseOptimizerSchema } from './optimizers.js'

/** How per-task probabilities are fused into one ranking score (metrics/fusion.ts). */
export const FUSION_KINDS = ['additive', 'multiplicative'] as const

const Path = z.string().min(1)

export const DataConfig = z.strictObject({
  /** dataset adapter: census, aliexpress, aliccp, aliccp-raw, kuairand, csv, parquet, synthetic */
  dataset: z.string().min(1),
  /** a folder in the adapter's layout (e.g. census-income with its train and val files) */
  dir: Path.optional(),
  /** or the files of each split (a file, glob or hive folder) */
  train: Path.optional(),
  val: Path.optional(),
  test: Path.optional(),
  /** csv / parquet: the dataset schema file; kuairand: its options file (e.g. configs/datasets/kuairand.yaml) */
  schema: Path.optional(),
  /** the dataset's tasks in the funnel order to train them in (a permutation of the schema's tasks) */
  tasks: z.array(z.string().min(1)).min(1).optional(),
  /**
   * No test file: split the validation rows in two, u = mulberry32(seed) per row in file order,
   * u < valFraction → validation (early stopping, fusion), else test (the reported figures).
   */
  splitVal: z
    .strictObject({ seed: z.number().int().default(2024), valFraction: z.number().gt(0).lt(1).default(0.5) })
    .optional(),
  /**
   * MB the encoded splits may take in memory (default 4096). Above it, training streams the encoded cache from
   * disk in blocks with a block + buffer shuffle instead of a full one (docs/scale.md).
   */
  memoryBudgetMB: z.number().positive().optional(),
  /** synthetic: generate the files into `dir` first (skipped when they exist with the same settings) */
  generate: z
    .strictObject({
      rows: z.number().int().positive(),
      seed: z.number().int().default(1),
      /** funnel tasks, e.g. [click, cart, purchase] */
      tasks: z.array(z.string().min(1)).min(1).optional(),
      /** train / val / test fractions of the rows (default 0.8 / 0.1 / 0.1) */
      split: z
        .tuple([z.number().gt(0), z.number().gt(0), z.number().gt(0)])
        .refine((f) => Math.abs(f[0] + f[1] + f[2] - 1) < 1e-9, 'the three fractions must add up to 1')
        .optional(),
    })
    .optional(),
})
export type DataConfig = z.infer<typeof DataConfig>

/** The loss, shared by every model of a comparison; becomes the models' lossWeights / positiveWeights options. */
export const LossConfig = z.strictObject({
  /** w_k per task (default 1) */
  weights: z.record(z.string(), z.number().nonnegative()).optional(),
  /** positive-class weight per task (default 1) */
  positiveWeights: z.record(z.string(), z.number().positive()).optional(),
  /** learned homoscedastic-uncertainty task weights */
  uncertaintyWeighting: z.boolean().optional(),
})

export const EarlyStoppingSchema = z.strictObject({
  /** mean-auc: mean of the task AUCs; task-auc: one task's (`task`); weighted-auc: Σ w_k AUC_k / Σ w_k (`weights`) */
  metric: z.enum(['mean-auc', 'task-auc', 'weighted-auc']).default('mean-auc'),
  task: z.string().optional(),
  weights: z.record(z.string(), z.number().positive()).optional(),
  /** epochs without improvement before stopping; null: train all epochs, still keep the best */
  patience: z.number().int().positive().nullable().default(2),
  minDelta: z.number().nonnegative().default(0),
  restoreBest: z.boolean().default(true),
})

export const FusionConfig = z.strictObject({
  /** additive (Σ w_k p_k): the paper found it better than the multiplicative product (arXiv 2411.09705, abstract) */
  kind: z.enum(FUSION_KINDS).default('additive'),
  /** the task whose AUC the fused score maximises on validation (default: the last task) */
  task: z.string().optional(),
  grid: z.array(z.number()).min(1).optional(),
})

export const SweepConfig = z.strictObject({
  /** dotted path of the swept setting, e.g. model.residual, model.taskOrder, data.generate.tasks */
  field: z.string().min(1),
  values: z.array(z.unknown()).min(1),
  /** column header in the tables (default: the field) */
  label: z.string().optional(),
})

export const CompareConfig = z.strictObject({
  /** model name → its options, on top of `model`'s embeddingDim and dropout and the `loss` section */
  models: z.record(z.string(), z.record(z.string(), z.unknown())).default({}),
  seeds: z.number().int().positive().default(3),
  sweep: SweepConfig.optional(),
  /** run this many trainings at once (each its own process); default 1 */
  parallel: z.number().int().positive().default(1),
})

export const ExperimentSchema = z.strictObject({
  name: z.string().min(1).default('experiment'),
  data: DataConfig,
  /** `model` names a registry entry; the other keys are its options */
  model: z.looseObject({ model: z.string() }),
  loss: LossConfig.optional(),
  optimizer: DenseOptimizerSchema.prefault({}),
  sparseOptimizer: SparseOptimizerSchema.prefault({}),
  /** std of the normal initialiser of embedding rows */
  embeddingInitStd: z.number().positive().default(0.01),
  epochs: z.number().int().positive().default(10),
  /** 1024: the paper's and the PyTorch reference's batch size */
  batchSize: z.number().int().positive().default(1024),
  /** batch size for validation and test scoring */
  evalBatchSize: z.number().int().positive().default(8192),
  /** checkpoint within an epoch every this many minutes (resume continues mid-epoch); null: at epoch ends only */
  checkpointMinutes: z.number().positive().nullable().default(10),
  earlyStopping: EarlyStoppingSchema.prefault({}),
  fusion: FusionConfig.nullable().prefault({}),
  seed: z.number().int().nonnegative().default(1),
  /** onnxruntime intra-op threads */
  threads: z.number().int().positive().default(1),
  /** data-parallel training threads (the main thread and N − 1 workers), each on its shard of the batch (docs/parallel.md) */
  workers: z.number().int().positive().default(1),
  compare: CompareConfig.prefault({}),
})
export type Experiment = z.infer<typeof ExperimentSchema> & { file: string }
