/**
 * End to end through the CLI on a tiny synthetic funnel: `resflow train` writes a run, `resflow
 * predict` scores the test file, and the same raw rows sent to the HTTP server, and run through the
 * `resflow export`ed file in a fresh onnxruntime session, give the same probabilities and fused score.
 * Then `resflow serve` as a process: ranks, reloads on SIGHUP, exits cleanly on SIGTERM.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import * as ort from 'onnxruntime-node'
import { main } from '../../src/cli/main.js'
import { connect, queryObjects } from '../../src/data/duck.js'
import { SYNTHETIC_FEATURES } from '../../src/data/synth.js'
import { batchFeeds } from '../../src/export/feeds.js'
import { codecFromPreprocessing } from '../../src/export/codec.js'
import { loadPreprocessing } from '../../src/data/preprocessing.js'
import { readExportMetadata } from '../../src/export/onnx.js'
import { loadPredictor } from '../../src/export/predictor.js'
import { createHandler } from '../../src/serve/handler.js'
import { loadServed } from '../../src/serve/load.js'
import { ModelSlot } from '../../src/serve/model-slot.js'
import { CONTEXT_FEATURES } from '../helpers/item-store-rows.js'
import { type RunningServer, startServer } from '../../src/serve/server.js'

const TOLERANCE = 1e-5

const dir = mkdtempSync(join(tmpdir(), 'resflow-e2e-'))
const runDir = join(dir, 'run')
const quiet = async (argv: string[]) => {
  const log = console.log
  console.log = () => {}
  try {
    return await main(argv)
  } finally {
    console.log = log
  }
}

describe('train → predict → serve / export', () => {
  let csv: { p_click: number; p_purchase: number; fused: number }[]
  let raw: Record<string, string | number | null>[]
  let server: RunningServer
  before(async () => {
    writeFileSync(
      join(dir, 'config.yaml'),
      [
        'name: e2e',
        'data: { dataset: synthetic, dir: ./data, generate: { rows: 20000, seed: 3, tasks: [click, purchase] } }',
        'model: { model: resflow, embeddingDim: 4, towers: [8, 4] }',
        'optimizer: { kind: adam, lr: 0.01 }',
        'epochs: 1',
        'batchSize: 256',
        'fusion: { kind: additive, grid: [0, 1, 4] }',
        'seed: 3',
      ].join('\n'),
    )
    assert.equal(await quiet(['train', '--config', join(dir, 'config.yaml'), '--out', runDir]), 0)
    const test = join(dir, 'data', 'test.parquet')
    assert.equal(
      await quiet([
        'predict',
        '--run',
        runDir,
        '--dataset',
        'synthetic',
        '--path',
        test,
        '--out',
        join(dir, 'pred.csv'),
      ]),
      0,
    )
    const [header, ...lines] = readFileSync(join(dir, 'pred.csv'), 'utf8').trim().split('\n')
    assert.equal(header, 'row,p_click,p_purchase,fused')
    csv = lines.map((l) => {
      const [, c, p, f] = l.split(',').map(Number)
      return { p_click: c, p_purchase: p, fused: f }
    })
    const conn = await connect()
    raw = (await queryObjects(conn, `SELECT ${SYNTHETIC_FEATURES.join(', ')} FROM '${test}'`)) as Record<
      string,
      string | number | null
    >[]
    assert.equal(raw.length, csv.length)
    const slot = new ModelSlot(await loadPredictor(runDir), () => loadPredictor(runDir))
    server = await startServer(createHandler(slot), slot, { port: 0 })
  })
  after(async () => {
    await server.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it('scores over HTTP equal `resflow predict` for the same rows', async () => {
    let checked = 0
    for (let start = 0; start < raw.length; start += 250) {
      const rows = raw.slice(start, start + 250)
      const res = await fetch(`${server.url}/v1/rank`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ context: {}, candidates: rows }),
      })
      assert.equal(res.status, 200)
      const { results } = (await res.json()) as {
        results: { index: number; score: number; tasks: Record<string, number> }[]
      }
      for (const r of results) {
        const want = csv[start + r.index]
        assert.ok(
          Math.abs(r.tasks.click - want.p_click) <= TOLERANCE,
          `row ${start + r.index}: click ${r.tasks.click} vs ${want.p_click}`,
        )
        assert.ok(Math.abs(r.tasks.purchase - want.p_purchase) <= TOLERANCE, `row ${start + r.index}: purchase`)
        assert.ok(
          Math.abs(r.score - want.fused) <= TOLERANCE * Math.max(1, want.fused),
          `row ${start + r.index}: fused ${r.score} vs ${want.fused}`,
        )
        checked++
      }
    }
    assert.equal(checked, csv.length)
  })

  it('served as `resflow serve` serves (loadServed): rows and columns of one user, read from their bytes by the row split, score as the predictor', async () => {
    const served = await loadServed(runDir)
    assert.ok(served.rowSplit, 'the schema marks the item side, so the row split applies')
    const slot = new ModelSlot(served, () => loadServed(runDir))
    const handler = createHandler(slot)
    const http = await startServer(handler, slot, { port: 0 })
    const reference = await loadPredictor(runDir)
    try {
      const user = Object.fromEntries(CONTEXT_FEATURES.map((f) => [f, raw[0][f]]))
      const rows = raw.slice(0, 300).map((r) => ({ ...r, ...user }))
      const want = await reference.predictRows(rows)
      const columns = Object.fromEntries(Object.keys(rows[0]).map((k) => [k, rows.map((r) => r[k])]))
      for (const candidates of [rows, columns]) {
        const res = await fetch(`${http.url}/v1/rank`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ candidates }),
        })
        assert.equal(res.status, 200)
        const { results } = (await res.json()) as { results: { index: number; score: number }[] }
        assert.equal(results.length, rows.length)
        for (const r of results)
          assert.ok(
            Math.abs(r.score - want.score[r.index]) <= TOLERANCE,
            `row ${r.index}: ${r.score} vs ${want.score[r.index]}`,
          )
      }
      const metrics = await (await fetch(`${http.url}/metrics`)).text()
      assert.match(metrics, /^resflow_row_split_requests_total 2$/m, 'both answered by the row split')
      assert.match(metrics, /^resflow_rank_phase_seconds_total\{phase="parse"\} 0$/m, 'neither went through JSON.parse')
    } finally {
      await reference.release()
      await http.close()
    }
  })

  it('the exported file, run by a fresh onnxruntime session, equals `resflow predict` too', async () => {
    const out = join(dir, 'export', 'model.onnx')
    assert.equal(await quiet(['export', '--run', runDir, '--out', out]), 0)
    assert.ok(existsSync(join(dir, 'export', 'model.preprocessing.json')))
    const bytes = readFileSync(out)
    const meta = await readExportMetadata(bytes)
    const inputs = JSON.parse(meta['resflow.inputs']) as { name: string; dtype: string; shape: (string | number)[] }[]
    const codec = codecFromPreprocessing(loadPreprocessing(join(dir, 'export', 'model.preprocessing.json')))
    const { feeds, dims } = batchFeeds(JSON.parse(meta['resflow.features']), codec.encode(raw))
    const session = await ort.InferenceSession.create(bytes)
    const ortFeeds = Object.fromEntries(
      inputs.map((io) => [
        io.name,
        new ort.Tensor(
          io.dtype as 'float32',
          feeds[io.name] as Float32Array,
          io.shape.map((d) => (typeof d === 'number' ? d : dims[d])),
        ),
      ]),
    )
    const got = await session.run(ortFeeds)
    await session.release()
    const click = got['p.click'].data as Float32Array
    const score = got.score.data as Float32Array
    csv.forEach((want, i) => {
      assert.ok(Math.abs(click[i] - want.p_click) <= TOLERANCE, `row ${i}: click`)
      assert.ok(Math.abs(score[i] - want.fused) <= TOLERANCE * Math.max(1, want.fused), `row ${i}: score`)
    })
  })

  it('`resflow serve` ranks, reloads on SIGHUP and exits 0 on SIGTERM after draining', async () => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', 'serve', '--run', runDir, '--port', '0'],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    )
    let err = ''
    const url = await new Promise<string>((resolve, reject) => {
      child.stderr.on('data', (c: Buffer) => {
        err += c.toString()
        const m = /on (http:\/\/[\d.]+:\d+)/.exec(err)
        if (m) resolve(m[1])
      })
      child.once('exit', (code) => reject(new Error(`serve exited ${code}: ${err}`)))
    })
    const body = JSON.stringify({ context: {}, candidates: raw.slice(0, 20) })
    assert.equal((await fetch(`${url}/v1/rank`, { method: 'POST', body })).status, 200)
    child.kill('SIGHUP')
    while (!/SIGHUP: .*reloaded/.test(err)) await new Promise((r) => setTimeout(r, 10))
    assert.equal((await fetch(`${url}/v1/rank`, { method: 'POST', body })).status, 200)
    child.kill('SIGTERM')
    const [code] = await once(child, 'exit')
    assert.equal(code, 0, err)
    assert.match(err, /SIGTERM: finishing in-flight requests/)
  })
})
