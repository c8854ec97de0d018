#!/usr/bin/env bash
# Builds every binary the twin runs, once per version, into a cache outside the repository:
#   ${XDG_CACHE_HOME:-$HOME/.cache}/spark-streams-twin/<component>-<version>/
# Versions are the ones pinned in twin/go/*/go.mod (and PYSPARK_VERSION in lib.sh), so bumping a
# go.mod is all it takes to build a new version beside the old one. Each component is built in a
# temporary directory and renamed into place only when complete, so an interrupted build never
# leaves a half cache behind.
set -euo pipefail

TWIN_DIR="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=twin/lib.sh
source "$TWIN_DIR/lib.sh"

build_setup
# One build at a time; what an interrupted one left in its temporary directories goes.
exec 9>"$TWIN_CACHE/.lock"
flock 9
rm -rf "$TWIN_CACHE"/.tmp-*

# build_go COMPONENT LDFLAGS PACKAGE... : go build each package of twin/go/COMPONENT into bin/.
build_go() {
	local component=$1 ldflags=$2
	shift 2
	local module_dir="$TWIN_DIR/go/$component" version dest tmp pkg
	version=$(component_version "$component")
	dest=$(component_dir "$component")
	[[ -f $dest/.complete ]] && return 0
	log "building $component $version (cold cache, ~$(cold_minutes "$component") min)"
	tmp=$(mktemp -d "$TWIN_CACHE/.tmp-$component-XXXXXX")
	trap 'rm -rf "$tmp"' RETURN
	mkdir -p "$tmp/bin"
	local build_dir=$module_dir
	if [[ $component == pulumi-kubernetes ]]; then
		build_dir=$tmp/src
		stage_kubernetes_provider "$module_dir" "$build_dir"
	fi
	for pkg in "$@"; do
		(cd "$build_dir" && go build -trimpath -ldflags="-s -w $ldflags" -o "$tmp/bin/" "$pkg")
	done
	rm -rf "$tmp/src"
	# Binaries are named after their package; give the two generic ones their usual names.
	[[ -f $tmp/bin/server ]] && mv "$tmp/bin/server" "$tmp/bin/etcd"
	[[ -f $tmp/bin/operator ]] && mv "$tmp/bin/operator" "$tmp/bin/spark-operator"
	if [[ $component == spark-operator ]]; then
		# The chart and its CRDs come from the same module source as the binary.
		local src
		src=$(cd "$module_dir" && go list -m -f '{{.Dir}}' github.com/kubeflow/spark-operator/v2)
		cp -r "$src/charts/spark-operator-chart" "$tmp/chart"
		chmod -R u+w "$tmp/chart"
	fi
	touch "$tmp/.complete"
	rm -rf "$dest"
	mv -T "$tmp" "$dest"
}

# stage_kubernetes_provider MODULE_DIR SRC: the provider's main package embeds files that
# upstream's `go generate` writes beside it (the schema, stamped with the release's version),
# which the read-only module cache cannot take, and `-overlay` may not replace files there. So
# the package (upstream's files, unchanged) is copied into a module of its own under SRC, with
# twin/go/pulumi-kubernetes's go.mod and go.sum, and generated there as upstream's Makefile does.
stage_kubernetes_provider() {
	local module_dir=$1 src=$2 upstream module=github.com/pulumi/pulumi-kubernetes/provider/v4
	# The module's directory: `go list` of the package itself fails on its missing embeds, and
	# `go list -m` names no directory for a module not yet downloaded (a cold module cache).
	upstream=$(cd "$module_dir" && go mod download "$module" && go list -m -f '{{.Dir}}' "$module")
	[[ -n $upstream ]] || die "go list -m found no directory for $module"
	upstream=$upstream/cmd/pulumi-resource-kubernetes
	mkdir -p "$src/cmd"
	cp "$module_dir/go.mod" "$module_dir/go.sum" "$src/"
	cp -r "$upstream" "$src/cmd/pulumi-resource-kubernetes"
	chmod -R u+w "$src"
	log "generating the provider's embedded schema (about 2 min of the build)"
	(cd "$src/cmd/pulumi-resource-kubernetes" &&
		VERSION=$(release_version pulumi-kubernetes | sed 's/^v//') go run generate.go)
}

build_pyspark() {
	local dest="$TWIN_CACHE/pyspark-$PYSPARK_VERSION" tmp
	[[ -f $dest/.complete ]] && return 0
	log "installing pyspark $PYSPARK_VERSION for spark-submit (cold cache, ~2 min)"
	tmp=$(mktemp -d "$TWIN_CACHE/.tmp-pyspark-XXXXXX")
	trap 'rm -rf "$tmp"' RETURN
	# A plain target directory rather than a venv: it stays valid after the rename, and only
	# the package's bin/ and jars/ are used (as SPARK_HOME), never its Python code.
	"$UV" pip install --quiet --python python3.11 --target "$tmp/site" "pyspark==$PYSPARK_VERSION"
	touch "$tmp/.complete"
	rm -rf "$dest"
	mv -T "$tmp" "$dest"
}

k8s_version=$(component_version kubernetes)
k8s_minor=${k8s_version#v1.}
k8s_minor=${k8s_minor%%.*}
# What `kubectl version` and the API server's /version report; upstream's build sets the same.
k8s_ldflags="-X k8s.io/component-base/version.gitVersion=$k8s_version
 -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$k8s_minor
 -X k8s.io/component-base/version.gitTreeState=clean
 -X k8s.io/client-go/pkg/version.gitVersion=$k8s_version
 -X k8s.io/client-go/pkg/version.gitMajor=1 -X k8s.io/client-go/pkg/version.gitMinor=$k8s_minor"
k8s_ldflags=${k8s_ldflags//$'\n'/}

build_go etcd "" go.etcd.io/etcd/server/v3
build_go kubernetes "$k8s_ldflags" \
	k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
	k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl
build_go kwok "-X sigs.k8s.io/kwok/pkg/consts.Version=$(component_version kwok)" \
	sigs.k8s.io/kwok/cmd/kwok
build_go spark-operator "" github.com/kubeflow/spark-operator/v2/cmd/operator
# The engine: the CLI, and the Kubernetes provider at the release its pin is (what the engine
# reads from the plugin; it is installed under the SDK's version, see twin/engine/).
build_go pulumi "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$(component_version pulumi)" \
	github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
build_go pulumi-kubernetes \
	"-X github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version=$(release_version pulumi-kubernetes | sed 's/^v//')" \
	./cmd/pulumi-resource-kubernetes
build_pyspark
log "twin components ready in $TWIN_CACHE"
