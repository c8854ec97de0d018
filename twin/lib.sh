# Shared by the twin's scripts: where the cache is, which versions are pinned, logging.
# shellcheck shell=bash

TWIN_CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/spark-streams-twin"
PYSPARK_VERSION=4.0.1

# What each build script (build.sh, build-data.sh) starts with: the uv the Makefile passes, at
# most two compile jobs (the two cores are shared with other work on the machine), the cache.
build_setup() {
	UV=${UV:-uv}
	export GOFLAGS="-p=2 -buildvcs=false -mod=readonly"
	mkdir -p "$TWIN_CACHE"
}

log() { printf '[twin %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# The version of the upstream module that twin/go/COMPONENT/go.mod pins.
component_version() {
	local module
	case $1 in
	etcd) module=go.etcd.io/etcd/server/v3 ;;
	kubernetes) module=k8s.io/kubernetes ;;
	kwok) module=sigs.k8s.io/kwok ;;
	spark-operator) module=github.com/kubeflow/spark-operator/v2 ;;
	minio) module=github.com/minio/minio ;;
	pulumi) module=github.com/pulumi/pulumi/pkg/v3 ;;
	# The provider module is served only as a pseudo-version: it names the cache directory, so
	# a new pin builds beside the old; release_version is the release that commit is.
	pulumi-kubernetes) module=github.com/pulumi/pulumi-kubernetes/provider/v4 ;;
	*) die "unknown component $1" ;;
	esac
	awk -v m="$module" '{ for (i = 1; i < NF; i++) if ($i == m && $(i + 1) ~ /^v/) { print $(i + 1); exit } }' \
		"$TWIN_DIR/go/$1/go.mod"
}

# The release a component's pin is, as its binary reports it: the Kubernetes provider's is that
# of the published sdk that twin/go/pulumi-kubernetes/go.mod requires in place of upstream's
# ../sdk (the same release's commit); for the others, their pinned version.
release_version() {
	if [[ $1 == pulumi-kubernetes ]]; then
		awk '$1 == "github.com/pulumi/pulumi-kubernetes/sdk/v4" { print $2; exit }' \
			"$TWIN_DIR/go/$1/go.mod"
	else
		component_version "$1"
	fi
}

component_dir() {
	if [[ $1 == pyspark ]]; then
		echo "$TWIN_CACHE/pyspark-$PYSPARK_VERSION"
	else
		echo "$TWIN_CACHE/$1-$(component_version "$1")"
	fi
}

# Cold build times measured on the 2-core machine, quiet to loaded, shown before a long step.
cold_minutes() {
	case $1 in
	kubernetes) echo 5-20 ;;
	pulumi) echo 3-10 ;;
	pulumi-kubernetes) echo 7-45 ;;
	*) echo 1-3 ;;
	esac
}

# --- the running twin ----------------------------------------------------------------------
REPO_DIR="$(cd "$TWIN_DIR/.." && pwd)"
# TWIN_STATE moves it: make e2e gives each stack it runs side by side a state of its own.
STATE="${TWIN_STATE:-$REPO_DIR/.twin}"
KUBECONFIG_ADMIN="$STATE/kubeconfig"
# Fixed ports on 127.0.0.1, away from the usual defaults so a twin can run beside a real
# cluster's tools; TWIN_PORT_BASE moves them all.
base=${TWIN_PORT_BASE:-16400}
PORT_ETCD=$((base + 1))
PORT_ETCD_PEER=$((base + 2))
PORT_APISERVER=$((base + 3))
PORT_CONTROLLER_MANAGER=$((base + 4))
PORT_SCHEDULER=$((base + 5))
PORT_KWOK=$((base + 6))
PORT_WEBHOOK=$((base + 7))
PORT_WEBHOOK_METRICS=$((base + 8))
PORT_WEBHOOK_HEALTH=$((base + 9))
PORT_CONTROLLER_METRICS=$((base + 10))
PORT_CONTROLLER_HEALTH=$((base + 11))
PORT_MOTO=$((base + 12))
unset base
# The API server's egress for cluster traffic (Services): twin/hostpods.py's proxy.
EGRESS_SOCKET="$STATE/egress.sock"
# The engine's environment (twin/engine/setup.sh) and the API server's service-account issuer
# (what the EKS lookup answers as the cluster's OIDC issuer).
ENGINE_DIR="$STATE/pulumi"
SERVICE_ACCOUNT_ISSUER=https://kubernetes.default.svc.cluster.local

# The version of a Python package the project's environment holds (uv.lock pins them).
sdk_version() { "$REPO_DIR/.venv/bin/python" -c 'import sys; from importlib.metadata import version; print(version(sys.argv[1]))' "$1"; }
moto_version() { sdk_version moto; }

# start NAME COMMAND...: runs COMMAND in a session of its own (so twin/down.sh can end it with
# every child it spawned, e.g. spark-submit's JVMs), logging to .twin/logs/NAME.log.
start() {
	local name=$1
	shift
	setsid "$@" >"$STATE/logs/$name.log" 2>&1 </dev/null &
	echo $! >"$STATE/pids/$name"
	echo "$name" >>"$STATE/pids/order"
}

all_alive() {
	local name
	[[ -f $STATE/pids/order ]] || return 1
	while read -r name; do
		kill -0 "$(cat "$STATE/pids/$name")" 2>/dev/null || return 1
	done <"$STATE/pids/order"
}

api_ready_with() {
	"$(component_dir kubernetes)/bin/kubectl" --kubeconfig "$1" get --raw /readyz >/dev/null 2>&1
}
api_ready() { api_ready_with "$KUBECONFIG_ADMIN"; }

# wait_for WHAT SECONDS COMMAND...: polls COMMAND every half second; fails with the logs' tails.
wait_for() {
	local what=$1 timeout=$2 deadline
	shift 2
	deadline=$((SECONDS + timeout))
	until "$@" >/dev/null 2>&1; do
		if ((SECONDS >= deadline)); then
			log "timed out after ${timeout}s waiting for $what; last log lines:"
			tail -n 5 "$STATE"/logs/*.log >&2 || true
			exit 1
		fi
		sleep 0.5
	done
}

ca_bundle_patched() {
	local kubectl kind name
	kubectl=("$(component_dir kubernetes)/bin/kubectl" --kubeconfig "$KUBECONFIG_ADMIN")
	for kind in mutatingwebhookconfiguration validatingwebhookconfiguration; do
		name=$(jq -r '.webhook.configuration' "$STATE/operator.json")
		[[ -n $("${kubectl[@]}" get "$kind" "$name" -o jsonpath='{.webhooks[0].clientConfig.caBundle}') ]] ||
			return 1
	done
}
