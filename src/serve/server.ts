/**
 * Fastify wiring for the handler: raw bodies up to a limit, every route forwarded to
 * `handler.handle`, framework errors (oversized or unreadable bodies) turned into the same JSON error
 * shape, graceful shutdown that finishes in-flight requests, and reload on SIGHUP.
 */
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import type { Handler, HttpResponse } from './handler.js'
import type { ModelSlot } from './model-slot.js'

export interface ServerOptions {
  port?: number
  /** loopback by default; pass 0.0.0.0 to listen on every interface */
  host?: string
  /** largest accepted request body (default 8 MiB, about 20k candidates of 20 features) */
  maxBodyBytes?: number
  /** Fastify's request logging (default off) */
  logger?: boolean
}

export interface RunningServer {
  app: FastifyInstance
  /** e.g. http://127.0.0.1:8080 */
  url: string
  /** stops accepting, finishes in-flight requests, then frees the model */
  close(): Promise<void>
  /** resolves once the server has closed (by `close` or a signal) */
  closed: Promise<void>
}

export const DEFAULT_MAX_BODY_BYTES = 8 * 1024 * 1024

function send(reply: FastifyReply, res: HttpResponse): FastifyReply {
  return reply.code(res.status).header('content-type', res.contentType).send(res.body)
}

/** Builds the Fastify app (not listening yet; `app.inject` works for tests). */
export function buildApp(handler: Handler, opts: ServerOptions = {}): FastifyInstance {
  const maxBodyBytes = opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES
  const app = Fastify({ logger: opts.logger ?? false, bodyLimit: maxBodyBytes, return503OnClosing: true })
  // the handler parses and validates bodies itself, so errors name the field the same way everywhere
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => done(null, body))

  const forward = async (req: FastifyRequest, reply: FastifyReply) => {
    const path = req.url.split('?')[0]!
    return send(reply, await handler.handle({ method: req.method, path, body: req.body as string | undefined }))
  }
  app.post('/v1/rank', forward)
  app.get('/healthz', forward)
  app.get('/metrics', forward)
  app.post('/admin/reload', forward)
  app.setNotFoundHandler(forward)

  app.setErrorHandler((err: { statusCode?: number; code?: string; message: string }, req, reply) => {
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500
    const message =
      err.code === 'FST_ERR_CTP_BODY_TOO_LARGE'
        ? `body: larger than the limit of ${maxBodyBytes} bytes (hint: send fewer candidates per request)`
        : `body: ${err.message}`
    handler.metrics.error(status === 413 ? 'too_large' : status < 500 ? 'bad_request' : 'internal')
    handler.metrics.observe(req.routeOptions.url ? `${req.method} ${req.routeOptions.url}` : 'unmatched', status, 0)
    return send(reply, { status, contentType: 'application/json; charset=utf-8', body: JSON.stringify({ error: message, field: 'body' }) })
  })
  return app
}

/** Listens and returns a handle whose `close` drains requests and frees the model. */
export async function startServer(handler: Handler, slot: ModelSlot, opts: ServerOptions = {}): Promise<RunningServer> {
  const app = buildApp(handler, opts)
  await app.listen({ port: opts.port ?? 8080, host: opts.host ?? '127.0.0.1' })
  const address = app.server.address()
  const port = typeof address === 'object' && address ? address.port : opts.port
  let closing: Promise<void> | null = null
  let resolveClosed: () => void = () => {}
  const closed = new Promise<void>((resolve) => (resolveClosed = resolve))
  return {
    app,
    url: `http://${opts.host ?? '127.0.0.1'}:${port}`,
    close: () => (closing ??= app.close().then(() => slot.close()).then(resolveClosed)),
    closed,
  }
}

/**
 * SIGHUP reloads the model; SIGTERM / SIGINT close gracefully. Returns a function that removes the
 * listeners. `log` receives one line per event.
 */
export function handleSignals(server: RunningServer, handler: Handler, log: (line: string) => void = console.error): () => void {
  const onHup = () => {
    void handler.reload().then((res) => log(`SIGHUP: ${res.body}`))
  }
  const onStop = (signal: string) => () => {
    log(`${signal}: finishing in-flight requests, then exiting`)
    void server.close().then(() => log('closed'))
  }
  const stops: [NodeJS.Signals, () => void][] = [['SIGTERM', onStop('SIGTERM')], ['SIGINT', onStop('SIGINT')]]
  process.on('SIGHUP', onHup)
  for (const [s, f] of stops) process.on(s, f)
  return () => {
    process.off('SIGHUP', onHup)
    for (const [s, f] of stops) process.off(s, f)
  }
}
