#!/usr/bin/env bash
# Stops every process twin/up.sh started (each with its whole session: spark-submit's JVMs
# included), newest first, and checks that none is left. The state in .twin/ is kept for a
# look at the logs; twin/up.sh starts from a clean one.
set -euo pipefail

TWIN_DIR="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=twin/lib.sh
source "$TWIN_DIR/lib.sh"
quiet=${1:-}

[[ -f $STATE/pids/order ]] || exit 0
mapfile -t names < <(tac "$STATE/pids/order")
session_alive() { pgrep -s "$1" >/dev/null 2>&1; }
for name in "${names[@]}"; do
	# A name without a pid file: up.sh was interrupted before starting it.
	[[ -f $STATE/pids/$name ]] || continue
	pid=$(cat "$STATE/pids/$name")
	# The process is its session's leader: its id is the session and process group id.
	kill -TERM -- "-$pid" 2>/dev/null || true
	for _ in $(seq 1 40); do
		session_alive "$pid" || break
		sleep 0.25
	done
	if session_alive "$pid"; then
		log "$name did not stop on SIGTERM within 10 s: killing it"
		kill -KILL -- "-$pid" 2>/dev/null || true
	fi
done
left=""
for name in "${names[@]}"; do
	[[ -f $STATE/pids/$name ]] || continue
	pid=$(cat "$STATE/pids/$name")
	if session_alive "$pid"; then left+=" $name($pid)"; fi
done
rm -rf "$STATE/pids" "$STATE/up"
[[ -z $left ]] || die "processes left behind:$left"
[[ -n $quiet ]] || log "twin down: no process of it is left"
