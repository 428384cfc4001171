/**
 * The optimizer settings, each in one place: the zod schema an experiment file is checked against, the
 * types the optimizers take (derived from the schemas), and every default. Unset constants take
 * PyTorch's (Adam betas 0.9 / 0.999, eps 1e-8; Adagrad eps 1e-10, initial accumulator 0); lr defaults to
 * 1e-3, the paper's and the reference's.
 */
import { z } from 'zod'
import { validateConfig } from './load.js'

export const DEFAULT_LR = 1e-3

const beta = z.number().min(0).lt(1)

/** Dense parameters: Adam or AdamW (decoupled decay), optional global-norm clipping. */
export const DenseOptimizerSchema = z.strictObject({
  kind: z.enum(['adam', 'adamw']).default('adam'),
  lr: z.number().positive().default(DEFAULT_LR),
  beta1: beta.optional(),
  beta2: beta.optional(),
  eps: z.number().positive().optional(),
  /** AdamW: decoupled decay; Adam: L2 added to the gradient. Applied to weights only, not biases/BN. */
  weightDecay: z.number().nonnegative().default(0),
  /** clip the global L2 norm of all dense gradients to this value */
  clipNorm: z.number().positive().optional(),
})
/** A dense optimizer as given (a config section, or code): every key optional. */
export type DenseOptimizerConfig = z.input<typeof DenseOptimizerSchema>
/** A dense optimizer with every default filled in (clipNorm stays optional: off). */
export type DenseOptimizerSettings = Required<Omit<z.output<typeof DenseOptimizerSchema>, 'clipNorm'>> & {
  clipNorm?: number
}

/** Embedding rows: lazy Adam (PyTorch's SparseAdam) or Adagrad, with an optional L2 on touched rows. */
export const SparseOptimizerSchema = z.strictObject({
  kind: z.enum(['adam', 'adagrad']).default('adam'),
  /** 0 freezes the tables (e.g. embeddings loaded from elsewhere) */
  lr: z.number().nonnegative().default(DEFAULT_LR),
  beta1: beta.optional(),
  beta2: beta.optional(),
  eps: z.number().positive().optional(),
  /** L2 penalty added to the gradient of each touched row: g += l2 · w */
  l2: z.number().nonnegative().default(0),
  /** Adagrad's initial accumulator */
  initialAccumulator: z.number().nonnegative().optional(),
})
export type SparseOptimizerConfig = z.input<typeof SparseOptimizerSchema>
export type SparseOptimizerSettings = Required<z.output<typeof SparseOptimizerSchema>>

/** The settings of a dense optimizer config; a bad value is a ConfigError naming `field`. */
export function denseOptimizerSettings(config: DenseOptimizerConfig = {}, field = 'optimizer'): DenseOptimizerSettings {
  const c = validateConfig(config, field, DenseOptimizerSchema)
  return { ...c, beta1: c.beta1 ?? 0.9, beta2: c.beta2 ?? 0.999, eps: c.eps ?? 1e-8 }
}

/** The settings of an embedding optimizer config; a bad value is a ConfigError naming `field`. */
export function sparseOptimizerSettings(
  config: SparseOptimizerConfig = {},
  field = 'sparseOptimizer',
): SparseOptimizerSettings {
  const c = validateConfig(config, field, SparseOptimizerSchema)
  return {
    ...c,
    beta1: c.beta1 ?? 0.9,
    beta2: c.beta2 ?? 0.999,
    eps: c.eps ?? (c.kind === 'adam' ? 1e-8 : 1e-10),
    initialAccumulator: c.initialAccumulator ?? 0,
  }
}
