import { after, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect, queryObjects, sqlString } from '../../src/data/duck.js'
import { generateWideSynthetic } from '../../src/data/synth-wide.js'

const root = mkdtempSync(join(tmpdir(), 'resflow-wide-'))
after(() => rmSync(root, { recursive: true, force: true }))

describe('wide synthetic data (datagen --width aliexpress)', () => {
  it('writes the AliExpress width, a funnel, its Bayes probabilities, and the same files for the same seed', async () => {
    const rows = 30_000
    const a = await generateWideSynthetic({ outDir: join(root, 'a'), rows, seed: 7, ids: 5000 })
    await generateWideSynthetic({ outDir: join(root, 'b'), rows, seed: 7, ids: 5000 })
    await generateWideSynthetic({ outDir: join(root, 'c'), rows, seed: 8, ids: 5000 })
    assert.equal(a.rows.train + a.rows.val + a.rows.test, rows)
    assert.ok(Math.abs(a.rows.train / rows - 0.8) < 0.02, JSON.stringify(a.rows))
    const schema = JSON.parse(readFileSync(a.schemaFile, 'utf8'))
    assert.equal(schema.sparse.length, 16)
    assert.equal(schema.dense.length, 63)
    assert.deepEqual(
      schema.tasks.map((t: { name: string }) => t.name),
      ['click', 'purchase'],
    )
    const conn = await connect()
    const stats = async (dir: string) =>
      (
        await queryObjects(
          conn,
          `SELECT count(*)::DOUBLE AS n, avg(click) AS click, avg(purchase) AS purchase, avg(p_click) AS p_click, avg(p_purchase) AS p_purchase,
      sum((purchase > click)::INTEGER)::DOUBLE AS broken, max(item_id)::DOUBLE AS max_item, min(item_id)::DOUBLE AS min_item, count(DISTINCT item_id)::DOUBLE AS items,
      sum(num_1 + num_40 + num_63)::DOUBLE AS checksum, sum(hash(item_id, shop_id, user_cluster, hour, position) % 1000)::DOUBLE AS idsum,
      sum((p_purchase > p_click)::INTEGER)::DOUBLE AS p_broken
      FROM read_parquet(${sqlString(join(dir, '*.parquet'))})`,
        )
      )[0]
    const sa = await stats(join(root, 'a'))
    assert.deepEqual(await stats(join(root, 'b')), sa, 'same seed, same data')
    assert.notDeepEqual((await stats(join(root, 'c'))).checksum, sa.checksum, 'another seed, other data')
    assert.equal(sa.broken, 0, 'purchase only after click')
    assert.equal(sa.p_broken, 0, 'p_purchase = p_click · q2 ≤ p_click')
    // the intercepts aim at click 4%, purchase 4% · 8%; labels are Bernoulli draws of the written probabilities
    assert.ok(Math.abs(Number(sa.click) - 0.04) < 0.006, `click rate ${sa.click}`)
    assert.ok(Math.abs(Number(sa.p_click) - Number(sa.click)) < 0.004, `p_click ${sa.p_click} vs click ${sa.click}`)
    assert.ok(Math.abs(Number(sa.p_purchase) - 0.0032) < 0.0015, `p_purchase ${sa.p_purchase}`)
    assert.ok(Number(sa.min_item) >= 0 && Number(sa.max_item) < 5000)
    assert.ok(Number(sa.items) > 2500, `${sa.items} distinct items of 5000`)
    // the Bayes probability ranks clicks far better than chance (it is the best any model can do)
    const [auc] = await queryObjects(
      conn,
      `WITH r AS (SELECT click, rank() OVER (ORDER BY p_click) AS rk FROM read_parquet(${sqlString(join(root, 'a', '*.parquet'))}))
      SELECT ((sum(CASE WHEN click = 1 THEN rk END) - count_if(click = 1) * (count_if(click = 1) + 1) / 2) / (count_if(click = 1) * count_if(click = 0)))::DOUBLE AS auc FROM r`,
    )
    assert.ok(Number(auc.auc) > 0.7, `Bayes click AUC ${auc.auc}`)
    conn.closeSync()
  })
})
