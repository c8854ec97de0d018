#!/usr/bin/env bash
# The Pulumi engine's environment for a stack on the twin, all inside .twin/pulumi/: a Pulumi
# home of its own (nothing from the user's ~/.pulumi), a file backend, the passphrase secrets
# provider, the two resource plugins installed from files (no download), the stack initialised,
# and the twin's copy of the stack's config file (twin/engine/stackcopy.py). Also what the
# cluster's owner would have set up: the IAM OIDC provider of the cluster's issuer and the
# identity deploys run as (a service account bound to cluster-admin, whose token the twin's
# `aws eks get-token` prints). Run by twin/up.sh once the cluster and moto are up.
#
# usage: twin/engine/setup.sh STACK
set -euo pipefail

TWIN_DIR="$(cd "$(dirname "$0")/.." && pwd)"
# shellcheck source=twin/lib.sh
source "$TWIN_DIR/lib.sh"
STACK=${1:?usage: setup.sh STACK}
UV=${UV:?UV must be the project\'s uv (set by twin.mk)}
PYTHON="$REPO_DIR/.venv/bin/python"
KUBECTL=("$(component_dir kubernetes)/bin/kubectl" --kubeconfig "$KUBECONFIG_ADMIN")

rm -rf "$ENGINE_DIR"
mkdir -p "$ENGINE_DIR"/{cli,home,backend,helm/cache,helm/config,helm/data,plugins,project}

# The CLI as an installation lays it out: the Python language host is one of the plugins
# bundled next to the `pulumi` binary (the CLI refuses to install it into a Pulumi home), so the
# stand-in goes there, beside a hard link of the binary built into the cache.
ln -f "$(component_dir pulumi)/bin/pulumi" "$ENGINE_DIR/cli/pulumi" 2>/dev/null ||
	cp "$(component_dir pulumi)/bin/pulumi" "$ENGINE_DIR/cli/pulumi"
ln -s "$TWIN_DIR/engine/pulumi-language-python" "$ENGINE_DIR/cli/pulumi-language-python"
# ... and so is the plugin that serves the program's Python dynamic resources (the stream waits).
ln -s "$TWIN_DIR/engine/pulumi-resource-pulumi-python" \
	"$ENGINE_DIR/cli/pulumi-resource-pulumi-python"

# The environment every engine command of the twin runs in (twin/pulumi sources it). The CLI
# (with the stand-in language host beside it) and the twin's `aws` come first on PATH; uv is
# the project's (the language host syncs a policy pack's virtualenv with it, as the real one
# does). KUBECONFIG and helm's
# homes point away from the user's: only the program's own providers reach the twin.
uv_dir=$(cd "$(dirname "$(command -v "$UV")")" && pwd)
cat >"$ENGINE_DIR/env.sh" <<EOF
# Written by twin/engine/setup.sh for stack $STACK.
export PULUMI_HOME="$ENGINE_DIR/home"
export PULUMI_BACKEND_URL="file://$ENGINE_DIR/backend"
export PULUMI_CONFIG_PASSPHRASE=twin
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
export PULUMI_SKIP_UPDATE_CHECK=true
export KUBECONFIG=/dev/null
export HELM_CACHE_HOME="$ENGINE_DIR/helm/cache"
export HELM_CONFIG_HOME="$ENGINE_DIR/helm/config"
export HELM_DATA_HOME="$ENGINE_DIR/helm/data"
export PATH="$ENGINE_DIR/cli:$TWIN_DIR/engine/bin:$uv_dir:\$PATH"
# Which twin: the engine/bin tools find theirs by it (make e2e runs one per stack).
export TWIN_STATE="$STATE"
EOF
# shellcheck source=/dev/null
source "$ENGINE_DIR/env.sh"

log "pulumi $(pulumi version): plugins kubernetes $(release_version pulumi-kubernetes) (as $(sdk_version pulumi-kubernetes)) and the aws stand-in (as $(sdk_version pulumi-aws))"
# Installed under the versions the SDKs ask for (uv.lock), as a download would be.
pulumi plugin install resource kubernetes "$(sdk_version pulumi-kubernetes)" \
	--file "$(component_dir pulumi-kubernetes)/bin/pulumi-resource-kubernetes" >/dev/null
# The aws stand-in's launcher: the plugin is copied into the Pulumi home, so paths are absolute;
# its AWS is the twin's moto, with fake credentials, never the user's ~/.aws.
launcher=$ENGINE_DIR/plugins/pulumi-resource-aws
cat >"$launcher" <<EOF
#!/bin/sh
# The twin's aws stand-in (twin/engine/aws_provider.py) against the twin's moto server.
cd "$REPO_DIR" || exit 1
unset AWS_PROFILE AWS_DEFAULT_PROFILE AWS_SESSION_TOKEN
export AWS_ENDPOINT_URL=http://127.0.0.1:$PORT_MOTO AWS_ACCESS_KEY_ID=twin AWS_SECRET_ACCESS_KEY=twin
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
export TWIN_CLUSTER="$ENGINE_DIR/cluster.json" TWIN_AWS_LOG="$STATE/logs/aws-provider.log"
exec "$PYTHON" -m twin.engine.aws_provider "\$@"
EOF
chmod +x "$launcher"
pulumi plugin install resource aws "$(sdk_version pulumi-aws)" --file "$launcher" >/dev/null

# --- what the cluster's owner set up -------------------------------------------------------
AWS_ENDPOINT_URL=http://127.0.0.1:$PORT_MOTO AWS_ACCESS_KEY_ID=twin AWS_SECRET_ACCESS_KEY=twin \
	AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null \
	"$PYTHON" -m twin.engine.cluster_owner "$STACK" "https://127.0.0.1:$PORT_APISERVER" \
	"$STATE/pki/ca.crt" "$SERVICE_ACCOUNT_ISSUER" "$(component_version kubernetes | cut -d. -f1-2 | tr -d v)" \
	"$ENGINE_DIR/cluster.json"
# The identity CI's deploy role maps to on EKS (an access entry with cluster admin).
"${KUBECTL[@]}" -n kube-system create serviceaccount pulumi-deployer >/dev/null
"${KUBECTL[@]}" create clusterrolebinding pulumi-deployer --clusterrole cluster-admin \
	--serviceaccount kube-system:pulumi-deployer >/dev/null
"${KUBECTL[@]}" -n kube-system create token pulumi-deployer --duration 24h >"$ENGINE_DIR/deployer.token"
chmod 600 "$ENGINE_DIR/deployer.token"

# --- the stack -----------------------------------------------------------------------------
# Initialised in a scratch copy of the project, so that what `stack init` and `config set`
# write (the salt, the ciphertexts) never lands in the committed stack file; twin/pulumi then
# runs in the project itself with --config-file pointing at the twin's copy.
scratch=$ENGINE_DIR/project
cp "$REPO_DIR/Pulumi.yaml" "$scratch/"
(cd "$REPO_DIR" && "$PYTHON" -m twin.engine.stackcopy base "$STACK") >"$scratch/Pulumi.$STACK.yaml"
pulumi -C "$scratch" stack init "$STACK" --secrets-provider passphrase >/dev/null
while read -r key; do
	[[ -n $key ]] || continue
	pulumi -C "$scratch" config set --stack "$STACK" --secret --path "secrets.$key" "twin-$key"
done < <(cd "$REPO_DIR" && "$PYTHON" -m twin.engine.stackcopy secrets "$STACK")
(cd "$REPO_DIR" && "$PYTHON" -m twin.engine.stackcopy overrides "$scratch/Pulumi.$STACK.yaml" \
	"$(component_dir spark-operator)/chart") >"$ENGINE_DIR/overrides.yaml"
log "stack $STACK initialised in the file backend $ENGINE_DIR/backend"
