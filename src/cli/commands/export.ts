/**
 * `resflow export --run RUN_DIR --out model.onnx`: the run's inference graph as a standalone ONNX file
 * (see export/onnx.ts for its inputs, outputs and metadata), the preprocessing artifact beside it as
 * `<name>.preprocessing.json`, and for resflow-twin runs one file per tower, `<name>.user.onnx` and
 * `<name>.item.onnx`: each reads only its side's features and carries the task composition in its
 * metadata (`resflow.twin`), so a pre-ranking stack outside resflow can score with them (export/twin.ts).
 */
import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import { exportRun } from '../../export/predictor.js'
import { twinOfRun } from '../../export/twin.js'
import { writeAtomic } from '../../run/checkpoint.js'
import { type OptionSpec, parseCommand, stringOption } from '../parse-args.js'

const OPTIONS: OptionSpec = {
  run: { type: 'string', description: 'run directory written by `resflow train`', required: true },
  out: { type: 'string', description: 'the ONNX file to write, e.g. model.onnx', required: true },
}

/** model.onnx → model.<part>.<ext> */
export function besideOut(out: string, part: string, ext: string): string {
  const stem = out.endsWith('.onnx') ? out.slice(0, -'.onnx'.length) : out
  return `${stem}.${part}.${ext}`
}

export async function run(argv: string[]): Promise<number> {
  const values = parseCommand('export', argv, OPTIONS, {
    synopsis: '--run RUN_DIR --out model.onnx',
    examples: ['export --run runs/synthetic-resflow-s1 --out model/resflow.onnx'],
  })
  if (!values) return 0
  const runDir = stringOption(values.run)!
  const out = stringOption(values.out)!
  const loaded = exportRun(runDir)
  const { exported, preprocessing, manifest } = loaded
  mkdirSync(dirname(out) || '.', { recursive: true })
  writeAtomic(out, exported.main.bytes)
  const written = [`${out} (${(exported.main.bytes.length / 1024).toFixed(0)} KiB)`]
  const prepFile = besideOut(out, 'preprocessing', 'json')
  writeAtomic(prepFile, JSON.stringify(preprocessing) + '\n')
  written.push(prepFile)
  if (manifest.model === 'resflow-twin') {
    const twin = twinOfRun(loaded)
    for (const side of ['user', 'item'] as const) {
      const file = besideOut(out, side, 'onnx')
      writeAtomic(file, twin[side].graph.bytes)
      written.push(`${file} (${side} tower: ${twin[side].graph.outputs.map((o) => o.name).join(', ')})`)
    }
  }
  console.log(
    `exported ${manifest.model} (tasks ${manifest.tasks.join(' → ')}, fusion ${exported.fusion.kind} ${JSON.stringify(exported.fusion.weights)}):`,
  )
  for (const line of written) console.log(`  ${line}`)
  console.log(`inputs: ${exported.main.inputs.map((i) => `${i.name} ${i.dtype}[${i.shape.join(', ')}]`).join(', ')}`)
  return 0
}
