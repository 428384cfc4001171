/**
 * Which task feeds its residual into which: a chain in some order (ResFlow's default), or a task
 * graph where a task may take residuals from several parents (e.g. two conversion types sharing the
 * click tower). The result lists the tasks in build order, parents before children.
 *
 * Chain orders (to compare topology strategies, as the paper does):
 *   given     the spec's funnel order
 *   auto      by positive rate on the training data, densest first (the paper's best)
 *   reversed  the spec's order backwards
 *   random    a seeded shuffle (`orderSeed`)
 */
import type { Batch } from '../data/types.js'
import { Rng } from '../engine/rng.js'
import { ConfigError } from '../errors.js'

export type TaskOrder = 'given' | 'auto' | 'reversed' | 'random'

export interface TaskNode {
  task: string
  /** tasks whose towers feed this one's residuals (empty for a root) */
  parents: string[]
}

export interface TaskGraphOptions {
  order: TaskOrder
  orderSeed: number
  /** task → parents; when set it replaces the chain */
  graph?: Record<string, string[]>
  /** share of positive labels per task, needed by order 'auto' */
  positiveRates?: Record<string, number>
}

/** Positive rate of each task's label in a batch, the input to taskOrder 'auto'. */
export function positiveRates(batch: Batch, tasks: readonly string[]): Record<string, number> {
  const rates: Record<string, number> = {}
  for (const t of tasks) {
    const y = batch.labels[t]
    if (!y)
      throw new ConfigError(
        `positiveRates: the batch has no label column "${t}" (labels: ${Object.keys(batch.labels).join(', ')})`,
      )
    let pos = 0
    for (let i = 0; i < y.length; i++) pos += y[i]
    rates[t] = y.length ? pos / y.length : 0
  }
  return rates
}

export function resolveTaskGraph(tasks: readonly string[], opts: TaskGraphOptions): TaskNode[] {
  if (opts.graph) {
    if (opts.order !== 'given') {
      throw new ConfigError(
        `model.taskOrder: "${opts.order}" cannot be combined with model.graph (the graph fixes the order; use "given")`,
        {
          field: 'model.taskOrder',
        },
      )
    }
    return fromGraph(tasks, opts.graph)
  }
  const order = chainOrder(tasks, opts)
  return order.map((task, i) => ({ task, parents: i === 0 ? [] : [order[i - 1]] }))
}

function chainOrder(tasks: readonly string[], opts: TaskGraphOptions): string[] {
  switch (opts.order) {
    case 'given':
      return [...tasks]
    case 'reversed':
      return [...tasks].reverse()
    case 'random':
      return new Rng(opts.orderSeed).shuffle([...tasks])
    case 'auto': {
      const rates = opts.positiveRates
      const missing = tasks.filter((t) => typeof rates?.[t] !== 'number')
      if (missing.length) {
        throw new ConfigError(
          `model.taskOrder: "auto" orders tasks by positive rate, but no rate was given for ${missing.map((t) => `"${t}"`).join(', ')} ` +
            `(pass buildModel(spec, config, { positiveRates }) with positiveRates(trainBatch, spec.tasks))`,
          { field: 'model.taskOrder' },
        )
      }
      // densest first; ties keep the funnel order (Array.prototype.sort is stable)
      return [...tasks].sort((a, b) => rates![b] - rates![a])
    }
  }
}

function fromGraph(tasks: readonly string[], graph: Record<string, string[]>): TaskNode[] {
  for (const [child, parents] of Object.entries(graph)) {
    for (const name of [child, ...parents]) {
      if (!tasks.includes(name)) {
        throw new ConfigError(`model.graph: unknown task "${name}" (tasks: ${tasks.join(', ')})`, {
          field: 'model.graph',
        })
      }
    }
    if (new Set(parents).size !== parents.length) {
      throw new ConfigError(`model.graph.${child}: a parent is listed twice ([${parents.join(', ')}])`, {
        field: `model.graph.${child}`,
      })
    }
  }
  const parentsOf = (t: string) => graph[t] ?? []
  // depth-first topological sort in funnel order; a task met again while on the stack closes a cycle
  const state = new Map<string, 'open' | 'done'>()
  const out: TaskNode[] = []
  const visit = (t: string, path: string[]): void => {
    if (state.get(t) === 'done') return
    if (state.get(t) === 'open') {
      const cycle = [...path.slice(path.indexOf(t)), t]
      throw new ConfigError(
        `model.graph: the task graph has a cycle: ${cycle.reverse().join(' → ')} (each task lists its parents; remove one edge)`,
        {
          field: 'model.graph',
        },
      )
    }
    state.set(t, 'open')
    for (const p of parentsOf(t)) visit(p, [...path, t])
    state.set(t, 'done')
    out.push({ task: t, parents: [...parentsOf(t)] })
  }
  for (const t of tasks) visit(t, [])
  return out
}
