#!/usr/bin/env bash
# Static checks: deno fmt and deno lint, the generated error codes,
# TypeScript (Node view), Deno's type check, JSDoc with an example on every
# public export (the examples type-checked too), and JSR's publish checks (no
# slow types, no warning).
set -euo pipefail
cd "$(dirname "$0")/.."
export NO_COLOR=1
# src/_kafka_codes.ts is what scripts/gen_kafka_codes.ts makes of the installed rdkafka.h.
node --import tsx scripts/gen_kafka_codes.ts --check
# Formatting and lint, with deno.json's options.
npx deno fmt --check --quiet
npx deno lint --quiet
npx tsc --noEmit -p .
npx deno check --quiet mod.ts hono.ts testing.ts drivers.ts gateway/main.ts
doc=$(npx deno doc --lint mod.ts hono.ts testing.ts drivers.ts 2>&1 || true)
# valibot's own types show up as "private-type-ref"; missing docs on our exports do not pass.
if grep -q "missing-jsdoc" <<<"$doc"; then
  grep -A3 "missing-jsdoc" <<<"$doc" >&2
  exit 1
fi
npx deno run --quiet --allow-run --allow-read scripts/check_examples.ts mod.ts hono.ts testing.ts drivers.ts
# The examples of the public modules, each fenced block type-checked as its own module.
npx deno check --quiet --doc-only mod.ts hono.ts testing.ts drivers.ts src/*.ts src/hono/*.ts src/drivers/rest_proxy.ts src/drivers/confluent.ts src/drivers/ffi/driver.ts
# The README's TypeScript blocks, each type-checked as its own module.
npx deno check --quiet --doc-only README.md
# Clean: no error and no warning (an unanalyzable import, an excluded module, …).
if ! publish=$(npx deno publish --dry-run --allow-dirty 2>&1) || grep -q "^warning" <<<"$publish"; then
  echo "$publish" >&2
  exit 1
fi
echo "check: ok"
