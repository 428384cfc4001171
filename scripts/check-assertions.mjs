// Non-null assertions (`x!`) that assert nothing: the operand's type already excludes null and undefined.
// The project does not turn on noUncheckedIndexedAccess (numeric loops over typed arrays would need an
// assertion on every read), so `a[i]!` on an array is such a no-op; the `!`s kept are the ones that
// state an invariant the types cannot see (a Map entry known to exist). `npm run lint` runs this check;
// `node scripts/check-assertions.mjs --fix` removes the no-ops.
import { writeFileSync } from 'node:fs'
import { relative, resolve } from 'node:path'
import ts from 'typescript'

const fix = process.argv.includes('--fix')
const configPath = resolve('tsconfig.json')
const config = ts.readConfigFile(configPath, ts.sys.readFile)
const parsed = ts.parseJsonConfigFileContent(config.config, ts.sys, resolve(configPath, '..'))
const program = ts.createProgram(parsed.fileNames, parsed.options)
const checker = program.getTypeChecker()
const NULLISH = ts.TypeFlags.Undefined | ts.TypeFlags.Null | ts.TypeFlags.Void | ts.TypeFlags.Any | ts.TypeFlags.Unknown
const nullable = (t) => (t.isUnion() ? t.types.some((u) => u.flags & NULLISH) : (t.flags & NULLISH) !== 0)

const found = []
for (const sf of program.getSourceFiles()) {
  if (sf.isDeclarationFile || sf.fileName.includes('/node_modules/')) continue
  const cuts = []
  const visit = (node) => {
    if (ts.isNonNullExpression(node) && !nullable(checker.getTypeAtLocation(node.expression))) cuts.push(node.end - 1)
    ts.forEachChild(node, visit)
  }
  visit(sf)
  if (cuts.length === 0) continue
  for (const pos of cuts) {
    const { line, character } = sf.getLineAndCharacterOfPosition(pos)
    found.push(`${relative(process.cwd(), sf.fileName)}:${line + 1}:${character + 1}`)
  }
  if (fix) {
    let text = sf.text
    for (const pos of cuts.sort((a, b) => b - a)) text = text.slice(0, pos) + text.slice(pos + 1)
    writeFileSync(sf.fileName, text)
  }
}
if (fix) console.log(`removed ${found.length} non-null assertions that asserted nothing`)
else if (found.length > 0) {
  console.error(
    `${found.length} non-null assertions assert nothing (the type already excludes null/undefined); remove them (node scripts/check-assertions.mjs --fix):`,
  )
  for (const f of found.slice(0, 20)) console.error(`  ${f}`)
  process.exit(1)
}
