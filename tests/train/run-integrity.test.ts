/**
 * Fault injection on a finished run folder: flipped bits, doubled floats, truncation and garbage in
 * each run file, a run that is still open, and a write that fails half way. Every case must end in an
 * error that names the file at fault, never in a model that loads with rc 0, nor in a raw SyntaxError.
 */
import assert from 'node:assert/strict'
import { cpSync, existsSync, readFileSync, readdirSync, rmSync, truncateSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { before, describe, it } from 'node:test'
import { exportRun, loadPredictor } from '../../src/export/predictor.js'
import { writeAtomic } from '../../src/run/checkpoint.js'
import { loadRun } from '../../src/train/evaluate.js'
import { cli, tempDir, tinyConfig } from '../cli/tiny.js'
import { tinyRun } from '../export/fixture.js'

const config = tinyConfig()

/** A copy of the trained run in a fresh folder. */
function copyOf(run: string): string {
  const dir = join(tempDir(), 'run')
  cpSync(run, dir, { recursive: true })
  return dir
}

/** Flips one bit of the byte at `offset` (negative: from the end). */
function flipBit(file: string, offset: number): void {
  const bytes = readFileSync(file)
  const at = offset < 0 ? bytes.length + offset : offset
  bytes[at] ^= 0x40
  writeFileSync(file, bytes)
}

/** Every float of the weights doubled, header untouched: the edit of the report. */
function doubleFloats(file: string): void {
  const bytes = readFileSync(file)
  const text = bytes.toString('latin1')
  const entries = text.indexOf('\n[') + 1
  let start = text.indexOf('\n', entries) + 1
  start += (4 - (start % 4)) % 4
  const floats = new Float32Array(bytes.buffer, bytes.byteOffset + start, (bytes.length - start) / 4)
  for (let i = 0; i < floats.length; i++) floats[i] *= 2
  writeFileSync(file, bytes)
}

describe('run folder integrity', () => {
  let run: string
  let testFile: string
  before(async () => {
    run = join(tempDir(), 'run')
    const r = await cli('train', '--config', config, '--out', run)
    assert.equal(r.code, 0, r.stderr)
    testFile = JSON.parse(readFileSync(join(run, 'run.json'), 'utf8')).dataset.files.test[0]
  })

  it('writes checksums.json with the sha256 of every run file', () => {
    const sums = JSON.parse(readFileSync(join(run, 'checksums.json'), 'utf8')) as {
      files: Record<string, { sha256: string; bytes: number }>
    }
    assert.deepEqual(Object.keys(sums.files).sort(), [
      'checkpoint.bin',
      'preprocessing.json',
      'run.json',
      'weights.bin',
    ])
    for (const [name, { bytes, sha256 }] of Object.entries(sums.files)) {
      assert.equal(bytes, readFileSync(join(run, name)).length, name)
      assert.match(sha256, /^[0-9a-f]{64}$/)
    }
  })

  const corruptions: [string, (dir: string) => void][] = [
    ['one bit flipped in a float', (dir) => flipBit(join(dir, 'weights.bin'), -100)],
    ['every float doubled', (dir) => doubleFloats(join(dir, 'weights.bin'))],
    [
      'the last 64 bytes cut off',
      (dir) => truncateSync(join(dir, 'weights.bin'), readFileSync(join(dir, 'weights.bin')).length - 64),
    ],
  ]
  for (const [what, corrupt] of corruptions) {
    it(`weights.bin with ${what}: eval, export, loadRun and the server's loader refuse it, naming the file`, async () => {
      const dir = copyOf(run)
      corrupt(dir)
      const ev = await cli('eval', '--run', dir, '--dataset', 'synthetic', '--path', testFile)
      assert.equal(ev.code, 1, ev.stdout)
      assert.match(ev.stderr, /weights\.bin: .*sha256/)
      const ex = await cli('export', '--run', dir, '--out', join(tempDir(), 'model.onnx'))
      assert.equal(ex.code, 1, ex.stdout)
      assert.match(ex.stderr, /weights\.bin: .*sha256/)
      await assert.rejects(loadRun(dir), /weights\.bin: .*sha256/)
      await assert.rejects(loadPredictor(dir), /weights\.bin: .*sha256/)
    })
  }

  it('checkpoint.bin with one bit flipped: --resume stops and names it', async () => {
    const dir = copyOf(run)
    flipBit(join(dir, 'checkpoint.bin'), -5000)
    const r = await cli('train', '--config', config, '--out', dir, '--resume')
    assert.equal(r.code, 1, r.stdout)
    assert.match(r.stderr, /checkpoint\.bin: .*sha256/)
  })

  it('a --resume refused for another experiment config leaves the finished run as it was: same run.json, still complete', async () => {
    const dir = copyOf(run)
    const before = readFileSync(join(dir, 'run.json'))
    const other = tinyConfig((y) => y.replace('towers: [16, 8]', 'towers: [16, 4]'))
    const r = await cli('train', '--config', other, '--out', dir, '--resume')
    assert.equal(r.code, 1, r.stdout)
    assert.match(r.stderr, /checkpoint\.bin: the checkpoint was written by a different experiment config/)
    assert.deepEqual(readFileSync(join(dir, 'run.json')), before)
    const loaded = await loadRun(dir)
    await loaded.session.release()
  })

  it('an interrupted run (no checksums.json yet): the checkpoint checks itself, so a flipped bit still stops --resume', async () => {
    const dir = copyOf(run)
    rmSync(join(dir, 'checksums.json'), { force: true })
    flipBit(join(dir, 'checkpoint.bin'), -5000)
    const r = await cli('train', '--config', config, '--out', dir, '--resume')
    assert.equal(r.code, 1, r.stdout)
    assert.match(r.stderr, /checkpoint\.bin: .*sha256/)
  })

  it('a run without checksums.json (interrupted or still training) is not loaded: export says why', async () => {
    const dir = copyOf(run)
    rmSync(join(dir, 'checksums.json'), { force: true })
    const r = await cli('export', '--run', dir, '--out', join(tempDir(), 'model.onnx'))
    assert.equal(r.code, 1, r.stdout)
    assert.match(r.stderr, /checksums\.json.*incomplete.*--resume/)
  })

  const exportTo = (dir: string) => cli('export', '--run', dir, '--out', join(tempDir(), 'm.onnx'))
  const resume = (dir: string) => cli('train', '--config', config, '--out', dir, '--resume')
  // without checksums.json a format-2 run is refused as incomplete before preprocessing.json is read (see the next test for format 1)
  const garbage: [string, string, (dir: string) => Promise<{ code: number; stderr: string }>, boolean[]][] = [
    ['run.json', '{"version": 2, "model": ', exportTo, [true, false]],
    ['preprocessing.json', '{"schema": {"name"', exportTo, [true]],
    ['checkpoint.bin', 'RESFLOW-WEIGHTS-1\n[{"name":', resume, [true, false]],
  ]
  for (const [file, text, use, variants] of garbage) {
    for (const sealed of variants) {
      it(`${file} cut to ${JSON.stringify(text)}${sealed ? '' : ', no checksums.json'}: an error that names the file, not a raw SyntaxError`, async () => {
        const dir = copyOf(run)
        writeFileSync(join(dir, file), text)
        if (!sealed) rmSync(join(dir, 'checksums.json'), { force: true })
        const r = await use(dir)
        assert.equal(r.code, 1)
        assert.match(r.stderr, new RegExp(`${file.replace('.', '\\.')}: `))
        assert.doesNotMatch(r.stderr, /SyntaxError/)
      })
    }
  }

  it('a hand-built run without checksums (format 1) with garbage in preprocessing.json: the error names the file', async () => {
    const tiny = await tinyRun({ seed: 3, steps: 1 })
    rmSync(join(tiny.dir, 'checksums.json'), { force: true }) // as written before checksums existed
    writeFileSync(join(tiny.dir, 'preprocessing.json'), '{"vocab": ')
    assert.throws(
      () => exportRun(tiny.dir),
      (err: Error) => err.name !== 'SyntaxError' && /preprocessing\.json: /.test(err.message),
    )
    await tiny.session.release()
  })
})

describe('writeAtomic', () => {
  it('a write that fails half way (disk full) leaves the old file and no temporary file, and names the file', () => {
    const dir = tempDir()
    const file = join(dir, 'weights.bin')
    writeFileSync(file, 'old content')
    const full = (path: string, data: string | Uint8Array) => {
      writeFileSync(path, data.slice(0, 3))
      throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' })
    }
    assert.throws(
      () => writeAtomic(file, 'new content that does not fit', { writeFile: full }),
      (err: Error) =>
        err.name === 'WriteError' && err.message.startsWith(`${file}: cannot write`) && /ENOSPC/.test(err.message),
    )
    assert.equal(readFileSync(file, 'utf8'), 'old content')
    assert.deepEqual(readdirSync(dir), ['weights.bin'])
  })

  it('a target folder that cannot hold the file: the error names the file, nothing is left behind', () => {
    const dir = tempDir()
    const file = join(dir, 'missing-folder', 'run.json')
    assert.throws(
      () => writeAtomic(file, '{}'),
      (err: Error) => err.name === 'WriteError' && err.message.startsWith(`${file}: cannot write`),
    )
    assert.deepEqual(readdirSync(dir), [])
    assert.equal(existsSync(file), false)
  })
})
