/**
 * Serving as plain functions, request → response, with no HTTP server in sight (the Fastify wiring in
 * server.ts only forwards to `handle`), so tests call it directly:
 *
 *   POST /v1/rank        {"context": {...}, "candidates": [{...}, ...]}
 *                        → {"model", "version", "results": [{"index", "score", "tasks": {task: p}}, ...]}
 *                        sorted by fused score, highest first (ties: lower index first)
 *   GET  /healthz        → {"status": "ok", "model", "version", "tasks"}
 *   GET  /metrics        → Prometheus text
 *   POST /admin/reload   → loads the run again and swaps it in without failing requests
 *
 * Errors are JSON {"error": message, "field": path}: RequestError → its 4xx, anything else → 500.
 */
import { DataError, RequestError } from '../errors.js'
import type { Predictor } from '../export/predictor.js'
import { ServeMetrics } from './metrics.js'
import type { ModelSlot } from './model-slot.js'
import { DEFAULT_LIMITS, type RankLimits, parseRankRequest } from './request.js'

export interface HttpRequest {
  method: string
  /** path without the query string */
  path: string
  /** the raw body (POST) */
  body?: string | Uint8Array
}

export interface HttpResponse {
  status: number
  contentType: string
  body: string
}

export interface RankResult {
  index: number
  score: number
  tasks: Record<string, number>
}

export interface RankResponse {
  model: string
  version: string
  results: RankResult[]
}

export interface HandlerOptions {
  limits?: RankLimits
  metrics?: ServeMetrics
  /** whether POST /admin/reload is served (default true) */
  adminReload?: boolean
}

export interface Handler {
  handle(req: HttpRequest): Promise<HttpResponse>
  /** the /v1/rank logic without the JSON envelope (throws RequestError) */
  rank(body: unknown): Promise<RankResponse>
  /** loads the model again and swaps it in (what SIGHUP and POST /admin/reload do) */
  reload(): Promise<HttpResponse>
  readonly metrics: ServeMetrics
}

const JSON_TYPE = 'application/json; charset=utf-8'
const json = (status: number, value: unknown): HttpResponse => ({ status, contentType: JSON_TYPE, body: JSON.stringify(value) })

/** Scores, and the candidate order by fused score (highest first; ties: lower index first). */
interface Ranked {
  model: string
  version: string
  tasks: readonly string[]
  probs: Record<string, Float32Array>
  score: Float32Array
  order: Uint32Array
}

/** Scores all candidates in one batched run and sorts them by fused score. */
async function rankWith(p: Predictor, body: unknown, limits: RankLimits): Promise<Ranked> {
  const { rows } = parseRankRequest(body, p.codec.features, limits)
  let batch
  try {
    batch = p.codec.encode(rows)
  } catch (err) {
    // the codec knows value rules the schema check cannot (e.g. a numeric column given a bucket string)
    if (err instanceof DataError) throw new RequestError(err.message, { field: err.field ?? 'body', cause: err })
    throw err
  }
  const { probs, score } = await p.predict(batch)
  const order = Uint32Array.from({ length: rows.length }, (_, i) => i)
  order.sort((a, b) => score[b]! - score[a]! || a - b)
  return { model: p.model, version: p.version, tasks: p.tasks, probs, score, order }
}

function toResponse(r: Ranked): RankResponse {
  const results = Array.from(r.order, (i) => {
    const t: Record<string, number> = {}
    for (const task of r.tasks) t[task] = r.probs[task]![i]!
    return { index: i, score: r.score[i]!, tasks: t }
  })
  return { model: r.model, version: r.version, results }
}

/** The response JSON written directly from the typed arrays (equal to JSON.stringify(toResponse(r))). */
function toJson(r: Ranked): string {
  const num = (x: number) => (Number.isFinite(x) ? String(x) : 'null')
  const keys = r.tasks.map((t) => JSON.stringify(t) + ':')
  const columns = r.tasks.map((t) => r.probs[t]!)
  const parts: string[] = new Array(r.order.length)
  for (let k = 0; k < r.order.length; k++) {
    const i = r.order[k]!
    let tasks = ''
    for (let j = 0; j < keys.length; j++) tasks += (j ? ',' : '') + keys[j] + num(columns[j]![i]!)
    parts[k] = `{"index":${i},"score":${num(r.score[i]!)},"tasks":{${tasks}}}`
  }
  return `{"model":${JSON.stringify(r.model)},"version":${JSON.stringify(r.version)},"results":[${parts.join(',')}]}`
}

export function createHandler(slot: ModelSlot, opts: HandlerOptions = {}): Handler {
  const limits = opts.limits ?? DEFAULT_LIMITS
  const metrics = opts.metrics ?? new ServeMetrics()
  const setModel = (p: Predictor) => (metrics.model = { name: p.model, version: p.version })
  setModel(slot.predictor)

  async function ranked(body: unknown): Promise<Ranked> {
    const p = slot.acquire()
    try {
      const out = await rankWith(p, body, limits)
      metrics.candidates += out.order.length
      return out
    } finally {
      slot.release(p)
    }
  }
  const rank = async (body: unknown) => toResponse(await ranked(body))

  async function reload(): Promise<HttpResponse> {
    try {
      const p = await slot.reload()
      metrics.reloads++
      setModel(p)
      return json(200, { status: 'reloaded', model: p.model, version: p.version })
    } catch (err) {
      metrics.reloadFailures++
      return json(500, { error: `reload failed, still serving version ${slot.predictor.version}: ${(err as Error).message}` })
    }
  }

  type Route = (req: HttpRequest) => Promise<HttpResponse> | HttpResponse
  const routes: Record<string, Route> = {
    'POST /v1/rank': async (req) => ({ status: 200, contentType: JSON_TYPE, body: toJson(await ranked(req.body ?? '')) }),
    'GET /healthz': () => {
      const p = slot.predictor
      return json(200, { status: 'ok', model: p.model, version: p.version, tasks: p.tasks })
    },
    'GET /metrics': () => ({ status: 200, contentType: 'text/plain; version=0.0.4; charset=utf-8', body: metrics.render() }),
  }
  if (opts.adminReload ?? true) routes['POST /admin/reload'] = reload

  async function handle(req: HttpRequest): Promise<HttpResponse> {
    const start = performance.now()
    const key = `${req.method} ${req.path}`
    const route: Route | undefined = routes[key]
    let res: HttpResponse
    metrics.inFlight++
    try {
      if (!route) {
        const methods = Object.keys(routes).filter((k) => k.endsWith(` ${req.path}`)).map((k) => k.split(' ')[0])
        res = methods.length
          ? json(405, { error: `${req.method} ${req.path}: method not allowed (allowed: ${methods.join(', ')})` })
          : json(404, { error: `${req.path}: no such route (routes: ${Object.keys(routes).join(', ')})` })
      } else {
        res = await route(req)
      }
    } catch (err) {
      if (err instanceof RequestError) {
        metrics.error(err.status === 413 ? 'too_large' : 'bad_request')
        res = json(err.status, { error: err.message, field: err.field })
      } else {
        metrics.error('internal')
        res = json(500, { error: `internal error: ${(err as Error).message}` })
      }
    } finally {
      metrics.inFlight--
    }
    metrics.observe(route !== undefined ? key : 'unmatched', res.status, performance.now() - start)
    return res
  }

  return { handle, rank, reload, metrics }
}
