#!/usr/bin/env bash
# Redis memory after a 10 s `yes` flood in one session (docs/benchmarks.md,
# "Bounded output streams"). Private redis-server, tmux socket and HOME;
# everything started here is stopped on exit.
# Usage: scripts/flood-redis.sh [seconds]   (env TELEMUX_OUTPUT__MAX_BYTES etc. pass through)
set -euo pipefail
secs=${1:-10}
bin=${TELEMUX_BIN:-$(dirname "$0")/../target/debug/telemux}
tmp=$(mktemp -d)
port=$((20000 + RANDOM % 20000))
sock="flood-$$"
cleanup() {
  [[ -n ${node:-} ]] && kill "$node" 2>/dev/null && wait "$node" 2>/dev/null || true
  tmux -L "$sock" kill-server 2>/dev/null || true
  redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT
redis-server --port "$port" --save '' --appendonly no --daemonize yes --dir "$tmp" >/dev/null
for _ in $(seq 50); do redis-cli -p "$port" ping 2>/dev/null | grep -q PONG && break; sleep 0.1; done
export HOME="$tmp" TELEMUX_REDIS__URL="redis://127.0.0.1:$port" TELEMUX_COMPUTER=flood \
  TELEMUX_TMUX__SOCKET="$sock" SHELL=/bin/bash
"$bin" node >"$tmp/node.log" 2>&1 &
node=$!
for _ in $(seq 50); do "$bin" computers 2>/dev/null | grep -qi flood && break; sleep 0.2; done
mem() { redis-cli -p "$port" info memory | sed -n 's/^used_memory:\([0-9]*\).*/\1/p'; }
before=$(mem)
"$bin" new flood/f >/dev/null
"$bin" send flood/f "timeout $secs yes; echo flood-done" >/dev/null
key=telemux:out:flood:f
# Wait for the command-finished record (its exit record reaches the stream last).
for _ in $(seq 600); do
  tmux -L "$sock" capture-pane -p -t f 2>/dev/null | grep -q '^flood-done' && break; sleep 0.5
done
sleep 3
echo "used_memory before: $before"
echo "used_memory after:  $(mem)"
echo "stream $key: XLEN $(redis-cli -p "$port" xlen $key), MEMORY USAGE (SAMPLES 0) $(redis-cli -p "$port" memory usage $key samples 0)"
