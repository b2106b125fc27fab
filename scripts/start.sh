#!/usr/bin/env bash
# `npm start`: the gateway on the embedded broker, on Node (the Confluent
# driver), after the set-up it needs. `npm run start:deno` and
# `npm run start:bun` start the same gateway on Deno or Bun (the FFI driver).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh >&2
runtime=${1:-node}
case $runtime in
  node) exec node --import tsx gateway/main.ts ;;
  deno) exec node_modules/.bin/deno run --allow-net --allow-env --allow-ffi --allow-read gateway/main.ts ;;
  bun) exec node_modules/.bin/bun gateway/main.ts ;;
  *) echo "start: unknown runtime '$runtime' (node, deno or bun)" >&2; exit 2 ;;
esac
