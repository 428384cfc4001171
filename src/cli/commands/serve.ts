/**
 * `resflow serve --run RUN_DIR [--port 8080] [--items FILE --item-key item_id]`: POST /v1/rank, GET /healthz
 * and GET /metrics over HTTP (see serve/handler.ts), and POST /admin/reload with --admin or --admin-token.
 * With --items, candidates may be named by id and their item features come from the file, loaded with the
 * model and reloaded with it (serve/load.ts, serve/item-store.ts); this command only parses the options. SIGHUP reloads the run
 * directory; SIGTERM / SIGINT finish in-flight requests (at most --shutdown-timeout-ms) and exit. A
 * reload reads the run as one snapshot checked against its checksums.json: a half-copied folder is
 * refused (5xx naming the file) and the old model keeps serving. Publish a new run by writing it
 * elsewhere and renaming (a symlink swap), see docs/run-folder.md; running under a process manager:
 * docs/serving.md.
 */
import { setFlagsFromString } from 'node:v8'
import { ConfigError } from '../../errors.js'
import { UNKNOWN_ITEMS, type UnknownItems } from '../../serve/item-store.js'
import { loadServed } from '../../serve/load.js'
import { type AdminOptions, createHandler } from '../../serve/handler.js'
import { ModelSlot } from '../../serve/model-slot.js'
import { DEFAULT_LIMITS, VALUE_BYTES } from '../../serve/request.js'
import { SHUTDOWN_TIMEOUT_MS, adminWarning, handleSignals, startServer } from '../../serve/server.js'
import { type OptionSpec, intOption, parseCommand, stringOption } from '../parse-args.js'

const OPTIONS: OptionSpec = {
  run: { type: 'string', description: 'run directory written by `resflow train`', required: true },
  port: { type: 'string', description: 'port to listen on (default 8080; 0 picks a free one)' },
  host: { type: 'string', description: 'address to bind (default 127.0.0.1; 0.0.0.0 for every interface)' },
  'max-candidates': {
    type: 'string',
    description: `most candidates per request (default ${DEFAULT_LIMITS.maxCandidates})`,
  },
  'max-body-bytes': {
    type: 'string',
    description: `largest request body (default: max candidates × the model's features × ${VALUE_BYTES} bytes a value, + 64 KiB)`,
  },
  threads: { type: 'string', description: 'onnxruntime intra-op threads (default 1)' },
  admin: {
    type: 'boolean',
    description: 'serve POST /admin/reload (content-type application/json); off by default, SIGHUP reloads either way',
  },
  'admin-token': {
    type: 'string',
    description: 'serve POST /admin/reload to requests with "authorization: Bearer TOKEN" (or set RESFLOW_ADMIN_TOKEN)',
  },
  items: {
    type: 'string',
    description:
      'item store: a CSV or Parquet file of item features (one row per item), joined to candidates named by id; reloaded with the model',
  },
  'item-key': { type: 'string', description: "the item file's key column (default item_id)" },
  'unknown-items': {
    type: 'string',
    description: `an id not in the item store: ${UNKNOWN_ITEMS.join(' | ')} (422 naming it; leave the candidate out; score it with default item features) (default error)`,
  },
  'no-row-split': {
    type: 'boolean',
    description:
      'do not build the row split (rows repeating the context run the first layers on the item columns only; it costs a second onnxruntime session)',
  },
  'shutdown-timeout-ms': {
    type: 'string',
    description: `on SIGTERM / SIGINT, how long in-flight requests may take before their connections are closed (default ${SHUTDOWN_TIMEOUT_MS})`,
  },
}

/**
 * The server process's old generation may grow to 4× what a full GC leaves (V8's usual largest factor)
 * before the next one. Measured (--trace-gc-nvp, census-width rows after a phase of by-id requests): the
 * old generation took ~12 MB per ~20 requests with nothing promoted, and V8, whose factor shrinks when full
 * GCs are frequent, settled its limit ~1.35× above the ~25 MB live: a 2-5 ms full GC every ~20 requests
 * (44 in 939), rows p99 13-17 ms; with this, 2 full GCs and p99 7-8 ms. A --heap-growing-percent the
 * process was started with (node flag or NODE_OPTIONS) wins.
 */
const HEAP_GROWING_PERCENT = 300

function growHeapGenerously(): void {
  const given = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)]
  if (!given.some((a) => a.startsWith('--heap-growing-percent')))
    setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`)
}

export async function run(argv: string[]): Promise<number> {
  const values = parseCommand('serve', argv, OPTIONS, {
    synopsis: '--run RUN_DIR [--port 8080]',
    examples: [
      'serve --run runs/synthetic-resflow-s1 --port 8080',
      'serve --run /srv/models/current --host 0.0.0.0 --threads 2 --admin-token "$TOKEN"',
      'serve --run runs/synthetic-resflow-s1 --items items.parquet --item-key item_id --unknown-items skip',
    ],
  })
  if (!values) return 0
  const runDir = stringOption(values.run)!
  const threads = intOption('threads', values.threads, 1)
  const host = stringOption(values.host) ?? '127.0.0.1'
  const token = stringOption(values['admin-token']) ?? (process.env.RESFLOW_ADMIN_TOKEN || undefined)
  const admin: AdminOptions | undefined = token !== undefined ? { token } : values.admin ? {} : undefined
  const itemsFile = stringOption(values.items)
  const unknown = stringOption(values['unknown-items']) ?? 'error'
  if (!UNKNOWN_ITEMS.includes(unknown as UnknownItems))
    throw new ConfigError(
      `--unknown-items: expected one of ${UNKNOWN_ITEMS.join(', ')}, got ${JSON.stringify(unknown)}`,
      { field: '--unknown-items' },
    )
  if (!itemsFile && (values['item-key'] !== undefined || values['unknown-items'] !== undefined))
    throw new ConfigError('--item-key and --unknown-items need --items FILE', { field: '--items' })
  const items = itemsFile
    ? { file: itemsFile, key: stringOption(values['item-key']) ?? 'item_id', unknown: unknown as UnknownItems }
    : undefined
  growHeapGenerously()
  const rowSplit = !values['no-row-split']
  const load = () => loadServed(runDir, { threads, items, rowSplit })
  const slot = new ModelSlot(await load(), load)
  const handler = createHandler(slot, {
    limits: { maxCandidates: intOption('max-candidates', values['max-candidates'], 1) ?? DEFAULT_LIMITS.maxCandidates },
    admin,
  })
  const server = await startServer(handler, slot, {
    port: intOption('port', values.port) ?? 8080,
    host,
    maxBodyBytes: intOption('max-body-bytes', values['max-body-bytes'], 1),
    shutdownTimeoutMs: intOption('shutdown-timeout-ms', values['shutdown-timeout-ms'], 0),
  })
  const p = slot.predictor
  const routes = [
    'POST /v1/rank',
    'GET /healthz',
    'GET /metrics',
    ...(admin ? [`POST /admin/reload${admin.token !== undefined ? ' (token)' : ''}`] : []),
  ]
  const store = p.items ? `, ${p.items.size} items from ${p.items.file} by ${p.items.key}` : ''
  const split = p.rowSplit
    ? `, row split: ${p.rowSplit.layers.map((l) => `${l.itemColumns} of ${l.columns}`).join(', ')} columns per row`
    : ', no row split'
  console.error(
    `serving ${p.model} (version ${p.version}, tasks ${p.tasks.join(' → ')}${store}${split}) on ${server.url}: ${routes.join(', ')}; pid ${process.pid}`,
  )
  const warning = adminWarning(host, admin)
  if (warning) console.error(warning)
  const unlisten = handleSignals(server, handler, (line) => console.error(line))
  await server.closed
  unlisten()
  return 0
}
