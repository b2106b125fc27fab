#!/usr/bin/env bash
# `npm test`: after the set-up it needs (scripts/setup.sh, quick when done),
# run the test suite on Node (twice: its default, the FFI driver over koffi, and
# the Confluent driver), Deno and Bun (FFI driver), each to the end, then print
# one summary line per run and a total. Exits
# non-zero if the set-up failed, or if any runtime failed or ran no test.
set -uo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh || exit 1
export NO_COLOR=1
log=$(mktemp -d)
trap 'rm -rf "$log"' EXIT

run() { # name, command...
  local name=$1; shift
  echo "== $name: $*"
  "$@" 2>&1 | tee "$log/$name"
  echo "${PIPESTATUS[0]}" > "$log/$name.rc"
}

run node node --import tsx --test tests/*.test.ts
run node-confluent env KSHARE_DRIVER=confluent node --import tsx --test tests/*.test.ts
run deno npx deno test -A tests/
# Bun gives a test 5 s unless the test names its own timeout (Node and Deno
# give none): 120 s, so that a slow machine fails no test Node and Deno pass.
run bun npx bun test --timeout 120000 tests/

total_pass=0 total_fail=0 status=0
summary=""
for name in node node-confluent deno bun; do
  out="$log/$name"
  case $name in
    node*) pass=$(sed -n 's/^# pass \([0-9]*\)$/\1/p' "$out" | tail -1); fail=$(sed -n 's/^# fail \([0-9]*\)$/\1/p' "$out" | tail -1) ;;
    deno) pass=$(sed -n 's/.*| \([0-9]*\) passed | .*/\1/p' "$out" | tail -1); fail=$(sed -n 's/.*| \([0-9]*\) failed.*/\1/p' "$out" | tail -1) ;;
    bun) pass=$(sed -n 's/^ *\([0-9]*\) pass$/\1/p' "$out" | tail -1); fail=$(sed -n 's/^ *\([0-9]*\) fail$/\1/p' "$out" | tail -1) ;;
  esac
  pass=${pass:-0} fail=${fail:-0}
  rc=$(cat "$log/$name.rc")
  if [ "$rc" != 0 ] || [ "$pass" = 0 ]; then status=1; [ "$fail" = 0 ] && fail=1; fi
  summary+="$name: $pass passed, $fail failed (exit $rc)"$'\n'
  total_pass=$((total_pass + pass)) total_fail=$((total_fail + fail))
done
echo
printf '%s' "$summary"
echo "tests: $total_pass passed, $total_fail failed"
exit $status
