#!/usr/bin/env bash
# Builds Kubernetes' control plane, kubelet, kube-proxy, kubectl and etcd from the Go module proxy into $KUBE_BIN,
# once per machine and version (7-12 min cold on 2 cores: 7 min 19 s measured 2026-12-07, ≈ 4 GB of Go build cache); nothing when they are there.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/env.sh"
BINARIES="kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl etcd"
missing=""; for b in $BINARIES; do [ -x "$KUBE_BIN/$b" ] || missing="$missing $b"; done
[ -z "$missing" ] && exit 0
command -v go >/dev/null || { echo "kube build: Go is needed to build Kubernetes $KUBE_VERSION" >&2; exit 1; }
mkdir -p "$KUBE_BIN"
# A copy of the wrapper module: `go get` writes go.sum and the tool lines, which stay out of the checkout.
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
cp "$here/build/go.mod" "$work/"
cd "$work"
PKGS="k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kube-scheduler
k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kube-proxy k8s.io/kubernetes/cmd/kubectl"
# etcd's server at the version k8s.io/kubernetes itself requires, so that nothing is upgraded.
go get -tool $PKGS go.etcd.io/etcd/server/v3@$ETCD_VERSION
minor=$(echo "$KUBE_VERSION" | cut -d. -f2)
V="-X k8s.io/component-base/version.gitVersion=$KUBE_VERSION -X k8s.io/component-base/version.gitMajor=1
 -X k8s.io/component-base/version.gitMinor=$minor -X k8s.io/component-base/version.gitTreeState=clean
 -X k8s.io/client-go/pkg/version.gitVersion=$KUBE_VERSION"
out="$work/out"; mkdir -p "$out"
CGO_ENABLED=0 nice -n 19 go build -trimpath -ldflags "-s -w $V" -o "$out/" $PKGS go.etcd.io/etcd/server/v3
# go.etcd.io/etcd/server/v3 builds a binary named "server".
mv "$out/server" "$out/etcd"
# Moved in last, all together: a build cut short leaves none, and is built again next time.
for b in $BINARIES; do mv -f "$out/$b" "$KUBE_BIN/$b"; done
