/**
 * Serving metrics in the Prometheus text format (version 0.0.4). Two parts, one `/metrics` page:
 * - the handler's own (resflow_*): request counts by route and status, a handler-latency histogram per route,
 *   errors by kind, candidates scored, in-flight requests, reloads and the loaded model. Plain counters in
 *   memory, rendered synchronously by `render` (the portless Handler serves them alone);
 * - through prom-client (a maintained Prometheus client): the process' default metrics (process_*: CPU,
 *   resident memory, open fds; nodejs_*: heap, event-loop lag, GC pauses, active handles) and
 *   http_request_duration_seconds, the HTTP server's latency per method, route and status, from the
 *   request's arrival to its answer (body reading included), and the per-model counters of /v1/rank
 *   (resflow_model_requests_total, resflow_model_candidates_scored_total, resflow_model_errors_total, labelled
 *   with the model's name and version). The server appends `promText()`; the portless handler's page lacks them.
 */
import { Counter as PromCounter, Histogram as PromHistogram, Registry, collectDefaultMetrics } from 'prom-client'

/** Upper bounds of the latency histogram, in seconds (Prometheus' unit). */
export const LATENCY_BUCKETS_S = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5] as const

interface Histogram {
  counts: number[] // per bucket, not cumulative; last = +Inf
  sum: number
  count: number
}

/**
 * The process-wide metrics (one per process, however many servers it runs): collectDefaultMetrics starts an
 * event-loop delay monitor and a GC observer that live as long as the process, so it runs once, when the first
 * ServeMetrics is made (so the lag and GC figures cover the time served, not just since the first scrape).
 */
let processRegistry: Registry | undefined
function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry()
    collectDefaultMetrics({ register: processRegistry })
  }
  return processRegistry
}

/** A counter in `registry` labelled by the model and version that served. */
function modelCounter(registry: Registry, name: string, help: string) {
  return new PromCounter({ name, help, labelNames: ['model', 'version'] as const, registers: [registry] })
}

export class ServeMetrics {
  private readonly process = processMetrics()
  private readonly registry = new Registry()
  private readonly http = new PromHistogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request latency, arrival to answer (body reading included), by method, route and status.',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: [...LATENCY_BUCKETS_S],
    registers: [this.registry],
  })
  private readonly modelRequests = modelCounter(
    this.registry,
    'resflow_model_requests_total',
    '/v1/rank requests by the model and version that served them (failed ones included).',
  )
  private readonly modelCandidates = modelCounter(
    this.registry,
    'resflow_model_candidates_scored_total',
    'Candidates scored by /v1/rank, by model and version.',
  )
  private readonly modelErrors = modelCounter(
    this.registry,
    'resflow_model_errors_total',
    '/v1/rank requests answered with an error (4xx or 5xx), by the model and version serving then.',
  )

  private readonly requests = new Map<string, number>() // `${route}\u0000${status}`
  private readonly latency = new Map<string, Histogram>()
  private readonly errors = new Map<string, number>() // by kind
  candidates = 0
  inFlight = 0
  reloads = 0
  reloadFailures = 0
  /** /v1/rank time by phase, ms: parse (JSON), encode (validate + encode, item-store joins), run (the model), sort (sort + serialise) */
  readonly phases = { parse: 0, encode: 0, run: 0, sort: 0 }
  /** items in the store served now (null: no item store) */
  itemStoreSize: number | null = null
  /** item-store lookups by /v1/rank (one per candidate named by id), and those whose id was not in the store */
  itemStoreLookups = 0
  itemStoreMisses = 0
  /** /v1/rank requests answered by the item split (by id with a shared context), the others by the full model */
  splitRequests = 0
  /** /v1/rank rows or columns requests answered by the row split (the context the same in every row) */
  rowSplitRequests = 0
  private served = { name: '', version: '' }

  /** Counts one request's item-store lookups. */
  itemLookups(lookups: number, misses: number): void {
    this.itemStoreLookups += lookups
    this.itemStoreMisses += misses
  }

  /** The model served now (resflow_model_info); setting it starts its per-model counters at 0. */
  get model(): { name: string; version: string } {
    return this.served
  }
  set model(m: { name: string; version: string }) {
    this.served = { name: m.name, version: m.version }
    const labels = { model: m.name, version: m.version }
    for (const c of [this.modelRequests, this.modelCandidates, this.modelErrors]) c.inc(labels, 0)
  }

  /** One /v1/rank request scored by a model: its request and candidate counters. */
  modelScored(model: string, version: string, candidates: number): void {
    const labels = { model, version }
    this.modelRequests.inc(labels)
    this.modelCandidates.inc(labels, candidates)
  }

  /** One /v1/rank request answered with an error, counted against the given model (default: the one served now). */
  modelFailed(model = this.served.name, version = this.served.version): void {
    const labels = { model, version }
    this.modelRequests.inc(labels)
    this.modelErrors.inc(labels)
  }

  /** Records one finished request. */
  observe(route: string, status: number, latencyMs: number): void {
    const key = `${route}\u0000${status}`
    this.requests.set(key, (this.requests.get(key) ?? 0) + 1)
    let h = this.latency.get(route)
    if (!h) {
      h = { counts: new Array<number>(LATENCY_BUCKETS_S.length + 1).fill(0), sum: 0, count: 0 }
      this.latency.set(route, h)
    }
    const s = latencyMs / 1000
    let i = 0
    while (i < LATENCY_BUCKETS_S.length && s > LATENCY_BUCKETS_S[i]) i++
    h.counts[i]++
    h.sum += s
    h.count++
  }

  /** Records one answered HTTP request (the server's onResponse hook); route is the route pattern or "unmatched". */
  observeHttp(method: string, route: string, status: number, latencyMs: number): void {
    this.http.observe({ method, route, status_code: String(status) }, latencyMs / 1000)
  }

  /** The prom-client part of /metrics: process_* and nodejs_* defaults, http_request_duration_seconds and the per-model counters. */
  async promText(): Promise<string> {
    return (await this.process.metrics()) + (await this.registry.metrics())
  }

  error(kind: string): void {
    this.errors.set(kind, (this.errors.get(kind) ?? 0) + 1)
  }

  /** Total requests recorded for a route (tests, health). */
  count(route: string, status?: number): number {
    let n = 0
    for (const [key, v] of this.requests) {
      const [r, s] = key.split('\u0000')
      if (r === route && (status === undefined || Number(s) === status)) n += v
    }
    return n
  }

  render(): string {
    const esc = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')
    const lines: string[] = []
    // a metric's HELP and TYPE lines, then (for one without labels) its value: the name written once
    const head = (name: string, type: 'counter' | 'gauge' | 'histogram', help: string) =>
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`)
    const single = (name: string, type: 'counter' | 'gauge', help: string, value: number) => {
      head(name, type, help)
      lines.push(`${name} ${value}`)
    }
    head('resflow_requests_total', 'counter', 'HTTP requests by route and status.')
    for (const [key, v] of [...this.requests].sort()) {
      const [route, status] = key.split('\u0000')
      lines.push(`resflow_requests_total{route="${esc(route)}",status="${status}"} ${v}`)
    }
    head('resflow_request_duration_seconds', 'histogram', 'Request latency by route.')
    for (const [route, h] of [...this.latency].sort()) {
      let cumulative = 0
      LATENCY_BUCKETS_S.forEach((le, i) => {
        cumulative += h.counts[i]
        lines.push(`resflow_request_duration_seconds_bucket{route="${esc(route)}",le="${le}"} ${cumulative}`)
      })
      lines.push(`resflow_request_duration_seconds_bucket{route="${esc(route)}",le="+Inf"} ${h.count}`)
      lines.push(`resflow_request_duration_seconds_sum{route="${esc(route)}"} ${h.sum}`)
      lines.push(`resflow_request_duration_seconds_count{route="${esc(route)}"} ${h.count}`)
    }
    head('resflow_errors_total', 'counter', 'Failed requests by kind (bad_request, too_large, internal, ...).')
    for (const [kind, v] of [...this.errors].sort()) lines.push(`resflow_errors_total{kind="${esc(kind)}"} ${v}`)
    single('resflow_candidates_scored_total', 'counter', 'Candidates scored by /v1/rank.', this.candidates)
    single('resflow_requests_in_flight', 'gauge', 'Requests being handled.', this.inFlight)
    head('resflow_model_reloads_total', 'counter', 'Model reloads, by outcome.')
    lines.push(`resflow_model_reloads_total{outcome="ok"} ${this.reloads}`)
    lines.push(`resflow_model_reloads_total{outcome="failed"} ${this.reloadFailures}`)
    head(
      'resflow_rank_phase_seconds_total',
      'counter',
      'Time spent in /v1/rank by phase: parse (JSON), encode (validate, encode, join item features), run (the model), sort (sort and serialise).',
    )
    for (const [phase, ms] of Object.entries(this.phases))
      lines.push(`resflow_rank_phase_seconds_total{phase="${phase}"} ${ms / 1000}`)
    single(
      'resflow_row_split_requests_total',
      'counter',
      '/v1/rank requests whose context-side features were the same in every candidate, so the first layers ran on the item columns only.',
      this.rowSplitRequests,
    )
    if (this.itemStoreSize !== null) {
      single('resflow_item_store_items', 'gauge', 'Items in the item store served now.', this.itemStoreSize)
      single(
        'resflow_item_store_lookups_total',
        'counter',
        'Candidates looked up in the item store by id.',
        this.itemStoreLookups,
      )
      single(
        'resflow_item_store_misses_total',
        'counter',
        'Lookups whose id was not in the item store (refused, skipped or defaulted).',
        this.itemStoreMisses,
      )
      single(
        'resflow_item_split_requests_total',
        'counter',
        '/v1/rank requests answered by the item split (ids with a shared context: the first layers precomputed per item).',
        this.splitRequests,
      )
    }
    head('resflow_model_info', 'gauge', 'The loaded model (value is always 1).')
    lines.push(`resflow_model_info{model="${esc(this.model.name)}",version="${esc(this.model.version)}"} 1`)
    return lines.join('\n') + '\n'
  }
}
