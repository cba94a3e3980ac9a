#!/usr/bin/env bash
# Measures new connections between containers on one Podman bridge network, with nothing of the product running:
# Redis and two probe containers on a network of their own (probe.js: by name, by address, and the lookup alone).
# With `churn`, session-like containers start and stop on networks of their own meanwhile.
#
# Measured on this machine kind (gVisor sandbox, Podman 4.3, netavark, aardvark-dns), 2026-12-07: in about 1
# one-minute run in 4, with or without churn, one probe's name lookups stall for 35-55 s (each connect by name
# times out) while its connects by address all succeed and open connections never stall. The stalls are DNS
# (aardvark-dns), not TCP: see docs/architecture.md, "The sandbox's network".
# With `hosts`, the network has no name server and the probes find Redis in /etc/hosts, as the services find each
# other on visp-net (quadlets/visp-net.network).
# Usage: tools/podman/connect-probe/run.sh [quiet|churn|hosts] [seconds]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export CONTAINERS_CONF=$here/../containers.conf
MODE=${1:-quiet}; SECONDS_TO_RUN=${2:-60}
P=podman; N=probe-$$
cleanup() {
  $P ps -a --format '{{.Names}}' | grep "^$N-" | xargs -r $P rm -f -t 0 >/dev/null 2>&1 || true
  $P network ls --format '{{.Name}}' | grep "^$N" | xargs -r $P network rm >/dev/null 2>&1 || true
}
trap cleanup EXIT
if [ "$MODE" = hosts ]; then
  $P network create --disable-dns --subnet 10.89.251.0/24 $N >/dev/null
  REDIS_AT=(--network "$N:ip=10.89.251.201"); PROBE_HOSTS=(--add-host "$N-redis:10.89.251.201")
else
  $P network create $N >/dev/null
  REDIS_AT=(--network "$N"); PROBE_HOSTS=()
fi
$P run -d --name $N-redis "${REDIS_AT[@]}" localhost/visp-test-redis:1 >/dev/null
sleep 2
for c in a b; do $P run -d --name $N-$c --network $N "${PROBE_HOSTS[@]}" -v "$here/probe.js:/probe.js:ro" --entrypoint node localhost/visp-session-manager:1 /probe.js $N-redis >/dev/null; done
end=$(( $(date +%s) + SECONDS_TO_RUN ))
i=0
while [ "$(date +%s)" -lt $end ]; do
  if [ "$MODE" = churn ]; then
    i=$((i + 1))
    $P network create --internal --disable-dns $N-s$i >/dev/null
    $P run -d --name $N-s$i --network $N-s$i localhost/visp-testbox:1 httpd -f -p 8080 -h /var/www >/dev/null
    [ $i -gt 2 ] && { $P rm -f -t 0 $N-s$((i - 2)) >/dev/null; $P network rm $N-s$((i - 2)) >/dev/null; }
  fi
  sleep 2
done
for c in a b; do
  out=$($P logs $N-$c 2>&1)
  echo "probe $c: by name $(grep -c 'byname timeout' <<<"$out") timeouts, by address $(grep -c 'byip timeout' <<<"$out") timeouts, $(grep -c '^.* lookup ' <<<"$out") slow or failed lookups"
done
