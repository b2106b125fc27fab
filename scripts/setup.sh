#!/usr/bin/env bash
# Set up a fresh Debian/Ubuntu machine with Node 20 for kshare, or say quickly
# that it is set up: the build dependencies of librdkafka, kcat (the
# independent client the tests read and write with), stunnel and openssl (the
# TLS terminator in front of the embedded brokers and the certificates the TLS
# tests make) from apt, then the npm packages. `npm start` and `npm test` run this first.
#
# The Confluent package's install (`node-pre-gyp install --fallback-to-build`)
# downloads a prebuilt, statically linked addon wherever GitHub is reachable;
# that has no librdkafka.so.1, which the Deno and Bun (FFI) driver and the
# embedded broker load. So the source build is forced, for that package only
# (node-pre-gyp builds the package whose name npm_config_build_from_source
# names), and CKJS_LINKING=dynamic makes it build librdkafka.so.1 too.
set -euo pipefail
cd "$(dirname "$0")/.."

LIBRARY=node_modules/@confluentinc/kafka-javascript/build/deps/librdkafka.so.1
packages=(libssl-dev libsasl2-dev zlib1g-dev libzstd-dev libcurl4-openssl-dev liblz4-dev kcat curl wrk stunnel4 openssl)

# Set up already: every apt package, the dynamic librdkafka, the runtimes, and
# an install at least as new as package-lock.json.
ready() {
  [ -f "$LIBRARY" ] && [ -x node_modules/.bin/deno ] && [ -x node_modules/.bin/bun ] && [ -x node_modules/.bin/tsx ] \
    && [ node_modules/.package-lock.json -nt package-lock.json ] || return 1
  local installed
  installed=$(dpkg-query -W -f='${Status}\n' "${packages[@]}" 2>/dev/null | grep -c '^install ok installed$' || true)
  [ "$installed" -eq "${#packages[@]}" ]
}
if ready; then
  echo "setup: ready"
  exit 0
fi

installed=$(dpkg-query -W -f='${Status}\n' "${packages[@]}" 2>/dev/null | grep -c '^install ok installed$' || true)
if [ "$installed" -eq "${#packages[@]}" ]; then
  echo "setup: Debian packages already installed"
else
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${packages[@]}"
fi

echo "setup: npm ci, building @confluentinc/kafka-javascript and librdkafka.so.1 from source (about two minutes)"
CKJS_LINKING=dynamic npm_config_build_from_source=@confluentinc/kafka-javascript npm ci --no-audit --no-fund
test -f "$LIBRARY" \
  || { echo "setup: $LIBRARY was not built (the Confluent package's install did not build from source with CKJS_LINKING=dynamic)" >&2; exit 1; }
touch node_modules/.package-lock.json
echo "setup: done"
