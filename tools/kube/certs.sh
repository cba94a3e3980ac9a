#!/usr/bin/env bash
# certs.sh - one CA + leaf certs for a throwaway single-node cluster (openssl only). Idempotent.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/env.sh"
umask 077   # the keys are the cluster's: readable by whoever runs it alone
D=$KUBE_STATE/pki; mkdir -p $D; cd $D
[ -f ca.key ] && exit 0
NODE=$KUBE_NODE; HOSTIP=${HOSTIP:-$(ip -4 route get 1.1.1.1 2>/dev/null | awk '{for(i=1;i<NF;i++) if($i=="src") print $(i+1)}')}
openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 3650 -subj "/CN=visp-test-cluster-ca" 2>/dev/null
leaf() { # name CN O [SANs]
  openssl req -newkey rsa:2048 -nodes -keyout $1.key -out $1.csr -subj "/CN=$2${3:+/O=$3}" 2>/dev/null
  if [ -n "${4:-}" ]; then printf "subjectAltName=%s\nextendedKeyUsage=serverAuth,clientAuth\n" "$4" > $1.ext
  else printf "extendedKeyUsage=clientAuth\n" > $1.ext; fi
  openssl x509 -req -in $1.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out $1.crt -days 3650 -extfile $1.ext 2>/dev/null
  rm -f $1.csr $1.ext
}
leaf apiserver kube-apiserver "" "DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,IP:127.0.0.1,IP:10.96.0.1,IP:$HOSTIP"
leaf admin admin system:masters
leaf controller-manager system:kube-controller-manager
leaf scheduler system:kube-scheduler
leaf kube-proxy system:kube-proxy
leaf kubelet system:node:$NODE system:nodes
leaf apiserver-kubelet-client kube-apiserver-kubelet-client system:masters
openssl genrsa -out sa.key 2048 2>/dev/null; openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null

