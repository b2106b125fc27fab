#!/usr/bin/env bash
# The README's install recipes, run as a new user runs them: each in an empty
# scratch project outside this checkout, installing kshare from a packed copy
# of it (tests/install/pack.ts) served by a local stand-in for jsr.io and
# npm.jsr.io (tests/install/registry.ts); every other package comes from the
# npm registry. Each recipe ends with tests/install/app.mjs: a publish to the
# embedded broker, read back by kcat.
#
#   tests/install/run.sh [deno] [bun] [node]     (default: all three)
#
# Needs what scripts/setup.sh installs: kcat, librdkafka's build dependencies,
# and this checkout's node_modules for the deno and bun binaries and tsx.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
recipes=("$@")
[ ${#recipes[@]} -gt 0 ] || recipes=(deno bun node)

work=$(mktemp -d)
registry_pid=""
cleanup() {
  [ -z "$registry_pid" ] || kill "$registry_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# The runtimes only (not this checkout's packages): deno, bun and bunx on PATH.
mkdir -p "$work/bin"
for tool in deno bun bunx; do ln -s "$root/node_modules/.bin/$tool" "$work/bin/$tool"; done
export PATH="$work/bin:$PATH" NO_COLOR=1
# Fresh caches, so nothing installed earlier (an older packed kshare) is reused.
export DENO_DIR="$work/cache/deno" BUN_INSTALL_CACHE_DIR="$work/cache/bun" npm_config_cache="$work/cache/npm"
export npm_config_audit=false npm_config_fund=false npm_config_update_notifier=false npm_config_yes=true

node --import tsx "$here/pack.ts" "$work/packed"
mkfifo "$work/port"
node --import tsx "$here/registry.ts" "$work/packed" "$work/port" &
registry_pid=$!
read -r port < "$work/port"
registry="http://127.0.0.1:$port"
echo "install: the stand-in JSR is at $registry"

# Where the README says `npx jsr add` / `bunx jsr add` write
# `@jsr:registry=https://npm.jsr.io` to .npmrc, the stand-in takes its place
# (jsr add keeps an existing @jsr line).
stand_in_npmrc() { echo "@jsr:registry=$registry/" > .npmrc; }

# app.mjs's output must show kshare's publish and kcat reading the record back.
check() { # runtime, driver, output file
  grep -q "^kshare: published to orders \[0\] at offset 0 ($2)$" "$3" \
    && grep -qx 'kcat: o-1 {"id":"o-1","total":42}' "$3" \
    || { echo "install: $1: the output above lacks the publish or kcat's read" >&2; return 1; }
}

# Each recipe's commands are the README's, verbatim and in order
# (tests/readme_install.test.ts holds the two to each other); the lines
# between them set up what the README says in prose or what only this
# machine needs.

recipe_deno() {
  mkdir "$work/deno" && cd "$work/deno"
  echo '{}' > deno.json
  export JSR_URL=$registry
  deno add jsr:@kshare/kshare npm:valibot
  CKJS_LINKING=dynamic npm_config_build_from_source=@confluentinc/kafka-javascript npm install --prefix librdkafka @confluentinc/kafka-javascript@^1.10
  export KSHARE_LIBRDKAFKA=$PWD/librdkafka/node_modules/@confluentinc/kafka-javascript/build/deps/librdkafka.so.1
  cp "$here/app.mjs" .
  deno run --allow-ffi --allow-env --allow-read --allow-net --allow-run=kcat app.mjs | tee out
  check deno ffi-deno out
  # What Deno itself fetched for kshare: no Node addon, no koffi.
  if ls "$DENO_DIR"/npm/*/@confluentinc "$DENO_DIR"/npm/*/koffi >/dev/null 2>&1; then
    echo "install: deno: Deno fetched a Node-only package for kshare" >&2
    return 1
  fi
}

recipe_bun() {
  mkdir "$work/bun" && cd "$work/bun"
  echo '{ "name": "app", "type": "module", "trustedDependencies": ["@confluentinc/kafka-javascript"] }' > package.json
  stand_in_npmrc
  # node-gyp downloads Node's headers unless told where they are: npm passes its
  # nodedir setting (set on machines without internet), Bun does not.
  local nodedir
  nodedir=$(npm config get nodedir)
  [ "$nodedir" = undefined ] || [ "$nodedir" = null ] || export npm_config_nodedir="$nodedir"
  bunx jsr add @kshare/kshare
  CKJS_LINKING=dynamic npm_config_build_from_source=@confluentinc/kafka-javascript bun add @confluentinc/kafka-javascript@^1.10 valibot
  cp "$here/app.mjs" .
  bun app.mjs | tee out
  check bun ffi-bun out
}

recipe_node() {
  mkdir "$work/node" && cd "$work/node"
  echo '{ "name": "app", "type": "module" }' > package.json
  stand_in_npmrc
  npx jsr add @kshare/kshare
  CKJS_LINKING=dynamic npm_config_build_from_source=@confluentinc/kafka-javascript npm install @confluentinc/kafka-javascript@^1.10 koffi@^3 valibot
  cp "$here/app.mjs" .
  node app.mjs | tee out
  check node ffi-node out
}

# Each recipe in a subshell of its own that stops at its first failing command
# (errexit is off in a command whose status `||` or `if` tests, so none does).
status=0 summary=""
for recipe in "${recipes[@]}"; do
  echo "== install: $recipe"
  set +e
  ( set -e; "recipe_$recipe" )
  rc=$?
  set -e
  [ $rc = 0 ] || status=1
  summary+="install: $recipe: $([ $rc = 0 ] && echo ok || echo "FAILED (exit $rc)")"$'\n'
done
echo
printf '%s' "$summary"
exit $status
