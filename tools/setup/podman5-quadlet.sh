#!/usr/bin/env bash
# Extracts Podman 5's quadlet generator from Debian trixie's podman package (without installing it), for checking
# the quadlets: Debian 12's Podman 4.3 has no quadlet. Idempotent. Usage: podman5-quadlet.sh <dir>
set -euo pipefail
VERSION=5.4.2+ds1-2+b2
dir=${1:?usage: podman5-quadlet.sh <dir>}
[ -x "$dir/quadlet" ] && [ "$(cat "$dir/.version" 2>/dev/null)" = "$VERSION" ] && exit 0
printf '[setup] extracting quadlet from Debian trixie podman %s\n' "$VERSION" >&2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/lists/partial" "$work/cache/archives/partial"
echo 'deb http://deb.debian.org/debian trixie main' > "$work/sources.list"
apt_opts=(-q -o "Dir::Etc::sourcelist=$work/sources.list" -o Dir::Etc::sourceparts=- -o "Dir::State::Lists=$work/lists"
  -o "Dir::Cache=$work/cache" -o APT::Sandbox::User=root)
apt-get "${apt_opts[@]}" update >/dev/null
(cd "$work" && apt-get "${apt_opts[@]}" download "podman=$VERSION" >/dev/null)
dpkg-deb -x "$work"/podman_*.deb "$work/root"
mkdir -p "$dir"
install -m 0755 "$work/root/usr/libexec/podman/quadlet" "$dir/quadlet"
echo "$VERSION" > "$dir/.version"
