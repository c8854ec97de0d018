#!/usr/bin/env bash
# Starts the twin: etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok on
# 127.0.0.1, then the spark-operator controller and webhook as host processes configured from
# the chart rendered with the stack's Helm release values. Idempotent: a twin that is up and
# healthy is left alone; anything half up is stopped and started again.
#
# usage: twin/up.sh STACK     (writes .twin/kubeconfig, an admin kubeconfig)
set -euo pipefail

TWIN_DIR="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=twin/lib.sh
source "$TWIN_DIR/lib.sh"
STACK=${1:?usage: up.sh STACK}
RUN=${RUN:?RUN must be the project\'s python runner (set by twin.mk)}

if [[ -f $STATE/up && -f $KUBECONFIG_ADMIN ]] && all_alive && api_ready; then
	log "twin already up (stack $(cat "$STATE/up")): $KUBECONFIG_ADMIN"
	exit 0
fi
"$TWIN_DIR/down.sh" --quiet

for c in etcd kubernetes kwok helm spark-operator pyspark; do
	[[ -f $(component_dir "$c")/.complete ]] || die "$c is not built: run make twin-build"
done
ETCD_BIN=$(component_dir etcd)/bin
K8S_BIN=$(component_dir kubernetes)/bin
KWOK_BIN=$(component_dir kwok)/bin
HELM_BIN=$(component_dir helm)/bin
OPERATOR=$(component_dir spark-operator)
SPARK_HOME=$(component_dir pyspark)/site/pyspark
KUBECTL=("$K8S_BIN/kubectl" --kubeconfig "$KUBECONFIG_ADMIN")

rm -rf "$STATE"
mkdir -p "$STATE"/{pki,logs,pids,etcd,webhook-certs}
SECONDS=0

# --- certificates ------------------------------------------------------------------------
pki=$STATE/pki
openssl_quiet() { openssl "$@" 2>/dev/null; }
openssl_quiet req -x509 -newkey rsa:2048 -nodes -days 7 -subj "/CN=twin-ca" \
	-keyout "$pki/ca.key" -out "$pki/ca.crt"
# sign NAME SUBJECT [SANS]: a key and a certificate signed by the twin's CA.
sign() {
	local name=$1 subject=$2 sans=${3:-}
	openssl_quiet req -newkey rsa:2048 -nodes -subj "$subject" \
		-keyout "$pki/$name.key" -out "$pki/$name.csr"
	local ext=$pki/$name.ext
	if [[ -n $sans ]]; then
		printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\n' "$sans" >"$ext"
	else
		printf 'extendedKeyUsage=clientAuth\n' >"$ext"
	fi
	openssl_quiet x509 -req -in "$pki/$name.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" \
		-CAcreateserial -days 7 -extfile "$ext" -out "$pki/$name.crt"
}
# 10.0.0.1 is the kubernetes Service's address in the service range below.
sign apiserver "/CN=kube-apiserver" \
	"IP:127.0.0.1,IP:10.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
sign admin "/O=system:masters/CN=twin-admin"
sign controller-manager "/CN=system:kube-controller-manager"
sign scheduler "/CN=system:kube-scheduler"
# kwok plays every kubelet: it writes node and pod status for all of them.
sign kwok "/O=system:masters/CN=twin-kwok"
openssl_quiet genrsa -out "$pki/sa.key" 2048
openssl_quiet rsa -in "$pki/sa.key" -pubout -out "$pki/sa.pub"

# kubeconfig FILE USER-CERT | kubeconfig FILE --token TOKEN
kubeconfig() {
	local file=$1 user
	if [[ $2 == --token ]]; then
		user="    token: $3"
	else
		user="    client-certificate: $pki/$2.crt
    client-key: $pki/$2.key"
	fi
	cat >"$file" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: twin
  cluster:
    server: https://127.0.0.1:$PORT_APISERVER
    certificate-authority: $pki/ca.crt
users:
- name: twin
  user:
$user
contexts:
- name: twin
  context: {cluster: twin, user: twin}
current-context: twin
EOF
	chmod 600 "$file"
}
kubeconfig "$KUBECONFIG_ADMIN.tmp" admin
kubeconfig "$STATE/controller-manager.kubeconfig" controller-manager
kubeconfig "$STATE/scheduler.kubeconfig" scheduler
kubeconfig "$STATE/kwok.kubeconfig" kwok

# --- control plane -------------------------------------------------------------------------
log "starting etcd $(component_version etcd)"
start etcd "$ETCD_BIN/etcd" --name twin --data-dir "$STATE/etcd" \
	--listen-client-urls "http://127.0.0.1:$PORT_ETCD" \
	--advertise-client-urls "http://127.0.0.1:$PORT_ETCD" \
	--listen-peer-urls "http://127.0.0.1:$PORT_ETCD_PEER" \
	--initial-advertise-peer-urls "http://127.0.0.1:$PORT_ETCD_PEER" \
	--initial-cluster "twin=http://127.0.0.1:$PORT_ETCD_PEER" \
	--listen-metrics-urls "" --quota-backend-bytes 2147483648 --unsafe-no-fsync
wait_for "etcd" 30 curl -sf "http://127.0.0.1:$PORT_ETCD/health"

log "starting kube-apiserver $(component_version kubernetes)"
# RBAC (and Node) authorization, service-account tokens signed by the twin's key; admission
# plugins are the defaults, which include PodSecurity (enforcing per namespace label),
# ServiceAccount and the mutating and validating webhook plugins. Privileged containers are
# allowed cluster-wide, as on EKS, so that it is Pod Security that keeps them out.
start kube-apiserver "$K8S_BIN/kube-apiserver" \
	--bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$PORT_APISERVER" \
	--etcd-servers "http://127.0.0.1:$PORT_ETCD" \
	--tls-cert-file "$pki/apiserver.crt" --tls-private-key-file "$pki/apiserver.key" \
	--client-ca-file "$pki/ca.crt" \
	--authorization-mode Node,RBAC \
	--allow-privileged=true \
	--service-account-issuer https://kubernetes.default.svc.cluster.local \
	--service-account-key-file "$pki/sa.pub" --service-account-signing-key-file "$pki/sa.key" \
	--service-cluster-ip-range 10.0.0.0/24 \
	--enable-admission-plugins NodeRestriction \
	--endpoint-reconciler-type none \
	--profiling=false
wait_for "kube-apiserver" 90 api_ready_with "$KUBECONFIG_ADMIN.tmp"
mv "$KUBECONFIG_ADMIN.tmp" "$KUBECONFIG_ADMIN"

log "starting kube-controller-manager and kube-scheduler"
# The node lifecycle controller is left out: simulated nodes send no heartbeats, and the twin
# tests Spark's pods, not node failure. Garbage collection, namespaces, service accounts and
# service-account tokens run as in a cluster.
start kube-controller-manager "$K8S_BIN/kube-controller-manager" \
	--kubeconfig "$STATE/controller-manager.kubeconfig" \
	--authentication-kubeconfig "$STATE/controller-manager.kubeconfig" \
	--authorization-kubeconfig "$STATE/controller-manager.kubeconfig" \
	--bind-address 127.0.0.1 --secure-port "$PORT_CONTROLLER_MANAGER" \
	--root-ca-file "$pki/ca.crt" --service-account-private-key-file "$pki/sa.key" \
	--use-service-account-credentials \
	--controllers '*,-node-lifecycle-controller,-node-ipam-controller,-cloud-node-lifecycle-controller' \
	--leader-elect=false
start kube-scheduler "$K8S_BIN/kube-scheduler" \
	--kubeconfig "$STATE/scheduler.kubeconfig" \
	--authentication-kubeconfig "$STATE/scheduler.kubeconfig" \
	--authorization-kubeconfig "$STATE/scheduler.kubeconfig" \
	--bind-address 127.0.0.1 --secure-port "$PORT_SCHEDULER" --leader-elect=false

log "starting kwok $(component_version kwok)"
start kwok "$KWOK_BIN/kwok" --kubeconfig "$STATE/kwok.kubeconfig" \
	--manage-all-nodes=false --manage-nodes-with-annotation-selector kwok.x-k8s.io/node=fake \
	--cidr 10.244.0.0/16 --node-ip 10.243.0.1 \
	--server-address "127.0.0.1:$PORT_KWOK" \
	--config "$TWIN_DIR/stages/node.yaml" --config "$TWIN_DIR/stages/pod.yaml" \
	--config "$TWIN_DIR/stages/driver-failure.yaml"

# Nodes labelled and tainted as both stacks' streams expect.
$RUN python "$TWIN_DIR/stackfacts.py" nodes dev prod >"$STATE/nodes.json"
"${KUBECTL[@]}" create -f "$STATE/nodes.json" >/dev/null
wait_for "kwok nodes Ready" 60 "${KUBECTL[@]}" wait --for=condition=Ready node --all --timeout=2s
# The API server taints a new node not-ready; the node lifecycle controller (left out, see
# above) would lift the taint once the node is Ready, so the twin does it.
"${KUBECTL[@]}" taint nodes --all node.kubernetes.io/not-ready:NoSchedule- >/dev/null

# --- the operator, as the stack's Helm release configures it -------------------------------
$RUN python "$TWIN_DIR/stackfacts.py" release "$STACK" >"$STATE/release.json"
release=$(jq -r .name "$STATE/release.json")
release_ns=$(jq -r .namespace "$STATE/release.json")
chart_version=$(jq -r .version "$STATE/release.json")
operator_version=$(component_version spark-operator)
[[ v$chart_version == "$operator_version" ]] ||
	die "stack $STACK deploys chart $chart_version but the twin builds spark-operator $operator_version: bump twin/go/spark-operator/go.mod"
if [[ -n ${TWIN_CONTROLLER_WORKERS:-} ]]; then
	# Only for `make bench-twin WORKERS=n`: what another controller.workers would do.
	log "overriding the release's controller.workers with $TWIN_CONTROLLER_WORKERS (bench)"
	jq --argjson w "$TWIN_CONTROLLER_WORKERS" '.values.controller.workers = $w' \
		"$STATE/release.json" >"$STATE/release.tmp" && mv "$STATE/release.tmp" "$STATE/release.json"
fi
jq .values "$STATE/release.json" >"$STATE/values.json"
log "rendering chart spark-operator $chart_version with helm $(component_version helm) and the $STACK release's values"
# The cluster's extra APIs (the stand-in Prometheus operator CRDs) exist before the chart is
# rendered, and helm is told every API the twin serves, as `helm install` learns them from a
# cluster: the chart renders its PodMonitor only where that API exists.
"${KUBECTL[@]}" apply --server-side --field-manager twin \
	-f "$TWIN_DIR/crds/prometheus-operator.yaml" >/dev/null
wait_for "stand-in CRDs established" 60 "${KUBECTL[@]}" wait --for condition=Established \
	--timeout 2s crd/podmonitors.monitoring.coreos.com crd/prometheusrules.monitoring.coreos.com
api_versions=()
while read -r api_version kind; do
	api_versions+=(--api-versions "$api_version" --api-versions "$api_version/$kind")
done < <("${KUBECTL[@]}" api-resources --no-headers | awk '{ print $(NF - 2), $NF }' | sort -u)
"$HELM_BIN/helm" template "$release" "$OPERATOR/chart" --namespace "$release_ns" \
	--kube-version "$(component_version kubernetes)" "${api_versions[@]}" \
	--include-crds --values "$STATE/values.json" >"$STATE/chart.yaml"
# Splits the chart into what the API server gets (CRDs, RBAC, service accounts, webhook
# configurations pointed at the local webhook) and the two Deployments' args.
$RUN python "$TWIN_DIR/chart.py" "$STATE/chart.yaml" "$STATE" "https://localhost:$PORT_WEBHOOK"

"${KUBECTL[@]}" create namespace "$release_ns" >/dev/null
# As the program does: the streaming namespace (exactly as rendered, applied as Pulumi applies)
# exists before the release, whose chart puts the operator's Roles in it.
$RUN python "$TWIN_DIR/stackfacts.py" namespace "$STACK" |
	"${KUBECTL[@]}" apply --server-side --field-manager pulumi-kubernetes -f - >/dev/null
"${KUBECTL[@]}" apply --server-side --field-manager twin -f "$STATE/chart-crds.yaml" >/dev/null
wait_for "CRDs established" 60 "${KUBECTL[@]}" wait --for condition=Established --timeout 2s crd --all
"${KUBECTL[@]}" apply --server-side --field-manager twin -f "$STATE/chart-objects.yaml" >/dev/null

# Each process authenticates as its chart service account, so the chart's RBAC is what it has.
operator_kubeconfig() {
	local account=$1 token
	token=$("${KUBECTL[@]}" -n "$release_ns" create token "$account" --duration 24h)
	kubeconfig "$STATE/$account.kubeconfig" --token "$token"
}
webhook_sa=$(jq -r '.webhook.serviceAccount' "$STATE/operator.json")
controller_sa=$(jq -r '.controller.serviceAccount' "$STATE/operator.json")
operator_kubeconfig "$webhook_sa"
operator_kubeconfig "$controller_sa"
mapfile -t webhook_args < <(jq -r '.webhook.args[]' "$STATE/operator.json")
mapfile -t controller_args < <(jq -r '.controller.args[]' "$STATE/operator.json")

log "starting spark-operator $operator_version webhook"
# Host-process adaptations: kubeconfig instead of the in-cluster one, certificates in .twin,
# probes and metrics on 127.0.0.1 ports that do not clash with each other.
start webhook env KUBECONFIG="$STATE/$webhook_sa.kubeconfig" \
	"$OPERATOR/bin/spark-operator" "${webhook_args[@]}" \
	--webhook-port "$PORT_WEBHOOK" --webhook-cert-dir "$STATE/webhook-certs" \
	--metrics-bind-address "127.0.0.1:$PORT_WEBHOOK_METRICS" \
	--health-probe-bind-address "127.0.0.1:$PORT_WEBHOOK_HEALTH"
wait_for "webhook ready" 60 curl -sf "http://127.0.0.1:$PORT_WEBHOOK_HEALTH/readyz"
wait_for "webhook CA bundle patched" 60 ca_bundle_patched

log "starting spark-operator $operator_version controller (spark-submit from pyspark $PYSPARK_VERSION)"
# The controller runs $SPARK_HOME/bin/spark-submit against KUBERNETES_SERVICE_HOST/PORT, as in
# a pod; spark-submit authenticates with the controller's kubeconfig.
start controller env KUBECONFIG="$STATE/$controller_sa.kubeconfig" \
	SPARK_HOME="$SPARK_HOME" KUBERNETES_SERVICE_HOST=127.0.0.1 \
	KUBERNETES_SERVICE_PORT="$PORT_APISERVER" \
	"$OPERATOR/bin/spark-operator" "${controller_args[@]}" \
	--metrics-bind-address "127.0.0.1:$PORT_CONTROLLER_METRICS" \
	--health-probe-bind-address "127.0.0.1:$PORT_CONTROLLER_HEALTH"
wait_for "controller ready" 60 curl -sf "http://127.0.0.1:$PORT_CONTROLLER_HEALTH/readyz"

# What the tests and any tool need to find the twin, and what it runs (as the binaries report).
first_line() { "$@" 2>&1 | grep -m1 . || true; }
jq -n --arg stack "$STACK" --arg kubectl "$K8S_BIN/kubectl" --arg kubeconfig "$KUBECONFIG_ADMIN" \
	--arg etcd "$(first_line "$ETCD_BIN/etcd" --version)" \
	--arg kubernetes "$(first_line "$K8S_BIN/kube-apiserver" --version)" \
	--arg kwok "$(first_line "$KWOK_BIN/kwok" --version)" \
	--arg helm "$(first_line "$HELM_BIN/helm" version --short)" \
	--arg operator "spark-operator $operator_version (chart $chart_version)" \
	--arg spark_submit "$(SPARK_HOME=$SPARK_HOME "$SPARK_HOME/bin/spark-submit" --version 2>&1 | grep -m1 -o 'version [0-9.]*' || true)" \
	--arg java "$(first_line java -version)" \
	--argjson release "$(cat "$STATE/release.json")" \
	'{stack: $stack, kubectl: $kubectl, kubeconfig: $kubeconfig, release: $release,
	  versions: {etcd: $etcd, kubernetes: $kubernetes, kwok: $kwok, helm: $helm,
	             "spark-operator": $operator, "spark-submit": ("pyspark " + $spark_submit), java: $java}}' \
	>"$STATE/env.json"
echo "$STACK" >"$STATE/up"
log "twin up for stack $STACK in ${SECONDS}s: export KUBECONFIG=$KUBECONFIG_ADMIN"
