#!/usr/bin/env bash
# Set up a fresh Debian/Ubuntu machine with Node 20 for kshare: the build
# dependencies of librdkafka, kcat (the independent client the tests read and
# write with), then the npm packages. CKJS_LINKING=dynamic makes the Confluent
# package build librdkafka.so.1 too, which the Deno and Bun (FFI) driver and the
# embedded broker load.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(libssl-dev libsasl2-dev zlib1g-dev libzstd-dev libcurl4-openssl-dev liblz4-dev kcat curl wrk)
installed=$(dpkg-query -W -f='${Status}\n' "${packages[@]}" 2>/dev/null | grep -c '^install ok installed$' || true)
if [ "$installed" -eq "${#packages[@]}" ]; then
  echo "setup: Debian packages already installed"
else
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${packages[@]}"
fi

if [ -f node_modules/@confluentinc/kafka-javascript/build/deps/librdkafka.so.1 ] && [ -d node_modules/deno ]; then
  echo "setup: node_modules already built"
else
  CKJS_LINKING=dynamic npm ci --no-audit --no-fund
fi
test -f node_modules/@confluentinc/kafka-javascript/build/deps/librdkafka.so.1 \
  || { echo "setup: librdkafka.so.1 was not built (was CKJS_LINKING=dynamic lost?)" >&2; exit 1; }
echo "setup: done"
