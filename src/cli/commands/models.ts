/**
 * `resflow models [--json]`: every registered model with its one-line summary, its paper, and its options
 * with their types and defaults. The options come from the model's zod schema (through its JSON Schema),
 * so this list cannot drift from what a config accepts; only the paper column is written here.
 */
import { z } from 'zod'
import { MODELS, MODEL_NAMES, type ModelName } from '../../models/registry.js'
import { type OptionSpec, parseCommand } from '../parse-args.js'

/** Where each model comes from; a model added to the registry without a row here fails to compile. */
const PAPERS = {
  single: 'independent per-task models (the no-sharing baseline)',
  nse: "ResFlow's ablation without residuals: Residual Multi-Task Learner for Applied Ranking, KDD 2024 (arXiv 2411.09705)",
  'shared-bottom': 'Caruana, Multitask Learning, Machine Learning 1997',
  esmm: 'Ma et al., Entire Space Multi-Task Model, SIGIR 2018 (arXiv 1804.07931)',
  omoe: 'the one-gate ablation of Ma et al., Multi-gate Mixture-of-Experts, KDD 2018',
  mmoe: 'Ma et al., Modeling Task Relationships in Multi-task Learning with Multi-gate Mixture-of-Experts, KDD 2018',
  ple: 'Tang et al., Progressive Layered Extraction (PLE), RecSys 2020',
  aitm: 'Xi et al., Modeling the Sequential Dependence among Audience Multi-step Conversions, KDD 2021 (arXiv 2105.08489)',
  resflow: 'Residual Multi-Task Learner for Applied Ranking (ResFlow), Shopee, KDD 2024 (arXiv 2411.09705)',
  'resflow-logit': "ResFlow's logit-residual form, KDD 2024 (arXiv 2411.09705)",
  'resflow-twin': "ResFlow's residuals in a two-tower pre-ranking model (beyond arXiv 2411.09705)",
} satisfies Record<ModelName, string>

export interface ModelOption {
  name: string
  /** e.g. integer, number[], "torch" | "xavier", record of integer[] */
  type: string
  default?: unknown
  required: boolean
}

export interface ModelDescription {
  name: ModelName
  summary: string
  paper: string
  options: ModelOption[]
}

type JsonSchema = {
  type?: string | string[]
  enum?: unknown[]
  anyOf?: JsonSchema[]
  items?: JsonSchema
  additionalProperties?: JsonSchema | boolean
  properties?: Record<string, JsonSchema>
  required?: string[]
  default?: unknown
  const?: unknown
}

function typeName(s: JsonSchema): string {
  if (s.anyOf) return s.anyOf.map(typeName).join(' | ')
  if (s.enum) return s.enum.map((v) => JSON.stringify(v)).join(' | ')
  if (s.const !== undefined) return JSON.stringify(s.const)
  if (s.type === 'array') return s.items ? `${typeName(s.items)}[]`.replace(/^(.* \| .*)\[\]$/, '($1)[]') : 'array'
  if (s.type === 'object' && typeof s.additionalProperties === 'object')
    return `record of ${typeName(s.additionalProperties)}`
  if (Array.isArray(s.type)) return s.type.join(' | ')
  return s.type ?? 'any'
}

/** Each registered model, its options read from its schema (defaults as a config gets them). */
export function describeModels(): ModelDescription[] {
  return MODEL_NAMES.map((name) => {
    const entry = MODELS[name]
    const schema = z.toJSONSchema(entry.config, { io: 'input', unrepresentable: 'any' }) as JsonSchema
    const required = new Set(schema.required ?? [])
    const options = Object.entries(schema.properties ?? {}).map(([key, prop]) => ({
      name: key,
      type: typeName(prop),
      ...(prop.default !== undefined ? { default: prop.default } : {}),
      required: required.has(key) && prop.default === undefined,
    }))
    return { name, summary: entry.summary, paper: PAPERS[name], options }
  })
}

const OPTIONS: OptionSpec = {
  json: {
    type: 'boolean',
    description: 'print [{name, summary, paper, options: [{name, type, default, required}]}] as JSON',
  },
}

export async function run(argv: string[]): Promise<number> {
  const values = parseCommand('models', argv, OPTIONS, {
    synopsis: '[--json]',
    examples: ['models', 'models --json | jq \'.[] | select(.name == "mmoe") | .options\''],
  })
  if (!values) return 0
  const models = describeModels()
  if (values.json) {
    console.log(JSON.stringify(models, null, 2))
    return 0
  }
  const width = Math.max(...models.map((m) => m.name.length))
  const blocks = models.map((m) => {
    const optWidth = Math.max(...m.options.map((o) => o.name.length))
    const opts = m.options.map(
      (o) =>
        `    ${o.name.padEnd(optWidth)}  ${o.type}${o.default !== undefined ? ` = ${JSON.stringify(o.default)}` : o.required ? ' (required)' : ' (optional)'}`,
    )
    return [`${m.name.padEnd(width)}  ${m.summary}`, `  paper: ${m.paper}`, '  options:', ...opts].join('\n')
  })
  console.log(blocks.join('\n\n'))
  console.log(
    '\nIn a config: model: { model: NAME, OPTION: VALUE, ... }; presets: configs/models/*.yaml (train --model NAME|PATH).',
  )
  return 0
}
