/**
 * Loading a run's saved weights (run/checkpoint.ts) back into a session: dense parameters, buffers
 * and embedding tables (with their optimizer state when saved), each checked against the model's
 * shapes. Apart from the session, which trains; this only fills what it holds.
 */
import { DataError } from '../errors.js'
import type { WeightsFile } from '../run/checkpoint.js'
import type { EmbeddingTable } from '../nn/embedding.js'
import type { ParamStore } from '../nn/params.js'
import type { Model } from '../models/types.js'

/** What a session holds that weights fill (TrainSession has it; named here so this file does not import the session). */
export interface SessionWeightsTarget {
  model: Pick<Model, 'name'>
  params: ParamStore
  tables: ReadonlyMap<string, EmbeddingTable>
}

/** Loads weights saved by `saveWeights` into a session (dense parameters, buffers and tables). */
export function loadSessionWeights(session: SessionWeightsTarget, weights: WeightsFile): void {
  for (const [name, { values }] of weights.params) {
    const entry = session.params.entries.get(name)
    if (!entry)
      throw new DataError(`weights: parameter "${name}" does not exist in model "${session.model.name}"`, {
        field: name,
      })
    if (entry.values.length !== values.length)
      throw new DataError(
        `weights: parameter "${name}" has ${values.length} values, the model expects ${entry.values.length}`,
        { field: name },
      )
    entry.values.set(values)
  }
  for (const [name, table] of session.tables) {
    const state = weights.tableStates.get(name)
    const w = weights.tables.get(name)
    const expect = (got: readonly number[], rows: number, cols: number, what: string) => {
      if (got[0] !== rows || got[1] !== cols)
        throw new DataError(
          `weights: embedding table "${name}"${what ? ` ${what}` : ''} is [${got.join(', ')}], the model expects [${rows}, ${cols}]`,
          { field: name },
        )
    }
    if (state) {
      expect(state.shape, table.rows, table.stride, 'with optimizer state')
      table.data.set(state.values)
    } else if (w) {
      expect(w.shape, table.rows, table.spec.dim, '')
      table.setWeights(w.values)
    } else throw new DataError(`weights: no embedding table "${name}"`, { field: name })
  }
}
