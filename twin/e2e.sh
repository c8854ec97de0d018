#!/usr/bin/env bash
# make e2e: every stack on a fresh twin of its own (state in .twin-e2e/STACK/, ports from
# TWIN_PORT_BASE + 20 x its place), its scenarios, then that twin down, also when one fails. The
# stacks run side by side, one stack's waits beside the other's work (both cores stay busy:
# docs/twin.md has the figures). Each line of output is prefixed with its stack;
# .twin-report/STACK.log keeps it whole. Exits non-zero if any stack's twin or scenarios failed.
#
# usage: twin/e2e.sh STACK...
set -euo pipefail

TWIN_DIR="$(cd "$(dirname "$0")" && pwd)"
REPO_DIR="$(cd "$TWIN_DIR/.." && pwd)"
RUN=${RUN:?RUN must be the project\'s python runner (set by twin.mk)}
REPORT="$REPO_DIR/.twin-report"
base=${TWIN_PORT_BASE:-16400}
(($#)) || { echo "usage: twin/e2e.sh STACK..." >&2; exit 2; }

state_of() { echo "$REPO_DIR/.twin-e2e/$1"; }
down_all() {
	local stack
	for stack in "$@"; do TWIN_STATE=$(state_of "$stack") bash "$TWIN_DIR/down.sh" --quiet || true; done
}
cd "$REPO_DIR"
# A twin of `make twin-up` holds the first stack's ports: it is stopped, as make e2e always did.
bash "$TWIN_DIR/down.sh" --quiet
down_all "$@"
trap 'down_all "$@"' EXIT
trap 'kill $(jobs -p) 2>/dev/null; exit 1' INT TERM

run_stack() {
	local stack=$1 status=0
	export TWIN_STATE TWIN_PORT_BASE=$2
	TWIN_STATE=$(state_of "$stack")
	bash "$TWIN_DIR/up.sh" "$stack" && $RUN pytest -n0 -m e2e tests/e2e || status=$?
	bash "$TWIN_DIR/down.sh" || status=1
	return "$status"
}

mkdir -p "$REPORT"
stacks=("$@") pids=() index=0
for stack in "${stacks[@]}"; do
	run_stack "$stack" $((base + 20 * index)) 2>&1 | tee "$REPORT/$stack.log" |
		sed -u "s/^/[$stack] /" &
	pids+=("$!")
	index=$((index + 1))
done
failed=()
for i in "${!pids[@]}"; do
	wait "${pids[$i]}" || failed+=("${stacks[$i]}")
done
((${#failed[@]} == 0)) || { echo "make e2e: failed for ${failed[*]}: .twin-report/<stack>.log" >&2; exit 1; }
