/**
 * Serving as plain functions, request → response, with no HTTP server in sight (the Fastify wiring in
 * server.ts only forwards to `handle`), so tests call it directly:
 *
 *   POST /v1/rank        {"context": {...}, "candidates": [{...}, ...]}, or "candidates": {feature: [...]}
 *                        (columns), or "item_ids": [...] with an item store (see rank-encode.ts)
 *                        → {"model", "version", "results": [{"index", "score", "tasks": {task: p}}, ...]}
 *                        sorted by fused score, highest first (ties: lower index first); "skipped":
 *                        [index, ...] when candidates with unknown ids were left out (--unknown-items skip)
 *   POST /v1/prerank     {"context": {...}, "item_ids": [...], "k": 100} for a resflow-twin run served with
 *                        an item store: the user tower once, dot products with the stored item vectors
 *                        → {"model", "version", "candidates", "results": [{"index", "id", "score", "tasks"}]},
 *                        the k best by fused score (see prerank.ts)
 *   GET  /healthz        → {"status": "ok", "model", "version", "tasks"}
 *   GET  /metrics        → Prometheus text
 *   POST /admin/reload   → loads the run again and swaps it in without failing requests. Off unless
 *                          `admin` is given; then it wants `content-type: application/json` (a web page
 *                          can POST text/plain to localhost cross-origin, but not JSON without a CORS
 *                          preflight, which this server does not answer), and the token when one is set.
 *
 * Every error is JSON {"error": message, "field": where}: `field` names the part of the request at
 * fault ("body.candidates[3].price", "headers.content-type", "path", "method") and is null when the
 * request is not (500, 503). RequestError → its 4xx, anything else → 500.
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import { RequestError } from '../errors.js'
import type { RawFeature } from '../export/codec.js'
import { ServeMetrics } from './metrics.js'
import { type RankResponse, type Ranked, rankWith, toJson, toResponse } from './rank.js'
import type { ModelSlot, Served } from './model-slot.js'
import { parsePrerankRequest, prerankResponse } from './prerank-request.js'
import { DEFAULT_LIMITS, type RankLimits, clip, maxRankBodyBytes, parseJsonBody } from './request.js'

export interface HttpRequest {
  method: string
  /** path without the query string */
  path: string
  /** the raw body (POST) */
  body?: string | Uint8Array
  /** the content-type header, if any */
  contentType?: string
  /** the authorization header, if any */
  authorization?: string
}

export interface HttpResponse {
  status: number
  contentType: string
  body: string
}

/** POST /admin/reload is served when this is given. */
export interface AdminOptions {
  /** when set, requests must carry `authorization: Bearer <token>` */
  token?: string
}

export interface HandlerOptions {
  limits?: RankLimits
  metrics?: ServeMetrics
  /** serve POST /admin/reload (default: not served; SIGHUP reloads either way) */
  admin?: AdminOptions
}

/** The JSON body of every error. */
export interface ErrorBody {
  error: string
  /** the part of the request at fault, or null when it is not the request's fault */
  field: string | null
}

export interface Handler {
  handle(req: HttpRequest): Promise<HttpResponse>
  /** the /v1/rank logic without the JSON envelope (throws RequestError) */
  rank(body: unknown): Promise<RankResponse>
  /** loads the model again and swaps it in (what SIGHUP and POST /admin/reload do) */
  reload(): Promise<HttpResponse>
  readonly metrics: ServeMetrics
  readonly limits: RankLimits
  /** the raw features the model served now expects */
  readonly features: readonly RawFeature[]
  /** the largest legal /v1/rank body for the model served now (see maxRankBodyBytes) */
  readonly maxBodyBytes: number
}

export const JSON_TYPE = 'application/json; charset=utf-8'
const json = (status: number, value: unknown): HttpResponse => ({
  status,
  contentType: JSON_TYPE,
  body: JSON.stringify(value),
})
export const errorResponse = (status: number, error: string, field: string | null): HttpResponse =>
  json(status, { error, field } satisfies ErrorBody)

/** Checks an admin request: the token (401), the content type (415) and the body, which must be empty or {} (400). */
function checkAdminRequest(req: HttpRequest, admin: AdminOptions): void {
  if (admin.token !== undefined) {
    const digest = (s: string) => createHash('sha256').update(s).digest() // equal lengths for timingSafeEqual
    if (
      req.authorization === undefined ||
      !timingSafeEqual(digest(req.authorization), digest(`Bearer ${admin.token}`))
    ) {
      const got = req.authorization === undefined ? 'none' : 'another'
      throw new RequestError(
        `headers.authorization: expected "Bearer <token>" with the token given to --admin-token or RESFLOW_ADMIN_TOKEN, got ${got}`,
        { field: 'headers.authorization', status: 401 },
      )
    }
  }
  const type = req.contentType?.split(';')[0]?.trim().toLowerCase()
  if (type !== 'application/json') {
    throw new RequestError(
      `headers.content-type: expected application/json, got ${type ? JSON.stringify(clip(type)) : 'none'} ` +
        `(hint: curl -X POST -H 'content-type: application/json' http://HOST:PORT/admin/reload)`,
      { field: 'headers.content-type', status: 415 },
    )
  }
  const text = typeof req.body === 'string' ? req.body : new TextDecoder().decode(req.body ?? new Uint8Array())
  if (!/^\s*(\{\s*\})?\s*$/.test(text)) {
    throw new RequestError(
      `body: expected no body or {} (a reload reads the run folder the server was started with), got ${text.length} bytes`,
      { field: 'body' },
    )
  }
}

export function createHandler(slot: ModelSlot, opts: HandlerOptions = {}): Handler {
  const limits = opts.limits ?? DEFAULT_LIMITS
  const metrics = opts.metrics ?? new ServeMetrics()
  const setModel = (p: Served) => {
    metrics.model = { name: p.model, version: p.version }
    metrics.itemStoreSize = p.items ? p.items.size : null
  }
  setModel(slot.predictor)

  async function ranked(body: unknown): Promise<Ranked> {
    const p = slot.acquire()
    try {
      const out = await rankWith(p, body, limits, metrics.phases, metrics)
      metrics.candidates += out.order.length
      metrics.modelScored(p.model, p.version, out.order.length)
      return out
    } catch (err) {
      metrics.modelFailed(p.model, p.version)
      throw err
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
      return json(200, {
        status: 'reloaded',
        model: p.model,
        version: p.version,
        ...(p.items ? { items: p.items.size } : {}),
      })
    } catch (err) {
      metrics.reloadFailures++
      return errorResponse(
        500,
        `reload failed, still serving version ${slot.predictor.version}: ${(err as Error).message}`,
        null,
      )
    }
  }

  type Route = (req: HttpRequest) => Promise<HttpResponse> | HttpResponse
  const routes: Record<string, Route> = {
    'POST /v1/rank': async (req) => {
      const r = await ranked(req.body ?? '')
      const t = performance.now()
      const body = toJson(r)
      metrics.phases.sort += performance.now() - t
      return { status: 200, contentType: JSON_TYPE, body }
    },
    'POST /v1/prerank': async (req) => {
      const p = slot.acquire()
      try {
        const ranker = p.prerank
        if (!ranker) {
          throw new RequestError(
            `path: /v1/prerank: this server has no pre-ranker (it needs a resflow-twin run served with --items; this one serves ${p.model}${p.items ? ' with items' : ' without items'}); use /v1/rank`,
            { field: 'path', status: 404 },
          )
        }
        const request = parsePrerankRequest(parseJsonBody(req.body ?? ''), ranker.itemKey)
        const result = await ranker.rank(request.context, request.ids, request.k)
        metrics.candidates += result.candidates
        metrics.modelScored(p.model, p.version, result.candidates)
        return json(200, prerankResponse(ranker, result))
      } catch (err) {
        metrics.modelFailed(p.model, p.version)
        throw err
      } finally {
        slot.release(p)
      }
    },
    'GET /healthz': () => {
      const p = slot.predictor
      return json(200, { status: 'ok', model: p.model, version: p.version, tasks: p.tasks })
    },
    'GET /metrics': () => ({
      status: 200,
      contentType: 'text/plain; version=0.0.4; charset=utf-8',
      body: metrics.render(),
    }),
  }
  const admin = opts.admin
  if (admin) {
    routes['POST /admin/reload'] = (req) => {
      checkAdminRequest(req, admin)
      return reload()
    }
  }

  function noRoute(req: HttpRequest): HttpResponse {
    const path = clip(req.path)
    const methods = Object.keys(routes)
      .filter((k) => k.endsWith(` ${req.path}`))
      .map((k) => k.split(' ')[0])
    if (methods.length)
      return errorResponse(
        405,
        `${clip(req.method)} ${path}: method not allowed (allowed: ${methods.join(', ')})`,
        'method',
      )
    if (req.path === '/admin/reload')
      return errorResponse(
        404,
        `${path}: off (start the server with --admin or --admin-token; SIGHUP reloads too)`,
        'path',
      )
    return errorResponse(404, `${path}: no such route (routes: ${Object.keys(routes).join(', ')})`, 'path')
  }

  async function handle(req: HttpRequest): Promise<HttpResponse> {
    const start = performance.now()
    const key = `${req.method} ${req.path}`
    const route: Route | undefined = routes[key]
    let res: HttpResponse
    metrics.inFlight++
    try {
      res = route ? await route(req) : noRoute(req)
    } catch (err) {
      if (err instanceof RequestError) {
        metrics.error(err.status === 413 ? 'too_large' : err.status === 401 ? 'unauthorized' : 'bad_request')
        res = errorResponse(err.status, err.message, err.field ?? null)
      } else {
        metrics.error('internal')
        res = errorResponse(500, `internal error: ${(err as Error).message}`, null)
      }
    } finally {
      metrics.inFlight--
    }
    metrics.observe(route !== undefined ? key : 'unmatched', res.status, performance.now() - start)
    return res
  }

  return {
    handle,
    rank,
    reload,
    metrics,
    limits,
    get features() {
      return slot.predictor.codec.features
    },
    get maxBodyBytes() {
      return maxRankBodyBytes(slot.predictor.codec.features, limits)
    },
  }
}
