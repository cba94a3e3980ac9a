#!/bin/bash
# Starts shibd, then Apache in the foreground. /etc/shibboleth is built in /run (a tmpfs in a read-only container):
# the package's defaults with the operator's files from /etc/visp/shibboleth on top, so that the operator's
# shibboleth2.xml may name its other files relative to /etc/shibboleth as Shibboleth's documentation does.
# `visp-sp check` only checks the operator's files (shibd -t) and exits: what `visp doctor` runs.
set -euo pipefail

build_etc() {
  local etc=/run/visp-sp/shibboleth
  rm -rf /run/visp-sp && mkdir -p "$etc" /run/visp-sp/apache /run/shibboleth /var/cache/shibboleth
  cp -a /usr/share/visp-sp-shibboleth-defaults/. "$etc/"
  for file in /etc/visp/shibboleth/*; do ln -sf "$file" "$etc/$(basename "$file")"; done
}

if [ "${1:-}" = check ]; then
  [ -r /etc/visp/shibboleth/shibboleth2.xml ] || { echo "no shibboleth2.xml" >&2; exit 2; }
  build_etc
  exec shibd -t
fi

: "${VISP_PUBLIC_URL:?VISP_PUBLIC_URL must be the site as users see it, e.g. https://visp.example.org}"
: "${VISP_GATEWAY_URL:=http://visp-gateway:8080}"
: "${VISP_SP_LISTEN:=8080}"
secret_file=${VISP_SSO_SECRET_FILE:-/etc/visp/secrets/sso-proxy-secret}
[ -r "$secret_file" ] || { echo "visp-sp: no secret at $secret_file (the gateway's SSO_PROXY_SECRET)" >&2; exit 2; }
secret=$(tr -d '\r\n' < "$secret_file")
[ "${#secret}" -ge 24 ] || { echo "visp-sp: the secret in $secret_file is shorter than 24 characters" >&2; exit 2; }
case "$secret" in *[!A-Za-z0-9._~+/=-]*) echo "visp-sp: the secret in $secret_file has characters other than base64 and URL-safe ones" >&2; exit 2 ;; esac
[ -r /etc/visp/shibboleth/shibboleth2.xml ] || { echo "visp-sp: /etc/visp/shibboleth/shibboleth2.xml is missing (visp install --shibboleth-dir)" >&2; exit 2; }
export VISP_PUBLIC_URL VISP_GATEWAY_URL VISP_SP_LISTEN

build_etc
# The secret goes into a file only root reads (Apache's parent reads its configuration as root), never into the
# environment, where every Apache worker and shibd would carry it in /proc/<pid>/environ.
umask 077
printf 'RequestHeader set Visp-Sso-Secret "%s"\n' "$secret" > /run/visp-sp/secret.conf
unset secret
umask 022

shibd -t >/run/visp-sp/shibd-check.txt 2>&1 || { cat /run/visp-sp/shibd-check.txt >&2; echo "visp-sp: shibd -t refused the configuration" >&2; exit 2; }
shibd -F -f -p /run/shibboleth/shibd.pid &
shibd_pid=$!
for _ in $(seq 1 200); do [ -S /run/shibboleth/shibd.sock ] && break; kill -0 "$shibd_pid" 2>/dev/null || exit 1; sleep 0.05; done
[ -S /run/shibboleth/shibd.sock ] || { echo "visp-sp: shibd did not open its socket" >&2; exit 1; }
# Apache's workers (www-data) talk to shibd over its socket.
chmod 0777 /run/shibboleth/shibd.sock
trap 'kill -TERM "$shibd_pid" 2>/dev/null' EXIT
# Not exec: this shell stops shibd when Apache ends.
apache2 -f /etc/visp-sp/apache-sp.conf -DFOREGROUND &
apache_pid=$!
trap 'kill -TERM "$apache_pid" "$shibd_pid" 2>/dev/null' TERM INT
wait -n "$apache_pid" "$shibd_pid" || true
