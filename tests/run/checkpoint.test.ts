/** The weights file format: the trainer's state travels as JSON in the header; older headers still read. */
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { ParamStore } from '../../src/nn/params.js'
import { loadWeights, parseWeights, saveWeights } from '../../src/run/checkpoint.js'
import { sha256 } from '../../src/run/checksums.js'

function store(): ParamStore {
  const p = new ParamStore(3)
  p.ensure('w', [2, 2], (v) => v.fill(0.5))
  return p
}

describe('weights file', () => {
  it('keeps a JSON state in the header, exactly, beside the floats', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'resflow-ckpt-')), 'checkpoint.bin')
    const state = { epoch: 3, step: 1234, rng: 0xdeadbeef, best: { value: 0.7321, epoch: 2 }, note: 'ü' }
    saveWeights(file, store(), new Map(), { state })
    const text = readFileSync(file).toString('utf8')
    assert.ok(text.startsWith('RESFLOW-WEIGHTS-3\n'))
    const w = loadWeights(file)
    assert.deepEqual(w.state, state)
    assert.equal(w.extras.size, 0) // not smuggled in as floats
    assert.deepEqual([...w.params.get('w')!.values], [0.5, 0.5, 0.5, 0.5])
    // a weights file without state has none
    saveWeights(file, store(), new Map())
    assert.equal(loadWeights(file).state, undefined)
  })

  it('reads format 2 (a header of entries only, with its hash line)', () => {
    const body = Buffer.concat([Buffer.from('[{"name":"w","kind":"param","shape":[2],"offset":0}]\n'), Buffer.alloc(0)])
    const pad = (4 - ((18 + 72 + body.length) % 4)) % 4
    const floats = Buffer.from(Float32Array.of(1.5, -2).buffer)
    const hashed = Buffer.concat([body, Buffer.alloc(pad, 0x20), floats])
    const bytes = Buffer.concat([Buffer.from('RESFLOW-WEIGHTS-2\n'), Buffer.from(`sha256 ${sha256(hashed)}\n`), hashed])
    const file = join(mkdtempSync(join(tmpdir(), 'resflow-ckpt-')), 'weights.bin')
    writeFileSync(file, bytes)
    const w = parseWeights(readFileSync(file), file)
    assert.deepEqual([...w.params.get('w')!.values], [1.5, -2])
    assert.equal(w.state, undefined)
  })
})
