/**
 * Hot reload against a run folder that is being replaced: a half-copied folder (files of the new run
 * next to files of the old one, or a file cut short) must not be served; the reload answers 5xx naming
 * the file and the old model keeps answering. A run published by one rename is served whole, and the
 * served version is a hash of the content, so a changed model always shows a new version.
 */
import assert from 'node:assert/strict'
import { cpSync, readFileSync, renameSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { before, describe, it } from 'node:test'
import { type Predictor, loadPredictor } from '../../src/export/predictor.js'
import { type Handler, createHandler } from '../../src/serve/handler.js'
import { ModelSlot } from '../../src/serve/model-slot.js'
import { cli, tempDir, tinyConfig } from '../cli/tiny.js'
import { tinyRun } from '../export/fixture.js'
import { Rng } from '../helpers/rng.js'

/** Candidates built from the codec's feature list; numeric values vary, so scores differ between rows and models. */
function request(p: Predictor, n: number): string {
  const rng = new Rng(5)
  const value = (kind: string) =>
    kind === 'list' ? [] : kind === 'numeric' ? Math.round(rng.next() * 100) / 10 : `v${rng.int(5)}`
  const candidates = Array.from({ length: n }, () =>
    Object.fromEntries(p.codec.features.map((f) => [f.name, value(f.kind)])),
  )
  return JSON.stringify({ context: {}, candidates })
}

async function post(h: Handler, path: string, body?: string) {
  const res = await h.handle({ method: 'POST', path, body, contentType: 'application/json' })
  return { status: res.status, json: JSON.parse(res.body) as { version?: string; error?: string; results?: unknown } }
}

describe('reload of a run folder being replaced', () => {
  const config = tinyConfig()
  const runs: Record<'a' | 'b', string> = { a: join(tempDir(), 'a'), b: join(tempDir(), 'b') }
  const want: Record<'a' | 'b', { version: string; results: unknown }> = {} as never
  let body: string
  before(async () => {
    for (const [name, seed] of [
      ['a', '1'],
      ['b', '2'],
    ] as const) {
      const r = await cli('train', '--config', config, '--out', runs[name], '--seed', seed)
      assert.equal(r.code, 0, r.stderr)
    }
    for (const name of ['a', 'b'] as const) {
      const slot = new ModelSlot(await loadPredictor(runs[name]), () => loadPredictor(runs[name]))
      body ??= request(slot.predictor, 20)
      const res = await post(createHandler(slot), '/v1/rank', body)
      want[name] = { version: res.json.version!, results: res.json.results }
      await slot.close()
    }
    assert.notEqual(want.a.version, want.b.version)
    assert.notDeepEqual(want.a.results, want.b.results)
  })

  /** Serves a copy of run a from `dir` (reloads read `dir` again). */
  async function serve(dir: string) {
    const slot = new ModelSlot(await loadPredictor(dir), () => loadPredictor(dir))
    return { slot, handler: createHandler(slot, { admin: {} }) }
  }

  async function assertStillServesA(handler: Handler, during: string) {
    const reload = await post(handler, '/admin/reload')
    assert.ok(reload.status >= 500, `${during}: reload answered ${reload.status}`)
    assert.match(
      reload.json.error!,
      new RegExp(`still serving version ${want.a.version}: .*(run\\.json|preprocessing\\.json|weights\\.bin): `),
      during,
    )
    const rank = await post(handler, '/v1/rank', body)
    assert.equal(rank.json.version, want.a.version, during)
    assert.deepEqual(rank.json.results, want.a.results, during)
  }

  for (const order of [
    ['weights.bin', 'preprocessing.json', 'run.json', 'checkpoint.bin', 'log.jsonl', 'checksums.json'],
    ['checksums.json', 'run.json', 'log.jsonl', 'checkpoint.bin', 'preprocessing.json', 'weights.bin'],
  ]) {
    it(`copying the new run file by file (${order[0]} first): every reload before the last file keeps the old model, then the new one is served`, async () => {
      const dir = join(tempDir(), 'served')
      cpSync(runs.a, dir, { recursive: true })
      const { slot, handler } = await serve(dir)
      for (const [i, file] of order.entries()) {
        cpSync(join(runs.b, file), join(dir, file))
        // a copy that has reached only the files the server does not read is already consistent
        if (
          i < order.length - 1 &&
          order
            .slice(i + 1)
            .some((f) => ['run.json', 'preprocessing.json', 'weights.bin', 'checksums.json'].includes(f))
        ) {
          await assertStillServesA(handler, `after copying ${order.slice(0, i + 1).join(', ')}`)
        }
      }
      const reload = await post(handler, '/admin/reload')
      assert.equal(reload.status, 200, reload.json.error)
      assert.equal(reload.json.version, want.b.version)
      assert.deepEqual((await post(handler, '/v1/rank', body)).json.results, want.b.results)
      await slot.close()
    })
  }

  it('a weights.bin copied half way is not served; the run renamed into place (a symlink swap) is served whole', async () => {
    const root = tempDir()
    cpSync(runs.a, join(root, 'a'), { recursive: true })
    symlinkSync(join(root, 'a'), join(root, 'current'))
    const { slot, handler } = await serve(join(root, 'current'))
    const weights = readFileSync(join(runs.b, 'weights.bin'))
    writeFileSync(join(root, 'a', 'weights.bin'), weights.subarray(0, weights.length >> 1))
    await assertStillServesA(handler, 'half of weights.bin copied')
    // publish: the new run complete in its own folder, then one rename makes it current
    cpSync(runs.b, join(root, 'b'), { recursive: true })
    symlinkSync(join(root, 'b'), join(root, 'current.tmp'))
    renameSync(join(root, 'current.tmp'), join(root, 'current'))
    const reload = await post(handler, '/admin/reload')
    assert.equal(reload.status, 200, reload.json.error)
    assert.equal(reload.json.version, want.b.version)
    await slot.close()
  })

  it('the served version is derived from the content: same files, same version; other weights under the same createdAt, another', async () => {
    const one = await tinyRun({ seed: 9, steps: 1 })
    const two = await tinyRun({ seed: 9, steps: 3 }) // same run.json (createdAt "tiny-9"), other weights
    const [p1, p1again, p2] = [await loadPredictor(one.dir), await loadPredictor(one.dir), await loadPredictor(two.dir)]
    assert.equal(p1.version, p1again.version)
    assert.notEqual(p1.version, p2.version)
    assert.match(p1.version, /^[0-9a-f]{12}$/)
    for (const p of [p1, p1again, p2]) await p.release()
    await one.session.release()
    await two.session.release()
  })
})
