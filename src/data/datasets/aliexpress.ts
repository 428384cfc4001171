/** AliExpress (the processed CSV release): click → conversion over 16 categorical and 63 numeric fields, grouped by search. */
import { type DatasetSchemaInput, parseDatasetSchema } from '../schema.js'
import { CSV_FILES, discoverSplits, findSplits, type DatasetAdapter } from '../splits.js'

/** AliExpress processed layout: categorical_1..16, numerical_1..63, click → conversion, search_id groups. */
export function aliexpressSchema(): DatasetSchemaInput {
  return {
    format: 'csv',
    sparse: Array.from({ length: 16 }, (_, i) => ({ name: `categorical_${i + 1}` })),
    dense: Array.from({ length: 63 }, (_, i) => ({ name: `numerical_${i + 1}` })),
    tasks: [{ name: 'click' }, { name: 'conversion' }],
    funnel: 'drop',
    group: 'search_id',
  }
}

export const aliexpress: DatasetAdapter = {
  summary: 'AliExpress processed CSV (search_id, categorical_1..16, numerical_1..63, click, conversion)',
  resolve: async (path) => ({
    schema: parseDatasetSchema(aliexpressSchema(), 'aliexpress'),
    splits: findSplits(path, CSV_FILES),
  }),
  files: async (path) => discoverSplits(path, CSV_FILES),
}
