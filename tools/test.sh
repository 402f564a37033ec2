#!/usr/bin/env bash
# The one test command (`npm test`): lint with module boundaries, type-check, build, prepare the
# local services the integration tests use, then every Jest test (unit and integration).
set -euo pipefail
cd "$(dirname "$0")/.."
export NX_NO_CLOUD=true NX_DAEMON=false

step() { printf '\n== %s\n' "$1"; }

step 'lint (eslint + Nx module boundaries)'
npx nx show projects >/dev/null   # computes the project graph the boundary rule reads
npx eslint .
step 'type-check'
npx tsc -p tsconfig.json --noEmit
step 'build'
node tools/build.mjs
step 'services'
bash tools/prepare-services.sh
step 'tests'
npx jest --ci "$@"
