/**
 * KuaiRand-style interaction logs (Gao et al., CIKM 2022): one CSV row per (user_id, video_id) impression with a
 * header (user_id, video_id, date, hourmin, time_ms, is_click, is_like, ..., play_time_ms, duration_ms, ..., tab).
 * ResFlow (arXiv 2411.09705) turns watch time into a chain of binary tasks "played longer than t_i seconds".
 * By default we put is_click first: click → watch_5s → watch_10s → ... → watch_80s. The paper's own run
 * (configs/kuairand.yaml with configs/datasets/kuairand.yaml) has no click task, keeps only rows with
 * play_time_ms > 0 and tab = 1, and compares whole seconds; see docs/paper-fidelity.md.
 *
 * The watch tasks are funnel-consistent by construction: thresholds must strictly increase, so
 * play_time_ms > t_{i+1}·1000 implies play_time_ms > t_i·1000. Between is_click and the first watch task the
 * logs can disagree (autoplayed videos are watched without a click); such rows follow the funnel rule
 * (default drop, counted in the report).
 */
import { z } from 'zod'
import { loadConfigFile, validateConfig } from '../config/load.js'
import { ConfigError } from '../errors.js'
import { RowConditionSchema, parseDatasetSchema, type DatasetSchema } from './schema.js'

/**
 * Source: the authors' released code, BrunoTruthAlliance/ResFlow. other-modality/decoder.py lists
 * `percentiles = [5, 10, 20, 30, 40, 50, 60, 70, 80, 90]` with `label_i = play_time_s > percentiles[i]`, and
 * other-modality/train.py trains `target_num: 9` tasks, label_0 … label_8: the first nine (90 s only bounds
 * the last bucket of its expected-watch-time score). There play_time_s is int(play_time_ms / 1000)
 * (dataset/kuairand_pure/get_training_csv_pure.py), i.e. whole seconds: see the `wholeSeconds` option.
 */
export const PAPER_THRESHOLDS_SEC = [5, 10, 20, 30, 40, 50, 60, 70, 80]

/** Columns that are feedback or derived from the outcome; feeding one as a feature would leak the label. */
const FEEDBACK = new Set([
  'is_click',
  'is_like',
  'is_follow',
  'is_comment',
  'is_forward',
  'is_hate',
  'long_view',
  'play_time_ms',
  'profile_stay_time',
  'comment_stay_time',
  'is_profile_enter',
])

export const KuaiRandOptionsSchema = z.strictObject({
  /** watch-time thresholds in seconds, strictly increasing (paper: 5, 10, 20, ..., 80) */
  thresholdsSec: z.array(z.number().positive()).min(1).default(PAPER_THRESHOLDS_SEC),
  /** is_click as the first task, before the watch tasks; the paper's KuaiRand run has none */
  clickTask: z.boolean().default(true),
  /**
   * compare whole seconds, int(play_time_ms / 1000) > t, as the released code does; otherwise milliseconds,
   * play_time_ms > 1000·t (the two differ for plays of t.001 s to t.999 s). Assumes integer milliseconds.
   */
  wholeSeconds: z.boolean().default(false),
  /** keep only rows meeting every condition, e.g. the paper's [{column: play_time_ms, greaterThan: 0}, {column: tab, oneOf: [1]}] */
  filter: z.array(RowConditionSchema).default([]),
  /** more id columns besides user_id, video_id and tab (e.g. hourmin, is_rand) */
  sparse: z.array(z.string().min(1)).default([]),
  /** numeric columns, log1p-transformed (e.g. duration_ms) */
  dense: z.array(z.string().min(1)).default([]),
  /** rows with a watch task positive but is_click = 0 */
  funnel: z.enum(['drop', 'keep', 'error']).default('drop'),
})
export type KuaiRandOptions = z.output<typeof KuaiRandOptionsSchema>
export type KuaiRandOptionsInput = z.input<typeof KuaiRandOptionsSchema>

export const watchTaskName = (t: number) => `watch_${t}s`

export function kuairandSchema(input: KuaiRandOptionsInput = {}, where = 'kuairand options'): DatasetSchema {
  const opts = validateConfig(input, where, KuaiRandOptionsSchema)
  return kuairandSchemaOf(opts, where)
}

function kuairandSchemaOf(opts: KuaiRandOptions, where: string): DatasetSchema {
  const t = opts.thresholdsSec
  for (let i = 1; i < t.length; i++) {
    if (!(t[i] > t[i - 1]))
      throw new ConfigError(
        `${where}: thresholdsSec[${i}]: expected more than ${t[i - 1]} (thresholds must strictly increase for the watch tasks to form a funnel), got ${t[i]}`,
        { file: where, field: `thresholdsSec[${i}]` },
      )
  }
  for (const [kind, cols] of [
    ['sparse', opts.sparse],
    ['dense', opts.dense],
  ] as const) {
    cols.forEach((c, i) => {
      if (FEEDBACK.has(c))
        throw new ConfigError(
          `${where}: ${kind}[${i}]: "${c}" is user feedback (a label or derived from one); it cannot be a feature (feedback columns: ${[...FEEDBACK].join(', ')})`,
          { file: where, field: `${kind}[${i}]` },
        )
    })
  }
  return parseDatasetSchema(
    {
      format: 'csv',
      sparse: [
        { name: 'user_id', side: 'user' },
        { name: 'video_id', side: 'item' },
        { name: 'tab' },
        ...opts.sparse.map((name) => ({ name })),
      ],
      dense: opts.dense.map((name) => ({ name, transform: 'log1p' as const })),
      tasks: [
        ...(opts.clickTask ? [{ name: 'click', column: 'is_click' }] : []),
        ...t.map((s) => ({
          name: watchTaskName(s),
          column: 'play_time_ms',
          greaterThan: watchThresholdMs(s, opts.wholeSeconds),
        })),
      ],
      funnel: opts.funnel,
      filter: opts.filter,
      group: 'user_id',
    },
    where,
  )
}

/**
 * The play_time_ms cut of watch task t: 1000·t, or with whole seconds the last millisecond before second
 * ⌊t⌋ + 1, since for integer ms int(ms / 1000) > t ⇔ ms ≥ 1000·(⌊t⌋ + 1) ⇔ ms > 1000·(⌊t⌋ + 1) − 1.
 */
export function watchThresholdMs(t: number, wholeSeconds: boolean): number {
  return wholeSeconds ? 1000 * (Math.floor(t) + 1) - 1 : 1000 * t
}

/** The schema from an options file (YAML/JSON), or the adapter's defaults. */
export function loadKuaiRandSchema(optionsFile?: string): DatasetSchema {
  if (!optionsFile) return kuairandSchema({})
  return kuairandSchemaOf(loadConfigFile(optionsFile, KuaiRandOptionsSchema), optionsFile)
}
