# Sourced by the scripts here: where the cluster's binaries and state live. One cluster per machine (fixed ports
# 12379-12381, 16443, 11250, 20249-20259; bridge k8sbr0; pods 10.244.0.0/24; services 10.96.0.0/24).
KUBE_VERSION=v1.37.2
ETCD_VERSION=v3.7.0
# The binaries, built once per machine and version (like the Go build cache they come from).
KUBE_BIN=${VISP_KUBE_BIN:-${XDG_CACHE_HOME:-$HOME/.cache}/visp/kube-$KUBE_VERSION/bin}
# The running cluster: certificates, etcd, containerd, kubelet, logs. Thrown away by down.sh WIPE=1.
KUBE_STATE=${VISP_KUBE_STATE:-/tmp/visp-kube}
KUBE_NODE=visp-node
KUBECONFIG_ADMIN=$KUBE_STATE/etc/admin.kubeconfig
