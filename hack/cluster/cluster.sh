#!/usr/bin/env bash
# cluster.sh up|down|status: a real one-node Kubernetes cluster on this machine, as
# ordinary processes (no systemd, no container runtime of the system's own):
#
#   etcd, kube-apiserver, kube-controller-manager, kube-scheduler   (control plane)
#   containerd + runc, a kubelet, kube-proxy (iptables), a CNI bridge (the node)
#
# `up` installs the Debian packages it needs (containerd, runc, CNI plugins, iptables,
# conntrack), builds the Kubernetes binaries from the Go module proxy (hack/envtest-assets.sh
# for the API server, etcd and kubectl, hack/cluster/node-assets.sh for the rest), makes a
# throwaway PKI, starts everything, builds the operator's image and a pause image from the
# Dockerfile without a registry and imports them into containerd, waits until the node is
# Ready, and writes $CLUSTER_DIR/cluster.env (read by test/cluster and by `source`).
# `down` removes every process, mount, network device, iptables rule, cgroup and sysctl
# change that `up` made, and then checks that nothing is left (exit 1 if something is).
# `up` runs `down` itself when it fails.
#
# Network: pods live on the bridge $CLUSTER_BRIDGE (10.244.0.0/24, the host is
# 10.244.0.1); Services use 10.96.0.0/24; the API server and the kubelet listen on the
# bridge address only. Pod traffic never leaves the machine: pods are not masqueraded and
# a FORWARD rule drops anything from the pod network that would go out another device.
#
# Environment: CLUSTER_DIR (default bin/cluster; logs stay there after `down`),
# CLUSTER_IMAGE (default localhost/openai-operator:cluster).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"

DIR="${CLUSTER_DIR:-$ROOT/bin/cluster}"
mkdir -p "$DIR"
DIR="$(cd "$DIR" && pwd)"
BRIDGE="${CLUSTER_BRIDGE:-ooc0}"
POD_CIDR="10.244.0.0/24"
HOST_IP="10.244.0.1"
SERVICE_CIDR="10.96.0.0/24"
KUBERNETES_SVC_IP="10.96.0.1"
NODE_NAME="${CLUSTER_NODE_NAME:-test-node}"
IMAGE="${CLUSTER_IMAGE:-localhost/openai-operator:cluster}"
PAUSE_IMAGE="localhost/pause:cluster"
APISERVER_PORT=6443
FWD_CHAIN="OOC-POD-EGRESS"
# Paths outside CLUSTER_DIR that the components write to whatever their configuration
# says (shim sockets, the CNI result cache, the kubelet's device-plugin socket and its
# container log links): `down` removes those that did not exist before `up`.
HOST_PATHS=(/run/containerd /var/lib/cni /var/lib/kubelet /var/log/containers /var/log/pods)

# Sockets: unix socket paths must stay under 108 bytes, so a deep checkout uses /tmp.
RUN="$DIR/run"
if [ ${#RUN} -gt 80 ]; then
  RUN="/tmp/openai-operator-cluster-$(echo "$DIR" | sha256sum | cut -c1-12)"
fi
PKI="$DIR/pki"
LOGS="$DIR/logs"
PIDS="$DIR/pids"
STATE="$DIR/state"   # what `up` changed, so that `down` undoes exactly that
CTRD_ROOT="$DIR/containerd/root"
CTRD_STATE="$DIR/containerd/state"
CTRD_SOCK="$RUN/containerd.sock"
KUBELET_DIR="$DIR/kubelet"
CNI_CONF="$DIR/cni/net.d"
CNI_IPAM="$DIR/cni/ipam"

log() { echo "cluster: $(date +%T) $*" >&2; }
die() { log "error: $*"; exit 1; }

# ---------------------------------------------------------------------------------------
# Host prerequisites

PACKAGES=(containerd runc containernetworking-plugins iptables conntrack openssl iproute2 util-linux)

install_packages() {
  local missing=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  [ "$(id -u)" = 0 ] || die "need root to install ${missing[*]} (and to run a kubelet)"
  log "installing Debian packages: ${missing[*]}"
  # Keep the packages' init scripts from starting a system containerd.
  local made_policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    made_policy=1
  fi
  apt-get update -q >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
  [ -n "$made_policy" ] && rm -f /usr/sbin/policy-rc.d
  return 0
}

free_port() {
  local p
  for _ in $(seq 1 200); do
    p=$(( 20000 + RANDOM % 20000 ))
    if [ -z "$(ss -Htln "sport = :$p" 2>/dev/null)" ]; then echo "$p"; return 0; fi
  done
  die "no free port found"
}

# ---------------------------------------------------------------------------------------
# Processes: started in the background, their pids in $PIDS; stopped by those pids only.

start_proc() {
  local name="$1"; shift
  nohup "$@" >"$LOGS/$name.log" 2>&1 </dev/null &
  echo $! >"$PIDS/$name"
}

alive() { [ -f "$PIDS/$1" ] && kill -0 "$(cat "$PIDS/$1")" 2>/dev/null; }

stop_proc() {
  local name="$1" pid
  [ -f "$PIDS/$name" ] || return 0
  pid="$(cat "$PIDS/$name")"
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -f "$PIDS/$name"
}

# wait_until SECONDS DESCRIPTION COMMAND...: poll until COMMAND succeeds, or fail.
wait_until() {
  local secs="$1" what="$2"; shift 2
  local deadline=$(( $(date +%s) + secs ))
  until "$@" >/dev/null 2>&1; do
    if [ "$(date +%s)" -ge "$deadline" ]; then
      log "timed out after ${secs}s waiting for $what"
      return 1
    fi
    sleep 0.5
  done
}

# ---------------------------------------------------------------------------------------
# PKI: one CA, ECDSA P-256 keys, certificates valid for two days.

cert() { # cert NAME CN ORG EXT  (EXT: client | server SANS | both SANS)
  local name="$1" cn="$2" org="$3" kind="$4" sans="${5:-}" subj
  subj="/CN=$cn"; [ -n "$org" ] && subj="/O=$org$subj"
  openssl ecparam -name prime256v1 -genkey -noout -out "$PKI/$name.key" 2>/dev/null
  openssl req -new -key "$PKI/$name.key" -subj "$subj" -out "$PKI/$name.csr" 2>/dev/null
  {
    echo "basicConstraints=critical,CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    case "$kind" in
      client) echo "extendedKeyUsage=clientAuth" ;;
      server) echo "extendedKeyUsage=serverAuth"; echo "subjectAltName=$sans" ;;
      both) echo "extendedKeyUsage=serverAuth,clientAuth"; echo "subjectAltName=$sans" ;;
    esac
  } >"$PKI/$name.ext"
  openssl x509 -req -in "$PKI/$name.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -CAcreateserial \
    -days 2 -sha256 -extfile "$PKI/$name.ext" -out "$PKI/$name.crt" 2>/dev/null
  rm -f "$PKI/$name.csr" "$PKI/$name.ext"
}

kubeconfig() { # kubeconfig NAME CERT
  cat >"$PKI/$1.kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: cluster
  cluster:
    certificate-authority: $PKI/ca.crt
    server: https://$HOST_IP:$APISERVER_PORT
users:
- name: $1
  user:
    client-certificate: $PKI/$2.crt
    client-key: $PKI/$2.key
contexts:
- name: $1
  context: {cluster: cluster, user: $1}
current-context: $1
EOF
}

make_pki() {
  mkdir -p "$PKI"
  openssl ecparam -name prime256v1 -genkey -noout -out "$PKI/ca.key" 2>/dev/null
  openssl req -x509 -new -key "$PKI/ca.key" -subj "/CN=openai-operator-cluster-ca" -days 2 -sha256 -out "$PKI/ca.crt" 2>/dev/null
  cert apiserver kube-apiserver "" server \
    "IP:$HOST_IP,IP:$KUBERNETES_SVC_IP,IP:127.0.0.1,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
  cert apiserver-kubelet-client kube-apiserver-kubelet-client system:masters client
  cert admin cluster-admin system:masters client
  cert controller-manager system:kube-controller-manager "" client
  cert scheduler system:kube-scheduler "" client
  cert kube-proxy system:kube-proxy "" client
  cert kubelet "system:node:$NODE_NAME" system:nodes client
  cert kubelet-serving "system:node:$NODE_NAME" system:nodes server "IP:$HOST_IP,DNS:$NODE_NAME"
  openssl ecparam -name prime256v1 -genkey -noout -out "$PKI/sa.key" 2>/dev/null
  openssl ec -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>/dev/null
  for c in admin controller-manager scheduler kube-proxy kubelet; do kubeconfig "$c" "$c"; done
  chmod 600 "$PKI"/*.key
}

# ---------------------------------------------------------------------------------------
# Network: the bridge (made here so the API server can advertise its address before the
# first pod), forwarding, and the egress guard.

# The bridge is the machine-wide mark of a cluster: one at a time. OWNER (on /run, which
# goes at reboot with the bridge) names the CLUSTER_DIR of the `up` that made it, so that a
# later `up` from another checkout can tell a running cluster from one whose processes
# were killed without `down` (a killed CI job, a lost session): the first it refuses, the
# second it removes with that checkout's own `down`, which undoes exactly what its `up`
# recorded. A bridge nobody recorded is refused: it may be someone else's device.
OWNER="/run/openai-operator-cluster/$BRIDGE.owner"

claim_bridge() {
  ip link show "$BRIDGE" >/dev/null 2>&1 || return 0
  local owner live
  owner="$(cat "$OWNER" 2>/dev/null || true)"
  [ -n "$owner" ] || die "a device named $BRIDGE already exists and no cluster.sh recorded it in $OWNER: remove it ('ip link delete $BRIDGE') if it is a leftover, or set CLUSTER_BRIDGE"
  if [ "$owner" = "$DIR" ]; then
    log "$BRIDGE was left by an earlier 'up' in this directory; removing what it left"
    down || die "could not remove what the earlier cluster left"
    ! ip link show "$BRIDGE" >/dev/null 2>&1 || die "$BRIDGE is still there after 'down': remove it by hand ('ip link delete $BRIDGE')"
    return 0
  fi
  live="$(PIDS="$owner/pids"; status_running | tr '\n' ' ')"
  if [ -n "$live" ]; then
    die "another cluster is running, started from $owner: ${live}(stop it with 'CLUSTER_DIR=$owner $0 down')"
  fi
  [ -d "$owner/state" ] || die "$BRIDGE was made by a cluster in $owner, whose records are gone: remove what it left by hand ('ip link delete $BRIDGE')"
  log "the cluster started from $owner is not running (its processes are gone); removing what it left"
  CLUSTER_DIR="$owner" "$0" down || die "could not remove what the cluster in $owner left"
  ! ip link show "$BRIDGE" >/dev/null 2>&1 ||
    die "$BRIDGE is still there after removing what the cluster in $owner recorded: remove it by hand ('ip link delete $BRIDGE')"
}

setup_network() {
  cat /proc/sys/net/ipv4/ip_forward >"$STATE/ip_forward"
  if [ -f /proc/sys/net/bridge/bridge-nf-call-iptables ]; then
    cat /proc/sys/net/bridge/bridge-nf-call-iptables >"$STATE/bridge-nf-call-iptables"
  else
    modprobe br_netfilter 2>/dev/null || true
    [ -f /proc/sys/net/bridge/bridge-nf-call-iptables ] || die "br_netfilter is not available (needed by kube-proxy for pod-to-Service traffic)"
    echo unknown >"$STATE/bridge-nf-call-iptables"
  fi
  ls /run/netns 2>/dev/null | sort >"$STATE/netns.before" || true
  touch "$STATE/started"
  for p in "${HOST_PATHS[@]}"; do
    [ -e "$p" ] || echo "$p" >>"$STATE/made_paths"
  done
  ip link add "$BRIDGE" type bridge
  echo "$BRIDGE" >"$STATE/bridge"
  mkdir -p "$(dirname "$OWNER")"
  echo "$DIR" >"$OWNER"
  ip addr add "$HOST_IP/${POD_CIDR#*/}" dev "$BRIDGE"
  ip link set "$BRIDGE" up
  # Services are virtual (kube-proxy rewrites them); should a packet to one ever escape
  # the rewrite, it goes to the bridge, never to the default route.
  ip route add "$SERVICE_CIDR" dev "$BRIDGE"
  echo 1 >/proc/sys/net/ipv4/ip_forward
  echo 1 >/proc/sys/net/bridge/bridge-nf-call-iptables
  # Pods reach each other, Services and the host; nothing outside the machine.
  iptables -N "$FWD_CHAIN"
  echo "$FWD_CHAIN" >"$STATE/fwd_chain"
  iptables -A "$FWD_CHAIN" -s "$POD_CIDR" ! -o "$BRIDGE" -j DROP
  iptables -I FORWARD 1 -j "$FWD_CHAIN"

  mkdir -p "$CNI_CONF" "$CNI_IPAM"
  cat >"$CNI_CONF/10-openai-operator.conflist" <<EOF
{
  "cniVersion": "0.4.0",
  "name": "openai-operator-cluster",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$BRIDGE",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "dataDir": "$CNI_IPAM",
        "ranges": [[{"subnet": "$POD_CIDR", "gateway": "$HOST_IP"}]],
        "routes": [{"dst": "0.0.0.0/0"}]
      }
    },
    {"type": "loopback"}
  ]
}
EOF
}

# ---------------------------------------------------------------------------------------
# Components

start_etcd() {
  local client peer
  client="$(free_port)"; peer="$(free_port)"
  echo "http://127.0.0.1:$client" >"$STATE/etcd_url"
  start_proc etcd "$ASSETS/etcd" --name node --data-dir "$DIR/etcd" \
    --listen-client-urls "http://127.0.0.1:$client" --advertise-client-urls "http://127.0.0.1:$client" \
    --listen-peer-urls "http://127.0.0.1:$peer" --initial-advertise-peer-urls "http://127.0.0.1:$peer" \
    --initial-cluster "node=http://127.0.0.1:$peer" --unsafe-no-fsync --quota-backend-bytes 1073741824
}

start_apiserver() {
  start_proc kube-apiserver "$ASSETS/kube-apiserver" \
    --advertise-address "$HOST_IP" --bind-address "$HOST_IP" --secure-port "$APISERVER_PORT" \
    --etcd-servers "$(cat "$STATE/etcd_url")" \
    --service-cluster-ip-range "$SERVICE_CIDR" \
    --client-ca-file "$PKI/ca.crt" \
    --tls-cert-file "$PKI/apiserver.crt" --tls-private-key-file "$PKI/apiserver.key" \
    --kubelet-client-certificate "$PKI/apiserver-kubelet-client.crt" \
    --kubelet-client-key "$PKI/apiserver-kubelet-client.key" \
    --kubelet-certificate-authority "$PKI/ca.crt" \
    --kubelet-preferred-address-types InternalIP \
    --service-account-issuer https://kubernetes.default.svc.cluster.local \
    --service-account-key-file "$PKI/sa.pub" \
    --service-account-signing-key-file "$PKI/sa.key" \
    --authorization-mode Node,RBAC \
    --enable-admission-plugins NodeRestriction \
    --allow-privileged=false \
    --profiling=false
}

start_controller_manager() {
  start_proc kube-controller-manager "$NODE_ASSETS/kube-controller-manager" \
    --kubeconfig "$PKI/controller-manager.kubeconfig" \
    --authentication-kubeconfig "$PKI/controller-manager.kubeconfig" \
    --authorization-kubeconfig "$PKI/controller-manager.kubeconfig" \
    --bind-address "$HOST_IP" --secure-port "$(free_port)" \
    --service-account-private-key-file "$PKI/sa.key" \
    --root-ca-file "$PKI/ca.crt" \
    --use-service-account-credentials \
    --cluster-cidr "$POD_CIDR" --service-cluster-ip-range "$SERVICE_CIDR" \
    --leader-elect=false --profiling=false
}

start_scheduler() {
  start_proc kube-scheduler "$NODE_ASSETS/kube-scheduler" \
    --kubeconfig "$PKI/scheduler.kubeconfig" \
    --authentication-kubeconfig "$PKI/scheduler.kubeconfig" \
    --authorization-kubeconfig "$PKI/scheduler.kubeconfig" \
    --bind-address "$HOST_IP" --secure-port "$(free_port)" \
    --leader-elect=false --profiling=false
}

start_containerd() {
  mkdir -p "$CTRD_ROOT" "$CTRD_STATE" "$RUN"
  cat >"$DIR/containerd/config.toml" <<EOF
version = 2
root = "$CTRD_ROOT"
state = "$CTRD_STATE"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]

[grpc]
  address = "$CTRD_SOCK"

[ttrpc]
  address = ""

[debug]
  address = ""

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = "$DIR/containerd/opt"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  # Sessions here lack CAP_SYS_RESOURCE: lowering a score is refused, so clamp to ours.
  restrict_oom_score_adj = true
  enable_selinux = false
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"

  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"

    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"

      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false

  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$CNI_CONF"
    max_conf_num = 1
EOF
  start_proc containerd containerd --config "$DIR/containerd/config.toml"
}

ctr_() { ctr --address "$CTRD_SOCK" --namespace k8s.io "$@"; }

import_images() {
  mkdir -p "$DIR/images"
  log "building the operator's image from the Dockerfile ($IMAGE) and a pause image"
  go run ./test/cluster/image/build --dockerfile Dockerfile --tag "$IMAGE" --out "$DIR/images/operator.tar" >&2
  go run ./test/cluster/image/build --pause --tag "$PAUSE_IMAGE" --out "$DIR/images/pause.tar" >&2
  for t in operator pause; do
    ctr_ images import --no-unpack=false "$DIR/images/$t.tar" >&2
  done
}

start_kubelet() {
  mkdir -p "$KUBELET_DIR"
  for c in kubepods; do
    for sub in /sys/fs/cgroup/*/; do
      [ -d "$sub$c" ] && echo "$sub$c" >>"$STATE/cgroups.before"
    done
  done
  touch "$STATE/cgroups.before"
  cat >"$DIR/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# This machine mounts cgroup v1 controllers; kubelets from 1.35 on refuse them by default.
failCgroupV1: false
cgroupDriver: cgroupfs
containerRuntimeEndpoint: unix://$CTRD_SOCK
imageServiceEndpoint: unix://$CTRD_SOCK
address: $HOST_IP
port: 10250
readOnlyPort: 0
healthzBindAddress: $HOST_IP
healthzPort: 10248
tlsCertFile: $PKI/kubelet-serving.crt
tlsPrivateKeyFile: $PKI/kubelet-serving.key
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $PKI/ca.crt}
authorization:
  mode: Webhook
clusterDomain: cluster.local
resolvConf: /etc/resolv.conf
failSwapOn: false
podLogsDir: $DIR/pod-logs
# Secret volumes follow their Secret on each pod sync; 20 s instead of a minute keeps the
# rotation scenario short.
syncFrequency: 20s
evictionHard:
  memory.available: 100Mi
  nodefs.available: 1%
  nodefs.inodesFree: 1%
  imagefs.available: 1%
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
serializeImagePulls: false
rotateCertificates: false
serverTLSBootstrap: false
EOF
  start_proc kubelet "$NODE_ASSETS/kubelet" \
    --config "$DIR/kubelet.yaml" \
    --kubeconfig "$PKI/kubelet.kubeconfig" \
    --root-dir "$KUBELET_DIR" \
    --cert-dir "$PKI" \
    --hostname-override "$NODE_NAME" \
    --node-ip "$HOST_IP"
}

start_kube_proxy() {
  cat >"$DIR/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: iptables
clientConnection:
  kubeconfig: $PKI/kube-proxy.kubeconfig
hostnameOverride: $NODE_NAME
clusterCIDR: $POD_CIDR
healthzBindAddress: $HOST_IP:10256
metricsBindAddress: $HOST_IP:10249
conntrack:
  maxPerCore: 0
  min: 0
  tcpEstablishedTimeout: 0s
  tcpCloseWaitTimeout: 0s
iptables:
  syncPeriod: 10s
  minSyncPeriod: 1s
EOF
  start_proc kube-proxy "$NODE_ASSETS/kube-proxy" --config "$DIR/kube-proxy.yaml"
}

kubectl_() { "$ASSETS/kubectl" --kubeconfig "$PKI/admin.kubeconfig" "$@"; }

node_ready() {
  [ "$(kubectl_ get node "$NODE_NAME" -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}')" = True ]
}

write_env() {
  cat >"$DIR/cluster.env" <<EOF
# Written by hack/cluster/cluster.sh up; read by test/cluster (OPENAI_OPERATOR_CLUSTER).
CLUSTER_DIR=$DIR
KUBECONFIG=$PKI/admin.kubeconfig
KUBECTL=$ASSETS/kubectl
CLUSTER_HOST_IP=$HOST_IP
CLUSTER_POD_CIDR=$POD_CIDR
CLUSTER_NODE_NAME=$NODE_NAME
CLUSTER_IMAGE=$IMAGE
CLUSTER_CONTAINERD_SOCKET=$CTRD_SOCK
EOF
}

up() {
  [ "$(id -u)" = 0 ] || die "must run as root (a kubelet, containerd and iptables need it)"
  if [ -f "$DIR/cluster.env" ] && alive kube-apiserver; then
    log "already up; use: export OPENAI_OPERATOR_CLUSTER=$DIR/cluster.env (or '$0 down')"
    return 0
  fi
  local t0; t0=$(date +%s)
  install_packages
  log "Kubernetes binaries (built from the Go module proxy on first use; cached in bin/)"
  ASSETS="$(./hack/envtest-assets.sh)"
  NODE_ASSETS="$(./hack/cluster/node-assets.sh)"
  echo "$ASSETS" >"$DIR/assets"; echo "$NODE_ASSETS" >"$DIR/node-assets"
  # Before anything of this run is made or recorded, and before the traps: a refusal here
  # must not run `down`, which would sweep the running cluster's iptables chains.
  claim_bridge

  rm -rf "$RUN" "$PKI" "$STATE" "$PIDS" "$DIR/etcd" "$DIR/containerd" "$KUBELET_DIR" "$DIR/cni" "$DIR/pod-logs"
  mkdir -p "$RUN" "$LOGS" "$PIDS" "$STATE"
  rm -f "$LOGS"/*.log "$DIR/cluster.env"

  set -E
  trap 'log "start failed; cleaning up (logs in ${LOGS#$ROOT/})"; down || true' ERR
  trap 'log "interrupted; cleaning up"; down || true; exit 130' INT TERM
  log "certificates"
  make_pki
  log "network: bridge $BRIDGE $HOST_IP, pods $POD_CIDR, services $SERVICE_CIDR"
  setup_network
  log "etcd and kube-apiserver"
  start_etcd
  start_apiserver
  wait_until 120 "the API server" kubectl_ get --raw /readyz
  log "kube-controller-manager and kube-scheduler"
  start_controller_manager
  start_scheduler
  log "containerd"
  start_containerd
  wait_until 60 "containerd" ctr_ version
  import_images
  log "kubelet and kube-proxy"
  start_kubelet
  start_kube_proxy
  wait_until 180 "the node to be Ready" node_ready
  wait_until 120 "the default ServiceAccount" kubectl_ get serviceaccount default -n default
  wait_until 60 "kube-proxy's Service rules" sh -c "iptables -t nat -S KUBE-SERVICES | grep -q $KUBERNETES_SVC_IP"
  write_env
  trap - ERR INT TERM
  log "up in $(( $(date +%s) - t0 ))s: node $NODE_NAME Ready; export OPENAI_OPERATOR_CLUSTER=$DIR/cluster.env"
}

# ---------------------------------------------------------------------------------------
# Down: undo everything, whatever state `up` reached, then check.

netns_new() {
  comm -13 "$STATE/netns.before" <(ls /run/netns 2>/dev/null | sort) 2>/dev/null || true
}

mounts_under() { # deepest first
  awk -v d="$1" '$5 == d || index($5, d "/") == 1 {print $5}' /proc/self/mountinfo | awk '{print length, $0}' | sort -rn | cut -d' ' -f2-
}

down() {
  if [ ! -f "$STATE/started" ] && [ -z "$(status_running)" ]; then
    # This directory's `up` made nothing outside it (it stopped before the network, or it
    # refused because another cluster holds the bridge): sweeping the machine's KUBE-
    # chains now would take them from that other cluster.
    log "down: this directory's cluster made nothing on the machine; nothing to remove"
    rm -rf "$RUN" "$DIR/cluster.env"
    return 0
  fi
  ASSETS="$(cat "$DIR/assets" 2>/dev/null || true)"
  NODE_ASSETS="$(cat "$DIR/node-assets" 2>/dev/null || true)"
  mkdir -p "$STATE" "$PIDS"
  log "stopping the control loops, the kubelet and kube-proxy"
  for p in kube-scheduler kube-controller-manager kubelet kube-proxy; do stop_proc "$p"; done

  # Pods: stop every container and sandbox through containerd while it still runs.
  if alive containerd; then
    log "removing containers"
    local ids
    ids="$(ctr_ tasks ls -q 2>/dev/null || true)"
    for id in $ids; do ctr_ tasks delete --force "$id" >/dev/null 2>&1 || true; done
    for id in $(ctr_ containers ls -q 2>/dev/null || true); do ctr_ containers delete "$id" >/dev/null 2>&1 || true; done
  fi
  stop_proc containerd
  # Shims that outlived containerd (their pids are in containerd's state directory).
  if [ -d "$CTRD_STATE" ]; then
    while IFS= read -r f; do
      pid="$(cat "$f" 2>/dev/null || true)"
      [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null || true
    done < <(find "$CTRD_STATE" -name shim.pid 2>/dev/null)
    while IFS= read -r f; do
      pid="$(cat "$f" 2>/dev/null || true)"
      [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null || true
    done < <(find "$CTRD_STATE" -name init.pid 2>/dev/null)
  fi
  for p in kube-apiserver etcd; do stop_proc "$p"; done

  log "unmounting and removing pod network namespaces"
  local m
  for _ in 1 2 3; do
    while IFS= read -r m; do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true; done < <(mounts_under "$DIR")
  done
  if [ -f "$STATE/netns.before" ]; then
    for ns in $(netns_new); do
      umount "/run/netns/$ns" 2>/dev/null || umount -l "/run/netns/$ns" 2>/dev/null || true
      rm -f "/run/netns/$ns"
    done
  fi
  if [ -f "$STATE/made_paths" ]; then
    while IFS= read -r p; do rm -rf "$p"; done <"$STATE/made_paths"
  fi
  if [ -f "$STATE/started" ] && [ -d /var/lib/cni/results ]; then
    find /var/lib/cni/results -type f -newer "$STATE/started" -delete 2>/dev/null || true
  fi

  log "removing network devices, iptables rules and sysctl changes"
  if [ -f "$STATE/bridge" ]; then
    for v in $(ip -o link show master "$BRIDGE" 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1); do
      ip link delete "$v" 2>/dev/null || true
    done
    ip link delete "$BRIDGE" 2>/dev/null || true
    if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
      rm -f "$STATE/bridge"
      [ "$(cat "$OWNER" 2>/dev/null)" = "$DIR" ] && rm -f "$OWNER"
    fi
  fi
  if [ -n "$NODE_ASSETS" ] && [ -x "$NODE_ASSETS/kube-proxy" ]; then
    "$NODE_ASSETS/kube-proxy" --cleanup >"$LOGS/kube-proxy-cleanup.log" 2>&1 || true
  fi
  sweep_iptables
  if [ -f "$STATE/ip_forward" ]; then
    cat "$STATE/ip_forward" >/proc/sys/net/ipv4/ip_forward
    rm -f "$STATE/ip_forward"
  fi
  if [ -f "$STATE/bridge-nf-call-iptables" ]; then
    v="$(cat "$STATE/bridge-nf-call-iptables")"
    [ "$v" = unknown ] || echo "$v" >/proc/sys/net/bridge/bridge-nf-call-iptables
    rm -f "$STATE/bridge-nf-call-iptables"
  fi

  log "removing the pods' cgroups"
  remove_cgroups

  rm -rf "$RUN" "$DIR/etcd" "$DIR/containerd" "$KUBELET_DIR" "$DIR/cni" "$DIR/images" "$DIR/pod-logs" "$DIR/cluster.env" "$PKI"
  check_clean
}

# Remove the kubelet's, CNI's and our own chains (KUBE-*, CNI-*, OOC-*) from every table of
# both families: jumps to them from the built-in chains first, then the chains.
sweep_iptables() {
  local ipt table chain
  for ipt in iptables ip6tables; do
    command -v "$ipt" >/dev/null || continue
    for table in filter nat mangle raw; do
      "$ipt" -t "$table" -S >/dev/null 2>&1 || continue
      { "$ipt" -t "$table" -S 2>/dev/null | grep -E '^-A [A-Z]+ .*-j (KUBE-|CNI-|OOC-)' | grep -vE '^-A (KUBE-|CNI-|OOC-)' || true; } |
        while IFS= read -r rule; do
          # shellcheck disable=SC2086
          "$ipt" -t "$table" ${rule/-A/-D} 2>/dev/null || true
        done
      for chain in $("$ipt" -t "$table" -S 2>/dev/null | awk '$1 == "-N" && $2 ~ /^(KUBE-|CNI-|OOC-)/ {print $2}'); do
        "$ipt" -t "$table" -F "$chain" 2>/dev/null || true
      done
      for chain in $("$ipt" -t "$table" -S 2>/dev/null | awk '$1 == "-N" && $2 ~ /^(KUBE-|CNI-|OOC-)/ {print $2}'); do
        "$ipt" -t "$table" -X "$chain" 2>/dev/null || true
      done
    done
  done
  rm -f "$STATE/fwd_chain"
}

remove_cgroups() {
  local d
  for d in /sys/fs/cgroup/*/kubepods /sys/fs/cgroup/unified/kubepods; do
    [ -d "$d" ] || continue
    grep -qxF "$d" "$STATE/cgroups.before" 2>/dev/null && continue
    # Leaves first; a cgroup goes once its processes have.
    for _ in $(seq 1 20); do
      find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null || true
      [ -d "$d" ] || break
      sleep 0.2
    done
  done
}

# check_clean fails if anything `up` made is still there.
check_clean() {
  local left=()
  for f in "$PIDS"/*; do
    [ -e "$f" ] || continue
    kill -0 "$(cat "$f")" 2>/dev/null && left+=("process $(basename "$f") (pid $(cat "$f"))")
  done
  while IFS= read -r m; do left+=("mount $m"); done < <(mounts_under "$DIR")
  if [ -f "$STATE/netns.before" ]; then
    for ns in $(netns_new); do left+=("network namespace $ns"); done
  fi
  # The bridge only if this directory's `up` made it: another cluster's is not ours to report.
  [ -f "$STATE/bridge" ] && ip link show "$BRIDGE" >/dev/null 2>&1 && left+=("device $BRIDGE")
  for ipt in iptables ip6tables; do
    command -v "$ipt" >/dev/null || continue
    for table in filter nat mangle raw; do
      n="$("$ipt" -t "$table" -S 2>/dev/null | grep -cE 'KUBE-|CNI-|OOC-' || true)"
      [ "$n" = 0 ] || left+=("$n $ipt $table rules")
    done
  done
  for d in /sys/fs/cgroup/*/kubepods; do
    [ -d "$d" ] || continue
    grep -qxF "$d" "$STATE/cgroups.before" 2>/dev/null || left+=("cgroup $d")
  done
  if [ -d "$CTRD_STATE" ] || [ -d "$DIR/containerd" ]; then left+=("containerd state $DIR/containerd"); fi
  if [ -f "$STATE/made_paths" ]; then
    while IFS= read -r p; do [ -e "$p" ] && left+=("$p"); done <"$STATE/made_paths"
  fi
  if [ -f "$STATE/started" ] && [ -d /var/lib/cni/results ]; then
    n="$(find /var/lib/cni/results -type f -newer "$STATE/started" | wc -l)"
    [ "$n" = 0 ] || left+=("$n CNI result files in /var/lib/cni/results")
  fi
  if [ ${#left[@]} -gt 0 ]; then
    log "NOT clean; left behind:"
    printf '  %s\n' "${left[@]}" >&2
    return 1
  fi
  rm -rf "$STATE" "$PIDS"
  log "down: no process, mount, network namespace, device, iptables rule or cgroup left"
}

# status_running prints "name (pid N)" for each process in $PIDS that still runs.
status_running() {
  local f pid
  for f in "$PIDS"/*; do
    [ -e "$f" ] || continue
    pid="$(cat "$f" 2>/dev/null || true)"
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && echo "$(basename "$f") (pid $pid)"
  done
  return 0
}

status() {
  for f in "$PIDS"/*; do
    [ -e "$f" ] || { echo "nothing running"; return 0; }
    n="$(basename "$f")"
    if kill -0 "$(cat "$f")" 2>/dev/null; then echo "$n: running (pid $(cat "$f"))"; else echo "$n: exited"; fi
  done
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
