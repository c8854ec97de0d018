#!/usr/bin/env bash
# Starts the twin for a stack: etcd, kube-apiserver, kube-controller-manager, kube-scheduler and
# kwok on 127.0.0.1, twin/hostpods.py (which runs the spark-operator's pods as host processes
# once the program's Helm release has installed them), a moto server for the AWS half, and the
# Pulumi engine's environment (twin/engine/setup.sh): after it, `twin/pulumi up --stack STACK`
# deploys the stack. Idempotent: a twin up and healthy for STACK is left alone; anything else
# is stopped and started again.
#
# usage: twin/up.sh STACK     (writes .twin/kubeconfig, an admin kubeconfig)
set -euo pipefail

TWIN_DIR="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=twin/lib.sh
source "$TWIN_DIR/lib.sh"
STACK=${1:?usage: up.sh STACK}
RUN=${RUN:?RUN must be the project\'s python runner (set by twin.mk)}

if [[ -f $STATE/up && $(cat "$STATE/up") == "$STACK" && -f $KUBECONFIG_ADMIN ]] &&
	all_alive && api_ready; then
	log "twin already up (stack $STACK): $KUBECONFIG_ADMIN"
	exit 0
fi
"$TWIN_DIR/down.sh" --quiet

for c in etcd kubernetes kwok spark-operator pyspark pulumi pulumi-kubernetes; do
	[[ -f $(component_dir "$c")/.complete ]] || die "$c is not built: run make twin-build"
done
ETCD_BIN=$(component_dir etcd)/bin
K8S_BIN=$(component_dir kubernetes)/bin
KWOK_BIN=$(component_dir kwok)/bin
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
# The API server reaches Services (the operator's webhook) through the twin's pod network,
# twin/hostpods.py's proxy: an HTTP CONNECT egress for cluster traffic on a Unix socket.
cat >"$STATE/egress.yaml" <<EOF
apiVersion: apiserver.k8s.io/v1beta1
kind: EgressSelectorConfiguration
egressSelections:
- name: cluster
  connection:
    proxyProtocol: HTTPConnect
    transport:
      uds:
        udsName: $EGRESS_SOCKET
EOF
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
	--service-account-issuer "$SERVICE_ACCOUNT_ISSUER" \
	--service-account-key-file "$pki/sa.pub" --service-account-signing-key-file "$pki/sa.key" \
	--service-cluster-ip-range 10.0.0.0/24 \
	--enable-admission-plugins NodeRestriction \
	--egress-selector-config-file "$STATE/egress.yaml" \
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

# Nodes labelled and tainted as both stacks' streams expect, and a pool with neither for the
# cluster's own workloads (the operator, the History Server).
$RUN python "$TWIN_DIR/stackfacts.py" nodes dev prod >"$STATE/nodes.json"
"${KUBECTL[@]}" create -f "$STATE/nodes.json" >/dev/null
wait_for "kwok nodes Ready" 60 "${KUBECTL[@]}" wait --for=condition=Ready node --all --timeout=2s
# The API server taints a new node not-ready; the node lifecycle controller (left out, see
# above) would lift the taint once the node is Ready, so the twin does it.
"${KUBECTL[@]}" taint nodes --all node.kubernetes.io/not-ready:NoSchedule- >/dev/null

# --- the operator's pods, run on the host once the program's release installs them ----------
$RUN python "$TWIN_DIR/stackfacts.py" release "$STACK" >"$STATE/release.json"
chart_version=$(jq -r .version "$STATE/release.json")
operator_version=$(component_version spark-operator)
[[ v$chart_version == "$operator_version" ]] ||
	die "stack $STACK deploys chart $chart_version but the twin builds spark-operator $operator_version: bump twin/go/spark-operator/go.mod"
# The cluster's extra APIs (the stand-in Prometheus operator CRDs), there before the program
# runs, as in a cluster with the Prometheus operator.
"${KUBECTL[@]}" apply --server-side --field-manager twin \
	-f "$TWIN_DIR/crds/prometheus-operator.yaml" >/dev/null
wait_for "stand-in CRDs established" 60 "${KUBECTL[@]}" wait --for condition=Established \
	--timeout 2s crd/podmonitors.monitoring.coreos.com crd/prometheusrules.monitoring.coreos.com
# Host-process adaptations of the chart's two Deployments (twin/hostpods.py): probes and metrics
# on 127.0.0.1 ports that do not clash, the webhook's port and certificate directory; the
# controller runs $SPARK_HOME/bin/spark-submit against KUBERNETES_SERVICE_HOST/PORT, as in a pod.
# spark-submit's two short-lived JVMs (launcher, submission client) with the quick JIT only and
# the serial collector: half the CPU per submission, on two cores that everything else shares.
submit_jvm="-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"
controller_flags=(--metrics-bind-address "127.0.0.1:$PORT_CONTROLLER_METRICS"
	--health-probe-bind-address "127.0.0.1:$PORT_CONTROLLER_HEALTH")
if [[ -n ${TWIN_CONTROLLER_WORKERS:-} ]]; then
	# Only for `make bench-twin WORKERS=n`: what another controller.workers would do.
	log "overriding the release's controller.workers with $TWIN_CONTROLLER_WORKERS (bench)"
	controller_flags+=("--controller-threads=$TWIN_CONTROLLER_WORKERS")
fi
webhook_flags=(--webhook-port "$PORT_WEBHOOK" --webhook-cert-dir "$STATE/webhook-certs"
	--metrics-bind-address "127.0.0.1:$PORT_WEBHOOK_METRICS"
	--health-probe-bind-address "127.0.0.1:$PORT_WEBHOOK_HEALTH")
json_list() { printf '%s\n' "$@" | jq -R . | jq -sc .; }
jq -n --arg server "https://127.0.0.1:$PORT_APISERVER" --arg pki "$STATE/pki" \
	--arg state "$STATE" --arg socket "$EGRESS_SOCKET" --arg binary "$OPERATOR/bin/spark-operator" \
	--arg spark_home "$SPARK_HOME" --arg api_port "$PORT_APISERVER" --arg submit_jvm "$submit_jvm" \
	--argjson controller_flags "$(json_list "${controller_flags[@]}")" \
	--argjson webhook_flags "$(json_list "${webhook_flags[@]}")" \
	--arg controller_ready "http://127.0.0.1:$PORT_CONTROLLER_HEALTH/readyz" \
	--arg webhook_ready "http://127.0.0.1:$PORT_WEBHOOK_HEALTH/readyz" \
	--argjson webhook_port "$PORT_WEBHOOK" \
	'{server: $server, ca: ($pki + "/ca.crt"), cert: ($pki + "/admin.crt"),
	  key: ($pki + "/admin.key"), state: $state, socket: $socket, binary: $binary,
	  processes: {
	    controller: {flags: $controller_flags, ready: $controller_ready,
	      env: {SPARK_HOME: $spark_home, KUBERNETES_SERVICE_HOST: "127.0.0.1",
	            KUBERNETES_SERVICE_PORT: $api_port,
	            SPARK_LAUNCHER_OPTS: $submit_jvm, SPARK_SUBMIT_OPTS: $submit_jvm}},
	    webhook: {flags: $webhook_flags, ready: $webhook_ready,
	      ports: {"--webhook-port": $webhook_port}}}}' >"$STATE/hostpods.json"
start hostpods "$REPO_DIR/.venv/bin/python" -u -m twin.hostpods "$STATE/hostpods.json"
wait_for "the twin's pod network" 30 test -S "$EGRESS_SOCKET"

# --- the AWS half: a moto server ---------------------------------------------------------
log "starting moto $(moto_version) (the AWS half)"
start moto "$REPO_DIR/.venv/bin/moto_server" -H 127.0.0.1 -p "$PORT_MOTO"
wait_for "moto" 30 curl -sf "http://127.0.0.1:$PORT_MOTO/moto-api/"

# --- the engine ----------------------------------------------------------------------------
"$TWIN_DIR/engine/setup.sh" "$STACK"

# What the tests and any tool need to find the twin, and what it runs (as the binaries report).
first_line() { "$@" 2>&1 | grep -m1 . || true; }
jq -n --arg stack "$STACK" --arg kubectl "$K8S_BIN/kubectl" --arg kubeconfig "$KUBECONFIG_ADMIN" \
	--arg etcd "$(first_line "$ETCD_BIN/etcd" --version)" \
	--arg kubernetes "$(first_line "$K8S_BIN/kube-apiserver" --version)" \
	--arg kwok "$(first_line "$KWOK_BIN/kwok" --version)" \
	--arg operator "spark-operator $operator_version (chart $chart_version)" \
	--arg spark_submit "$(SPARK_HOME=$SPARK_HOME "$SPARK_HOME/bin/spark-submit" --version 2>&1 | grep -m1 -o 'version [0-9.]*' || true)" \
	--arg java "$(first_line java -version)" \
	--arg pulumi "$(first_line "$(component_dir pulumi)/bin/pulumi" version)" \
	--arg provider "$(release_version pulumi-kubernetes) (installed as $(sdk_version pulumi-kubernetes))" \
	--arg aws "the twin's stand-in (installed as $(sdk_version pulumi-aws)) on moto $(moto_version)" \
	--argjson release "$(cat "$STATE/release.json")" \
	'{stack: $stack, kubectl: $kubectl, kubeconfig: $kubeconfig, release: $release,
	  versions: {etcd: $etcd, kubernetes: $kubernetes, kwok: $kwok,
	             "spark-operator": $operator, "spark-submit": ("pyspark " + $spark_submit),
	             java: $java, pulumi: $pulumi, "pulumi-resource-kubernetes": $provider,
	             "pulumi-resource-aws": $aws}}' \
	>"$STATE/env.json"
echo "$STACK" >"$STATE/up"
log "twin up for stack $STACK in ${SECONDS}s: \`twin/pulumi up --yes --stack $STACK\` deploys it;" \
	"KUBECONFIG=$KUBECONFIG_ADMIN reads it"
