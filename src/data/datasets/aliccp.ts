/** Ali-CCP (the processed CSV layouts): click → purchase, id fields and dense fields named D*. */
import { connect } from '../duck.js'
import { type DatasetSchemaInput, parseDatasetSchema } from '../schema.js'
import { describeColumns } from '../source.js'
import { discoverSplits, findSplits, type DatasetAdapter } from '../splits.js'

const ALICCP_FILES = /^ali_ccp.*\.csv(\.gz)?$|^(?!aitm).*\.csv(\.gz)?$/

/** Ali-CCP processed layouts: click, purchase, id fields, and dense fields named D*. */
export function aliccpSchema(columns: string[]): DatasetSchemaInput {
  const features = columns.filter((c) => c !== 'click' && c !== 'purchase')
  return {
    format: 'csv',
    sparse: features.filter((c) => !c.startsWith('D')).map((name) => ({ name })),
    dense: features.filter((c) => c.startsWith('D')).map((name) => ({ name })),
    tasks: [{ name: 'click' }, { name: 'purchase' }],
    funnel: 'drop',
  }
}

export const aliccp: DatasetAdapter = {
  summary: 'Ali-CCP processed CSV (click, purchase, id fields, D* dense fields)',
  resolve: async (path) => {
    // the folder of samples holds two layouts; a folder means the 23+8 one, a file may be either
    const splits = findSplits(path, ALICCP_FILES)
    const conn = await connect()
    const probe = parseDatasetSchema({ format: 'csv', tasks: [{ name: 'click' }] }, 'aliccp')
    const cols = (await describeColumns(conn, probe, splits.train)).map((c) => c.name)
    conn.closeSync()
    return { schema: parseDatasetSchema(aliccpSchema(cols), 'aliccp'), splits }
  },
  files: async (path) => discoverSplits(path, ALICCP_FILES),
}
