#!/usr/bin/env bash
# down.sh - tear down what up.sh started: only PIDs recorded in $KUBE_STATE/run/*.pid, the containerd
# shims of OUR containerd socket, our mounts under $KUBE_STATE, our netns, KUBE-*/CNI-* iptables chains,
# the k8sbr0 bridge, kubepods cgroups; then restores the saved sysctls. WIPE=1 also deletes state
# (etcd data, containerd root, kubelet dir) for a fresh next run. FAST=1: no graceful pod deletion.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/env.sh"
R=$KUBE_STATE; E=$R/etc; K="$KUBE_BIN/kubectl --kubeconfig=$E/admin.kubeconfig --request-timeout=5s"
SOCK=$R/run/containerd.sock
SIG=TERM; [ "${FAST:-0}" = 1 ] && SIG=KILL   # FAST: state is thrown away anyway, no graceful exits
kill_pidfile() { local f=$R/run/$1.pid; [ -f $f ] || return 0; local p=$(cat $f)
  if kill -0 $p 2>/dev/null; then kill -$SIG $p; for _ in $(seq 50); do kill -0 $p 2>/dev/null || break; sleep 0.1; done
    kill -0 $p 2>/dev/null && kill -9 $p; fi; rm -f $f; }
# 1. stop the controller-manager first (so nothing recreates pods), then let the kubelet tear every pod
#    down properly (CNI DEL frees the IP, veth and netns) while it still runs
kill_pidfile kube-controller-manager
# FAST=1 skips this (~15-20 s); step 2 then SIGKILLs the containers and the fallback below frees the netns
if [ "${FAST:-0}" != 1 ] && [ -f $R/run/kubelet.pid ] && kill -0 $(cat $R/run/kubelet.pid) 2>/dev/null; then
  $K delete pods --all -A --grace-period=1 --wait=true --timeout=40s >/dev/null 2>&1 || true
fi
# each component needs ~2 s to exit on SIGTERM: signal them all at once, SIGKILL stragglers after 5 s
kill_all() { local ps=""; for c in "$@"; do [ -f $R/run/$c.pid ] && ps="$ps $(cat $R/run/$c.pid)"; rm -f $R/run/$c.pid; done
  [ -n "$ps" ] || return 0; kill -$SIG $ps 2>/dev/null
  for _ in $(seq 50); do local alive=0; for p in $ps; do kill -0 $p 2>/dev/null && alive=1; done; [ $alive = 0 ] && break; sleep 0.1; done
  for p in $ps; do kill -9 $p 2>/dev/null; done; return 0; }
kill_all kube-proxy kubelet kube-scheduler kube-apiserver etcd
# 2. anything left in OUR containerd: kill tasks, remove containers
if ctr --address $SOCK version >/dev/null 2>&1; then
  C="ctr --address $SOCK -n k8s.io"
  for t in $($C tasks ls -q 2>/dev/null); do $C tasks kill -s SIGKILL $t >/dev/null 2>&1 & done; wait; sleep 0.5
  for t in $($C tasks ls -q 2>/dev/null); do $C tasks rm -f $t >/dev/null 2>&1; done
  for c in $($C containers ls -q 2>/dev/null); do $C containers rm $c >/dev/null 2>&1; done
fi
kill_pidfile containerd
# shims started by our containerd (their command line names our socket): kill each shim's children
# (container init processes = pid-namespace init, taking the whole container down), then the shim
for p in $(pgrep -f "containerd-shim-runc-v2 .*-address $SOCK"); do
  for c in $(pgrep -P $p); do kill -9 $c 2>/dev/null; done; kill -9 $p 2>/dev/null; done
# 3. mounts and network namespaces that belong to our containerd/kubelet
mount | awk '{print $3}' | grep -E "^$R/" | sort -r | while read m; do umount -l "$m" 2>/dev/null; done
# fallback: pod netns that CNI DEL did not release (only those holding a 10.244.0.x pod address)
for ns in $(ls /var/run/netns 2>/dev/null | grep '^cni-'); do
  ip netns exec $ns ip -4 -o addr 2>/dev/null | grep -q ' 10\.244\.0\.' && ip netns del $ns; done
ip link del k8sbr0 2>/dev/null
# 4. iptables: kube-proxy's own cleanup, then any KUBE-*/CNI-* chains (never NETAVARK-* or others)
[ -x $KUBE_BIN/kube-proxy ] && $KUBE_BIN/kube-proxy --cleanup >/dev/null 2>&1
for t in filter nat mangle; do
  iptables -t $t -S 2>/dev/null | grep -E '^-A .*-j (KUBE|CNI)-|^-A (KUBE|CNI)-' | grep -E '(KUBE|CNI)-' | grep -vE 'NETAVARK' \
    | grep -E '^-A (INPUT|OUTPUT|FORWARD|PREROUTING|POSTROUTING) ' | sed 's/^-A/-D/' | while read -r r; do eval iptables -t $t $r 2>/dev/null; done
  for ch in $(iptables -t $t -S 2>/dev/null | awk '/^-N (KUBE|CNI)-/{print $2}'); do iptables -t $t -F $ch 2>/dev/null; done
  for ch in $(iptables -t $t -S 2>/dev/null | awk '/^-N (KUBE|CNI)-/{print $2}'); do iptables -t $t -X $ch 2>/dev/null; done
done
# 5. kubepods cgroups (empty once the pods are gone)
for h in /sys/fs/cgroup/*/; do [ -d ${h}kubepods ] && find ${h}kubepods -depth -type d -exec rmdir {} \; 2>/dev/null; done
# 6. restore kernel settings saved by up.sh
if [ -f $R/run/sysctl.saved ]; then while read k v; do echo $v > /proc/sys/$k 2>/dev/null; done < $R/run/sysctl.saved; rm -f $R/run/sysctl.saved; fi
if [ "${WIPE:-0}" = 1 ]; then rm -rf $R/etcd $R/kubelet $R/containerd $R/cni/ipam $R/logs/pods $R/run
  # libcni's result cache (containerd 1.6 has no option to move it): only our two network names
  rm -f /var/lib/cni/results/k8s-pod-net-* /var/lib/cni/results/cni-loopback-*; fi
echo "down"
