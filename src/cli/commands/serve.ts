/**
 * `resflow serve --run RUN_DIR [--port 8080]`: POST /v1/rank, GET /healthz, GET /metrics and
 * POST /admin/reload over HTTP (see serve/handler.ts). SIGHUP reloads the run directory; SIGTERM /
 * SIGINT finish in-flight requests and exit. A reload reads the run as one snapshot checked against its
 * checksums.json: a half-copied folder is refused (5xx naming the file) and the old model keeps serving.
 * Publish a new run by writing it elsewhere and renaming (a symlink swap), see docs/run-folder.md.
 */
import { loadPredictor } from '../../export/predictor.js'
import { RUN_DEPS } from '../../export/run-deps.js'
import { createHandler } from '../../serve/handler.js'
import { ModelSlot } from '../../serve/model-slot.js'
import { DEFAULT_LIMITS } from '../../serve/request.js'
import { DEFAULT_MAX_BODY_BYTES, handleSignals, startServer } from '../../serve/server.js'
import { type OptionSpec, helpText, intOption, parseOptions, stringOption } from '../parse-args.js'

const OPTIONS: OptionSpec = {
  run: { type: 'string', description: 'run directory written by `resflow train`', required: true },
  port: { type: 'string', description: 'port to listen on (default 8080; 0 picks a free one)' },
  host: { type: 'string', description: 'address to bind (default 127.0.0.1; 0.0.0.0 for every interface)' },
  'max-candidates': { type: 'string', description: `most candidates per request (default ${DEFAULT_LIMITS.maxCandidates})` },
  'max-body-bytes': { type: 'string', description: `largest request body (default ${DEFAULT_MAX_BODY_BYTES})` },
  threads: { type: 'string', description: 'onnxruntime intra-op threads (default 1)' },
  'no-admin': { type: 'boolean', description: 'do not serve POST /admin/reload (SIGHUP still reloads)' },
}

export async function run(argv: string[]): Promise<number> {
  const { values, help } = parseOptions('serve', argv, OPTIONS)
  if (help) {
    console.log(helpText('serve', '--run RUN_DIR [--port 8080]', OPTIONS))
    return 0
  }
  const runDir = stringOption(values.run)!
  const threads = intOption('threads', values.threads, 1)
  const load = () => loadPredictor(runDir, RUN_DEPS, { threads })
  const slot = new ModelSlot(await load(), load)
  const handler = createHandler(slot, {
    limits: { maxCandidates: intOption('max-candidates', values['max-candidates'], 1) ?? DEFAULT_LIMITS.maxCandidates },
    adminReload: !values['no-admin'],
  })
  const server = await startServer(handler, slot, {
    port: intOption('port', values.port) ?? 8080,
    host: stringOption(values.host),
    maxBodyBytes: intOption('max-body-bytes', values['max-body-bytes'], 1),
  })
  const p = slot.predictor
  console.error(`serving ${p.model} (version ${p.version}, tasks ${p.tasks.join(' → ')}) on ${server.url}: POST /v1/rank, GET /healthz, GET /metrics`)
  const unlisten = handleSignals(server, handler, (line) => console.error(line))
  await server.closed
  unlisten()
  return 0
}
