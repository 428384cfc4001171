/**
 * Serving metrics in the Prometheus text format (version 0.0.4): request counts by route and status,
 * a latency histogram per route, errors by kind, candidates scored, in-flight requests, reloads and
 * the loaded model. Plain counters in memory; `/metrics` renders them.
 */

/** Upper bounds of the latency histogram, in seconds (Prometheus' unit). */
export const LATENCY_BUCKETS_S = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5] as const

interface Histogram {
  counts: number[] // per bucket, not cumulative; last = +Inf
  sum: number
  count: number
}

export class ServeMetrics {
  private readonly requests = new Map<string, number>() // `${route}\u0000${status}`
  private readonly latency = new Map<string, Histogram>()
  private readonly errors = new Map<string, number>() // by kind
  candidates = 0
  inFlight = 0
  reloads = 0
  reloadFailures = 0
  model = { name: '', version: '' }

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
    while (i < LATENCY_BUCKETS_S.length && s > LATENCY_BUCKETS_S[i]!) i++
    h.counts[i]!++
    h.sum += s
    h.count++
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
    lines.push('# HELP resflow_requests_total HTTP requests by route and status.', '# TYPE resflow_requests_total counter')
    for (const [key, v] of [...this.requests].sort()) {
      const [route, status] = key.split('\u0000')
      lines.push(`resflow_requests_total{route="${esc(route!)}",status="${status}"} ${v}`)
    }
    lines.push('# HELP resflow_request_duration_seconds Request latency by route.', '# TYPE resflow_request_duration_seconds histogram')
    for (const [route, h] of [...this.latency].sort()) {
      let cumulative = 0
      LATENCY_BUCKETS_S.forEach((le, i) => {
        cumulative += h.counts[i]!
        lines.push(`resflow_request_duration_seconds_bucket{route="${esc(route)}",le="${le}"} ${cumulative}`)
      })
      lines.push(`resflow_request_duration_seconds_bucket{route="${esc(route)}",le="+Inf"} ${h.count}`)
      lines.push(`resflow_request_duration_seconds_sum{route="${esc(route)}"} ${h.sum}`)
      lines.push(`resflow_request_duration_seconds_count{route="${esc(route)}"} ${h.count}`)
    }
    lines.push('# HELP resflow_errors_total Failed requests by kind (bad_request, too_large, internal, ...).', '# TYPE resflow_errors_total counter')
    for (const [kind, v] of [...this.errors].sort()) lines.push(`resflow_errors_total{kind="${esc(kind)}"} ${v}`)
    lines.push('# HELP resflow_candidates_scored_total Candidates scored by /v1/rank.', '# TYPE resflow_candidates_scored_total counter')
    lines.push(`resflow_candidates_scored_total ${this.candidates}`)
    lines.push('# HELP resflow_requests_in_flight Requests being handled.', '# TYPE resflow_requests_in_flight gauge')
    lines.push(`resflow_requests_in_flight ${this.inFlight}`)
    lines.push('# HELP resflow_model_reloads_total Model reloads, by outcome.', '# TYPE resflow_model_reloads_total counter')
    lines.push(`resflow_model_reloads_total{outcome="ok"} ${this.reloads}`)
    lines.push(`resflow_model_reloads_total{outcome="failed"} ${this.reloadFailures}`)
    lines.push('# HELP resflow_model_info The loaded model (value is always 1).', '# TYPE resflow_model_info gauge')
    lines.push(`resflow_model_info{model="${esc(this.model.name)}",version="${esc(this.model.version)}"} 1`)
    return lines.join('\n') + '\n'
  }
}
