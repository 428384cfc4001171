/**
 * The row split of a run with the item side named by column (neither the item store's nor the schema's),
 * built as serve/load.ts builds it: split plans, prepared layers, then the row-split graph.
 */
import type { ExportedRun } from '../../src/export/predictor.js'
import { exportRun } from '../../src/export/predictor.js'
import { exportSplitGraph, featureLayout } from '../../src/export/onnx.js'
import { compiledCodec } from '../../src/serve/columnar.js'
import { prepareLayers } from '../../src/serve/item-projection.js'
import { type RowSplit, createRowSplit } from '../../src/serve/row-split.js'

export async function rowSplitOf(
  runDir: string,
  itemColumns: readonly string[],
): Promise<{ run: ExportedRun; split: RowSplit | null }> {
  const run = exportRun(runDir)
  const codec = compiledCodec(run.codec)!
  const plans = exportSplitGraph(run.model, run.weights)!.layers
  const layers = await prepareLayers(plans, run.model, run.weights, codec, (c) => itemColumns.includes(c.feature.name))
  const split =
    layers &&
    (await createRowSplit(layers, run.model, run.weights, codec, featureLayout(run.model), {
      fusion: run.manifest.fusion,
    }))
  return { run, split }
}
