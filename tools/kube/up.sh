#!/usr/bin/env bash
# Brings up a real single-node Kubernetes on this machine, offline, under $KUBE_STATE (tools/kube/env.sh):
# containerd 1.6 (Debian, a private socket) + runc + the CNI bridge -> kubelet (cgroup v1, cgroupfs); etcd ->
# kube-apiserver -> controller-manager, scheduler; kube-proxy (iptables mode) unless KPROXY=0. From the recipe in
# ../shared/kube (measured 2026-12-04), with its machine-specific fixes kept and marked. Needs build.sh's binaries.
# Then: KUBECONFIG=$KUBE_STATE/etc/admin.kubeconfig kubectl get nodes
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/env.sh"
R=$KUBE_STATE; B=$KUBE_BIN; P=$R/pki; E=$R/etc; NODE=$KUBE_NODE
KPROXY=${KPROXY:-1}
HOSTIP=$(ip -4 route get 1.1.1.1 | awk '{for(i=1;i<NF;i++) if($i=="src") print $(i+1)}')
mkdir -p $R/run $R/logs/pods $E/cni/net.d $R/kubelet $R/etcd
T0=$(date +%s.%N); ts() { printf '[%6.1fs] %s\n' "$(echo "$(date +%s.%N) - $T0" | bc)" "$*"; }
start() { local n=$1; shift; nohup "$@" > $R/logs/$n.log 2>&1 & echo $! > $R/run/$n.pid; }
waitfor() { # desc timeout cmd...
  local d=$1 t=$2; shift 2; for _ in $(seq 1 $((t*5))); do "$@" >/dev/null 2>&1 && { ts "$d ok"; return 0; }; sleep 0.2; done
  echo "TIMEOUT waiting for $d" >&2; return 1; }
# --- host prerequisites (kernel settings, saved once so down.sh can restore them) ---
if [ ! -f $R/run/sysctl.saved ]; then
  for k in net/ipv4/ip_forward net/bridge/bridge-nf-call-iptables vm/overcommit_memory kernel/panic kernel/panic_on_oops; do
    echo "$k $(cat /proc/sys/$k)"; done > $R/run/sysctl.saved
fi
echo 1 > /proc/sys/net/ipv4/ip_forward
echo 1 > /proc/sys/net/bridge/bridge-nf-call-iptables   # service DNAT for pod->svc traffic over the bridge
"$here/certs.sh" >/dev/null
# --- kubeconfigs ---
kc() { cat > $E/$1.kubeconfig <<KC
apiVersion: v1
kind: Config
clusters: [{name: local, cluster: {server: "https://127.0.0.1:16443", certificate-authority: $P/ca.crt}}]
users: [{name: u, user: {client-certificate: $P/$1.crt, client-key: $P/$1.key}}]
contexts: [{name: local, context: {cluster: local, user: u}}]
current-context: local
KC
}
for c in admin controller-manager scheduler kubelet kube-proxy; do kc $c; done
# --- containerd (private instance) + local images ---
cat > $E/containerd.toml <<TOML
# containerd 1.6 config - private instance, everything under $R (never the system socket)
version = 2
root = "$R/containerd/root"
state = "$R/containerd/state"
[grpc]
  address = "$R/run/containerd.sock"
[ttrpc]
  address = "$R/run/containerd-ttrpc.sock"
[debug]
  address = "$R/run/containerd-debug.sock"
[plugins."io.containerd.internal.v1.opt"]
  path = "$R/containerd/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "localhost/pause:local"   # imported from images/pause.tar, never pulled
  enable_selinux = false
  restrict_oom_score_adj = true   # REQUIRED here: root lacks CAP_SYS_RESOURCE, so runc cannot set oom_score_adj < 0
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "/usr/sbin/runc"       # (bin/runc-debug: wrapper that logs runc --debug output)
        Root = "$R/run/runc"          # runc state dir (default would be /run/containerd/runc)
        SystemdCgroup = false          # cgroupfs driver (no systemd on this machine)
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"           # Debian containernetworking-plugins
    conf_dir = "$R/etc/cni/net.d"
TOML
cat > $E/cni/net.d/10-k8sbr.conflist <<CNI
{
  "cniVersion": "0.4.0",
  "name": "k8s-pod-net",
  "plugins": [
    { "type": "bridge", "bridge": "k8sbr0", "isGateway": true, "ipMasq": false, "hairpinMode": true,
      "ipam": { "type": "host-local", "ranges": [[{ "subnet": "10.244.0.0/24" }]],
                "routes": [{ "dst": "0.0.0.0/0" }], "dataDir": "$R/cni/ipam" } },
    { "type": "portmap", "capabilities": { "portMappings": true } }
  ]
}
CNI
if ! [ -S $R/run/containerd.sock ] || ! ctr --address $R/run/containerd.sock version >/dev/null 2>&1; then
  start containerd containerd --config $E/containerd.toml
  waitfor containerd 20 ctr --address $R/run/containerd.sock version
fi
"$here/images.sh"
ts "sandbox image imported"
# --- etcd ---
start etcd $B/etcd --name default --data-dir $R/etcd --unsafe-no-fsync \
  --listen-client-urls http://127.0.0.1:12379 --advertise-client-urls http://127.0.0.1:12379 \
  --listen-peer-urls http://127.0.0.1:12380 --initial-advertise-peer-urls http://127.0.0.1:12380 \
  --initial-cluster default=http://127.0.0.1:12380 --listen-metrics-urls http://127.0.0.1:12381
waitfor etcd 30 curl -sf http://127.0.0.1:12379/health
# --- kube-apiserver ---
# On every address, as the kubelet is on $HOSTIP: pods reach it through the `kubernetes` Service (10.96.0.1:443 →
# $HOSTIP:16443), the services run in the cluster among them; the host's clients use 127.0.0.1. Nobody anonymous,
# and nobody off this machine: the apiserver's and kubelet's ports answer only loopback and the pods (a KUBE- chain,
# which down.sh removes with kube-proxy's).
iptables -N KUBE-VISP-LOCAL-ONLY 2>/dev/null || iptables -F KUBE-VISP-LOCAL-ONLY
iptables -A KUBE-VISP-LOCAL-ONLY -i lo -j RETURN
iptables -A KUBE-VISP-LOCAL-ONLY -s 10.244.0.0/24 -j RETURN
iptables -A KUBE-VISP-LOCAL-ONLY -j DROP
iptables -C INPUT -p tcp -m multiport --dports 16443,11250 -j KUBE-VISP-LOCAL-ONLY 2>/dev/null \
  || iptables -I INPUT -p tcp -m multiport --dports 16443,11250 -j KUBE-VISP-LOCAL-ONLY
start kube-apiserver $B/kube-apiserver --etcd-servers=http://127.0.0.1:12379 \
  --bind-address=0.0.0.0 --secure-port=16443 --advertise-address=$HOSTIP --anonymous-auth=false \
  --tls-cert-file=$P/apiserver.crt --tls-private-key-file=$P/apiserver.key --client-ca-file=$P/ca.crt \
  --service-cluster-ip-range=10.96.0.0/24 --authorization-mode=Node,RBAC --allow-privileged=true \
  --service-account-issuer=https://kubernetes.default.svc.cluster.local \
  --service-account-key-file=$P/sa.pub --service-account-signing-key-file=$P/sa.key \
  --kubelet-client-certificate=$P/apiserver-kubelet-client.crt --kubelet-client-key=$P/apiserver-kubelet-client.key \
  --kubelet-preferred-address-types=InternalIP --profiling=false --v=1
waitfor kube-apiserver 90 curl -sf --cacert $P/ca.crt --cert $P/admin.crt --key $P/admin.key https://127.0.0.1:16443/readyz
# --- controller-manager + scheduler ---
start kube-controller-manager $B/kube-controller-manager --kubeconfig=$E/controller-manager.kubeconfig \
  --authentication-kubeconfig=$E/controller-manager.kubeconfig --authorization-kubeconfig=$E/controller-manager.kubeconfig \
  --bind-address=127.0.0.1 --secure-port=20257 --leader-elect=false --use-service-account-credentials=true \
  --service-account-private-key-file=$P/sa.key --root-ca-file=$P/ca.crt \
  --cluster-signing-cert-file=$P/ca.crt --cluster-signing-key-file=$P/ca.key \
  --service-cluster-ip-range=10.96.0.0/24 --allocate-node-cidrs=false --v=1
start kube-scheduler $B/kube-scheduler --kubeconfig=$E/scheduler.kubeconfig \
  --authentication-kubeconfig=$E/scheduler.kubeconfig --authorization-kubeconfig=$E/scheduler.kubeconfig \
  --bind-address=127.0.0.1 --secure-port=20259 --leader-elect=false --v=1
# --- kubelet ---
cat > $E/kubelet.yaml <<KY
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $HOSTIP          # apiserver -> kubelet (logs/exec) uses the node InternalIP
port: 11250
healthzBindAddress: 127.0.0.1
healthzPort: 11248
readOnlyPort: 0
authentication: {anonymous: {enabled: false}, webhook: {enabled: true}, x509: {clientCAFile: $P/ca.crt}}
authorization: {mode: Webhook}
containerRuntimeEndpoint: unix://$R/run/containerd.sock
cgroupDriver: cgroupfs
failCgroupV1: false       # 1.35+ refuses cgroup v1 unless this is set
failSwapOn: false
podLogsDir: $R/logs/pods
clusterDomain: cluster.local
protectKernelDefaults: false
serializeImagePulls: false
imageGCHighThresholdPercent: 100   # never garbage-collect the imported (unpullable) images
imageGCLowThresholdPercent: 99
evictionHard: {memory.available: "100Mi", nodefs.available: "1%", imagefs.available: "1%"}
KY
start kubelet $B/kubelet --kubeconfig=$E/kubelet.kubeconfig --config=$E/kubelet.yaml \
  --hostname-override=$NODE --node-ip=$HOSTIP --root-dir=$R/kubelet --v=1
# --- kube-proxy (iptables mode; touches only KUBE-* chains) ---
if [ "$KPROXY" = 1 ]; then
  start kube-proxy $B/kube-proxy --kubeconfig=$E/kube-proxy.kubeconfig --hostname-override=$NODE \
    --proxy-mode=iptables --cluster-cidr=10.244.0.0/24 --metrics-bind-address=127.0.0.1:20249 \
    --healthz-bind-address=127.0.0.1:20256 --conntrack-max-per-core=0 --iptables-localhost-nodeports=false \
    --conntrack-tcp-timeout-established=0 --conntrack-tcp-timeout-close-wait=0 --v=1
fi
K="$B/kubectl --kubeconfig=$E/admin.kubeconfig"
waitfor "node registered" 60 $K get node $NODE
waitfor "node Ready" 120 $K wait --for=condition=Ready node/$NODE --timeout=1s
waitfor "default serviceaccount" 60 $K get sa default -n default
ts "cluster up; export KUBECONFIG=$E/admin.kubeconfig"
