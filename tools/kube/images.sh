#!/usr/bin/env bash
# The cluster's sandbox image, localhost/pause:local (never pulled: containerd's sandbox_image), as a docker-archive
# under $KUBE_STATE/images, from pause/main.go built static; then the session images named as arguments, from
# Podman (the project's storage) into the cluster's containerd. Needs the cluster's containerd (up.sh starts it).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/env.sh"
I=$KUBE_STATE/images; mkdir -p "$I"
CTR="ctr --address $KUBE_STATE/run/containerd.sock -n k8s.io"
if ! $CTR images ls -q | grep -qx localhost/pause:local; then
  (cd "$here/pause" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$I/pause" .)
  python3 "$here/mkimage.py" "$I/pause.tar" localhost/pause:local --add "$I/pause:/pause:0755" --entrypoint '["/pause"]' --user 65535:65535 >/dev/null
  $CTR images import "$I/pause.tar" >/dev/null
fi
for image in "$@"; do
  # The image's id as Podman has it, so that a rebuilt image is loaded again and an unchanged one is not.
  id=$(CONTAINERS_CONF="$here/../podman/containers.conf" podman image inspect --format '{{.Id}}' "$image")
  stamp="$I/$(echo "$image" | tr '/:' '__').id"
  if [ "$(cat "$stamp" 2>/dev/null)" = "$id" ] && $CTR images ls -q | grep -qx "$image"; then continue; fi
  # A run killed while saving leaves the archive, which podman save refuses to write over.
  rm -f "$I/session.tar"
  CONTAINERS_CONF="$here/../podman/containers.conf" podman save --format docker-archive -o "$I/session.tar" "$image" >/dev/null
  $CTR images import "$I/session.tar" >/dev/null
  rm -f "$I/session.tar"
  echo "$id" > "$stamp"
done
