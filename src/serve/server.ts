/**
 * Fastify wiring for the handler: raw bodies up to a limit, every route forwarded to
 * `handler.handle`, and every answer Fastify or Node give on their own (oversized or unreadable
 * bodies, malformed URLs or HTTP, requests arriving while shutting down) turned into the handler's
 * error shape {"error", "field"}. Graceful shutdown finishes in-flight requests within a deadline,
 * then closes the connections still open, so a client holding a partial body cannot keep the process
 * alive. SIGHUP reloads (signals.ts).
 */
import { STATUS_CODES, maxHeaderSize } from 'node:http'
import type { Socket } from 'node:net'
import type { Readable } from 'node:stream'
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import { RequestError } from '../errors.js'
import { type AdminOptions, type Handler, type HttpResponse, JSON_TYPE, errorResponse } from './handler.js'
import type { ModelSlot } from './model-slot.js'
import { clip } from './request.js'

export { handleSignals } from './signals.js'

export interface ServerOptions {
  port?: number
  /** loopback by default; pass 0.0.0.0 to listen on every interface */
  host?: string
  /** largest accepted request body (default: the largest legal /v1/rank request for the model served at start, `handler.maxBodyBytes`) */
  maxBodyBytes?: number
  /** how long `close` waits for in-flight requests before closing the connections still open (default SHUTDOWN_TIMEOUT_MS) */
  shutdownTimeoutMs?: number
  /** Fastify's request logging (default off) */
  logger?: boolean
}

/** How a shutdown went. */
export interface CloseResult {
  /** connections still open at the deadline, closed then (0: every request finished in time) */
  dropped: number
}

export interface RunningServer {
  app: FastifyInstance
  /** e.g. http://127.0.0.1:8080 */
  url: string
  /** stops accepting, finishes in-flight requests (closing what is left after `shutdownTimeoutMs`), then frees the model */
  close(): Promise<CloseResult>
  /** resolves once the server has closed (by `close` or a signal) */
  closed: Promise<void>
  readonly shutdownTimeoutMs: number
}

/** 10 s: within Kubernetes' 30 s grace period and systemd's 90 s stop timeout (`docker stop` waits 10 s: give it -t 15) */
export const SHUTDOWN_TIMEOUT_MS = 10_000

function send(reply: FastifyReply, res: HttpResponse): FastifyReply {
  return reply.code(res.status).header('content-type', res.contentType).send(res.body)
}

const header = (req: FastifyRequest, name: string): string | undefined => {
  const v = req.headers[name]
  return typeof v === 'string' ? v : undefined
}

/** Node's answer to a request that is not valid HTTP (written to the socket: there is no request object). */
function clientError(err: NodeJS.ErrnoException, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return
  const [status, error, field]: [number, string, string | null] =
    err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? [408, 'request: not received in time', null]
      : err.code === 'HPE_HEADER_OVERFLOW'
        ? [431, `headers: larger than the limit of ${maxHeaderSize} bytes`, 'headers']
        : [400, `request: not valid HTTP (${err.code ?? clip(err.message)})`, null]
  const body = JSON.stringify({ error, field })
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\ncontent-type: ${JSON_TYPE}\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    )
  }
  socket.destroy(err)
}

/**
 * Reads a request body as it arrives: at most `limit` bytes (413 from the content-length header, or
 * once more arrive). Its JSON nesting is checked when it is parsed, not here: a plain rank body is encoded
 * straight from its bytes (fast-body.ts), which accepts no nesting beyond the request's own, so scanning
 * every body as it arrived (0.9 ms of the 466 KB census-width rows body) was paid twice; any other body is
 * scanned before JSON.parse (request.ts `parseJsonBody`), which refuses a body of nested brackets at its
 * 9th byte.
 */
function readBody(
  req: FastifyRequest,
  payload: Readable,
  limit: number,
  tooLarge: () => RequestError,
  done: (err: Error | null, body?: Buffer) => void,
): void {
  const declared = Number(req.headers['content-length'])
  if (declared > limit) {
    done(tooLarge())
    return
  }
  const chunks: Buffer[] = []
  let received = 0
  const finish = (err: Error | null, body?: Buffer) => {
    payload.off('data', onData)
    payload.off('end', onEnd)
    payload.off('error', finish)
    done(err, body)
  }
  const onData = (chunk: Buffer) => {
    received += chunk.length
    if (received > limit) return finish(tooLarge())
    chunks.push(chunk)
  }
  const onEnd = () => {
    if (!Number.isNaN(declared) && declared !== received)
      return finish(new RequestError(`body: ${received} bytes, but content-length says ${declared}`, { field: 'body' }))
    finish(null, Buffer.concat(chunks, received))
  }
  payload.on('data', onData)
  payload.on('end', onEnd)
  payload.on('error', finish)
  payload.resume()
}

/** Builds the Fastify app (not listening yet; `app.inject` works for tests). */
export function buildApp(handler: Handler, opts: ServerOptions = {}): FastifyInstance {
  const maxBodyBytes = opts.maxBodyBytes ?? handler.maxBodyBytes
  const limitNote =
    opts.maxBodyBytes === undefined
      ? `${handler.limits.maxCandidates} candidates of ${handler.features.length} features`
      : 'set with maxBodyBytes / --max-body-bytes'
  const app = Fastify({
    logger: opts.logger ?? false,
    bodyLimit: maxBodyBytes,
    return503OnClosing: false, // answered below, in the error shape
    clientErrorHandler: clientError,
    frameworkErrors: (err, req, reply) =>
      send(
        reply,
        errorResponse(
          400,
          `path: ${clip(req.url)}: ${err.code === 'FST_ERR_BAD_URL' ? 'not a valid URL' : clip(err.message)}`,
          'path',
        ),
      ),
  })
  // the handler parses and validates bodies itself, so errors name the field the same way everywhere
  const tooLarge = () =>
    new RequestError(
      `body: larger than the limit of ${maxBodyBytes} bytes (${limitNote}) (hint: send fewer candidates per request, or raise --max-body-bytes)`,
      { field: 'body', status: 413 },
    )
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', (req, payload, done) => readBody(req, payload, maxBodyBytes, tooLarge, done))

  // shutting down: new requests get 503, and answers close their connection so that close() need not wait for keep-alive
  let closing = false
  app.addHook('preClose', (done) => {
    closing = true
    done()
  })
  app.addHook('onRequest', async (req, reply) => {
    if (!closing) return
    handler.metrics.error('unavailable')
    if (req.routeOptions.url === '/v1/rank' && req.method === 'POST') handler.metrics.modelFailed()
    handler.metrics.observe('unmatched', 503, 0)
    return send(
      reply.header('connection', 'close'),
      errorResponse(503, 'shutting down: not taking new requests (hint: retry on another instance)', null),
    )
  })
  app.addHook('onSend', async (_req, reply) => {
    if (closing) reply.header('connection', 'close')
  })

  const forward = async (req: FastifyRequest, reply: FastifyReply) => {
    const path = req.url.split('?')[0]
    const body = req.body as Buffer | undefined
    return send(
      reply,
      await handler.handle({
        method: req.method,
        path,
        body,
        contentType: header(req, 'content-type'),
        authorization: header(req, 'authorization'),
      }),
    )
  }
  app.post('/v1/rank', forward)
  app.post('/v1/prerank', forward)
  app.get('/healthz', forward)
  // the handler's resflow_* metrics (the request counted like any other), then prom-client's process and HTTP metrics
  app.get('/metrics', async (req, reply) => {
    const res = await handler.handle({ method: 'GET', path: '/metrics', authorization: header(req, 'authorization') })
    return send(reply, res.status === 200 ? { ...res, body: res.body + (await handler.metrics.promText()) } : res)
  })
  app.addHook('onResponse', async (req, reply) => {
    handler.metrics.observeHttp(req.method, req.routeOptions.url ?? 'unmatched', reply.statusCode, reply.elapsedTime)
  })
  app.post('/admin/reload', forward)
  app.setNotFoundHandler(forward)

  // errors raised before the handler runs: reading the body (ours, as RequestError), or Fastify's own
  app.setErrorHandler((err: { statusCode?: number; code?: string; message: string }, req, reply) => {
    const status =
      err instanceof RequestError
        ? err.status
        : err.statusCode && err.statusCode >= 400 && err.statusCode < 500
          ? err.statusCode
          : 500
    const res =
      err instanceof RequestError
        ? errorResponse(status, err.message, err.field ?? null)
        : status < 500
          ? errorResponse(status, `body: ${clip(err.message)}`, 'body')
          : errorResponse(500, `internal error: ${clip(err.message)}`, null)
    handler.metrics.error(status === 413 ? 'too_large' : status < 500 ? 'bad_request' : 'internal')
    if (req.routeOptions.url === '/v1/rank' && req.method === 'POST') handler.metrics.modelFailed() // refused before the handler (body too large or unreadable)
    handler.metrics.observe(req.routeOptions.url ? `${req.method} ${req.routeOptions.url}` : 'unmatched', status, 0)
    return send(reply, res)
  })
  return app
}

/** Listens and returns a handle whose `close` drains requests (within the deadline) and frees the model. */
export async function startServer(handler: Handler, slot: ModelSlot, opts: ServerOptions = {}): Promise<RunningServer> {
  const app = buildApp(handler, opts)
  await app.listen({ port: opts.port ?? 8080, host: opts.host ?? '127.0.0.1' })
  const address = app.server.address()
  const port = typeof address === 'object' && address ? address.port : opts.port
  const shutdownTimeoutMs = opts.shutdownTimeoutMs ?? SHUTDOWN_TIMEOUT_MS
  const connections = new Set<Socket>()
  app.server.on('connection', (socket: Socket) => {
    connections.add(socket)
    socket.once('close', () => connections.delete(socket))
  })

  let closing: Promise<CloseResult> | null = null
  let resolveClosed: () => void = () => {}
  const closed = new Promise<void>((resolve) => (resolveClosed = resolve))
  async function close(): Promise<CloseResult> {
    let dropped = 0
    const deadline = setTimeout(() => {
      dropped = connections.size
      app.server.closeAllConnections()
      for (const socket of connections) socket.destroy() // sockets the HTTP parser has let go of (upgrades)
    }, shutdownTimeoutMs)
    try {
      await app.close()
    } finally {
      clearTimeout(deadline)
    }
    await slot.close()
    resolveClosed()
    return { dropped }
  }
  return {
    app,
    url: `http://${opts.host ?? '127.0.0.1'}:${port}`,
    close: () => (closing ??= close()),
    closed,
    shutdownTimeoutMs,
  }
}

const LOOPBACK = /^(127(\.\d{1,3}){3}|::1|localhost|::ffff:127(\.\d{1,3}){3})$/i

/** The warning to print when POST /admin/reload is served beyond loopback, or null. */
export function adminWarning(host: string, admin: AdminOptions | undefined): string | null {
  if (!admin || LOOPBACK.test(host)) return null
  const risk =
    admin.token === undefined
      ? 'without a token: anyone who can reach the port can reload the model (hint: set --admin-token or RESFLOW_ADMIN_TOKEN, or bind --host 127.0.0.1)'
      : 'the token travels in clear over plain HTTP (hint: keep the port behind a TLS proxy or a firewall, or bind --host 127.0.0.1)'
  return `warning: POST /admin/reload is served on ${host}, beyond loopback, ${risk}`
}
