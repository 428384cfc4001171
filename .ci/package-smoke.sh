#!/usr/bin/env bash
# Installs resflow as a user would: packs this checkout, installs the tarball into an empty project
# (no .npmrc, nothing but the npm registry), then in that project runs README's library example with
# tsx (on 10k rows instead of 100k, to stay quick), typechecks it with `tsc --strict`, and runs
# `npx resflow --version`, `npx resflow models` and `npx resflow demo --seeds 1`. Fails on any npm warning
# during the install other than npm 11's install-scripts notice.
# ONNXRUNTIME_NODE_INSTALL=skip: the install command README documents (onnxruntime-node would download
# CUDA binaries; the CPU runtime ships in its package).
# About two minutes on 2 cores; called by .ci/run after npm test.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
work=$(mktemp -d "${TMPDIR:-/tmp}/resflow-smoke-XXXXXX")
trap 'rm -rf "$work"' EXIT
step() { echo "package-smoke: $*"; }

step "npm pack"
tarball=$(npm pack --silent --pack-destination "$work" | tail -n 1)

step "npm install $tarball into an empty project"
mkdir "$work/app"
cd "$work/app"
npm init -y >/dev/null
npm pkg set type=module
# the example's own tools, at the versions this checkout develops with
dev() { node -p "require('$root/package.json').devDependencies['$1']"; }
ONNXRUNTIME_NODE_INSTALL=skip npm install --no-audit --no-fund "$work/$tarball" "tsx@$(dev tsx)" "typescript@$(dev typescript)" "@types/node@$(dev @types/node)" 2>&1 | tee install.log
# npm 11 lists dependencies whose install scripts it skipped until the project approves or denies them
# ("npm warn install-scripts"): npm's policy, not a problem of the package; any other warning fails
if grep -i '^npm warn' install.log | grep -v '^npm warn install-scripts'; then
  echo "package-smoke: the install printed warnings (above)" >&2
  exit 1
fi

step "README's library example"
# the first ts block under "## Library"
awk '/^## Library/ { on = 1 } on && /^```ts/ { grab = 1; next } grab && /^```/ { exit } grab' "$root/README.md" > example.ts
test -s example.ts
sed 's/rows: 100_000/rows: 10_000/' example.ts > example-small.ts
npx tsx example-small.ts
cat > tsconfig.json <<'JSON'
{ "compilerOptions": { "strict": true, "target": "es2022", "module": "nodenext", "moduleResolution": "nodenext", "noEmit": true, "skipLibCheck": false, "types": ["node"] }, "files": ["example.ts"] }
JSON
npx tsc -p tsconfig.json

step "npx resflow --version / models"
test "$(npx resflow --version)" = "$(node -p "require('$root/package.json').version")"
npx resflow models | head -n 3
npx resflow train --help >/dev/null

step "generated data goes under the project, not into node_modules/resflow"
node --input-type=module -e "
import { loadExperiment } from 'resflow'
const dir = loadExperiment('node_modules/resflow/configs/synthetic.yaml').data.dir
if (dir !== process.cwd() + '/.cache/synthetic') throw new Error('data.dir ' + dir)
"
step "npx resflow demo --seeds 1 (≈ 1 min: 600k generated rows, 4 trainings)"
npx resflow demo --seeds 1 > demo.log 2>&1 || { cat demo.log; exit 1; }
grep -q '^purchase  auc' demo.log && grep -q 'bayes (true p)' demo.log
test -d .cache/synthetic && test ! -e node_modules/resflow/.cache
tail -n 4 demo.log
step "ok"
