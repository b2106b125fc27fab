#!/usr/bin/env bash
# The README's other command, `npm start`, as a new user runs it: the gateway
# comes up on the embedded broker, takes the README's produce request, kcat
# reads the record back, and SIGTERM to its process group (as a terminal's
# Ctrl-C or a service manager sends it) stops it cleanly.
#
#   tests/install/start.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
work=$(mktemp -d)
gateway=""
cleanup() {
  [ -z "$gateway" ] || kill -KILL -- "-$gateway" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

export PORT=0 NO_COLOR=1 # any free port: the gateway prints the one it got
mkfifo "$work/log"
setsid npm start > "$work/log" 2>&1 & # a process group of its own, signalled as one below
gateway=$!
exec 3< "$work/log"
url="" bootstrap=""
while IFS= read -r line <&3; do
  echo "$line"
  case $line in
    "kshare-gateway: listening on "*) url=${line#kshare-gateway: listening on } url=${url%% *} ;;
    "kshare-gateway: Kafka: embedded broker at "*) bootstrap=${line#kshare-gateway: Kafka: embedded broker at } bootstrap=${bootstrap%% *} ;;
    "kshare-gateway: produce: "*) break ;;
  esac
done
[ -n "$url" ] && [ -n "$bootstrap" ] || { echo "start: the gateway did not come up" >&2; exit 1; }
# Keep draining its output, so it never blocks on a full pipe.
cat <&3 > "$work/rest" &

response=$(curl -sS -u dev:dev-secret -X POST -H "Content-Type: application/json" \
  -d '{"key":{"type":"STRING","data":"o-1"},"value":{"type":"JSON","data":{"id":"o-1","customer":"c-7","total":42.5}}}' \
  "$url/v3/clusters/kshare/topics/orders/records")
echo "POST: $response"
grep -q '"error_code":200' <<<"$response" || { echo "start: the produce request failed" >&2; exit 1; }

read_back=$(kcat -b "$bootstrap" -C -t orders -o beginning -e -q -f '%k %s\n')
echo "kcat: $read_back"
[ "$read_back" = 'o-1 {"id":"o-1","customer":"c-7","total":42.5}' ] || { echo "start: kcat did not read the record back" >&2; exit 1; }

# npm itself exits 143 on SIGTERM (it does not wait for its script); the
# gateway's own end is what counts: its last line, and the log's end of file
# once every process of the group has exited.
kill -TERM -- "-$gateway"
wait "$gateway" || true
wait # the cat above: returns when no process of the group holds the log open
gateway=""
cat "$work/rest"
tail -n 1 "$work/rest" | grep -qx "kshare-gateway: stopped" || { echo "start: the gateway did not stop cleanly after SIGTERM" >&2; exit 1; }
echo "start: ok"
