/**
 * UCI Census-Income, the standard multi-task benchmark (the MMoE paper's setup): 40 features of the raw
 * UCI layout, tasks income (> 50k) and marital status (never married), two independent tasks.
 */
import { basename } from 'node:path'
import { statSync } from 'node:fs'
import { type DatasetSchemaInput, parseDatasetSchema } from '../schema.js'
import { type FolderFiles, discoverSplits, trainingSplits, type DatasetAdapter } from '../splits.js'

const CENSUS_FIELDS = [
  'age',
  'class_worker',
  'det_ind_code',
  'det_occ_code',
  'education',
  'wage_per_hour',
  'hs_college',
  'marital_stat',
  'major_ind_code',
  'major_occ_code',
  'race',
  'hisp_origin',
  'sex',
  'union_member',
  'unemp_reason',
  'full_or_part_emp',
  'capital_gains',
  'capital_losses',
  'stock_dividends',
  'tax_filer_stat',
  'region_prev_res',
  'state_prev_res',
  'det_hh_fam_stat',
  'det_hh_summ',
  'instance_weight',
  'mig_chg_msa',
  'mig_chg_reg',
  'mig_move_reg',
  'mig_same',
  'mig_prev_sunbelt',
  'num_emp',
  'fam_under_18',
  'country_father',
  'country_mother',
  'country_self',
  'citizenship',
  'own_or_self',
  'vet_question',
  'vet_benefits',
  'weeks_worked',
  'year',
  'income_50k',
]
const CENSUS_NUMERIC = [
  'age',
  'wage_per_hour',
  'capital_gains',
  'capital_losses',
  'stock_dividends',
  'num_emp',
  'weeks_worked',
]

/** UCI Census-Income (MMoE paper setup): tasks income (> 50k) and marital (never married). */
export function censusSchema(): DatasetSchemaInput {
  const skip = new Set([...CENSUS_NUMERIC, 'instance_weight', 'marital_stat', 'income_50k'])
  return {
    format: 'csv',
    csv: { header: false, names: CENSUS_FIELDS, delimiter: ',', nullValues: ['?'], trim: true },
    sparse: CENSUS_FIELDS.filter((f) => !skip.has(f)).map((name) => ({ name })),
    dense: CENSUS_NUMERIC.map((name) => ({ name, transform: 'log1p-standardize' })), // as the PyTorch reference
    tasks: [
      { name: 'income', column: 'income_50k', positive: ['50000+.'] },
      { name: 'marital', column: 'marital_stat', positive: ['Never married'] },
    ],
    funnel: 'keep', // two independent tasks, not a funnel
  }
}

/** Census files by split; the original UCI release names its training file census-income.data(.gz). */
function censusFiles(path: string): FolderFiles {
  const found = discoverSplits(path, /census-income/)
  if (found.train.length === 0 && statSync(path).isDirectory())
    found.train = found.files.filter((f) => /^census-income\.data(\.gz)?$/.test(basename(f)))
  return found
}

export const census: DatasetAdapter = {
  summary: 'UCI Census-Income raw layout (census-income.{train,val,test}.gz or .data/.test)',
  resolve: async (path) => ({
    schema: parseDatasetSchema(censusSchema(), 'census'),
    splits: trainingSplits(path, censusFiles(path)),
  }),
  files: async (path) => censusFiles(path),
}
