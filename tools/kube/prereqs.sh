#!/usr/bin/env bash
# The Debian packages the cluster needs beyond what bootstrap installs: containerd (started by up.sh on a socket
# of its own, never the system's), runc, the CNI plugins, conntrack and iptables. Idempotent; nothing when present.
set -euo pipefail
need=()
for p in containerd runc containernetworking-plugins conntrack iptables; do dpkg -s "$p" >/dev/null 2>&1 || need+=("$p"); done
[ ${#need[@]} -eq 0 ] && exit 0
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
as_root apt-get update -qq
as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
