#!/usr/bin/env bash
# Stop the dockerd that scripts/images.sh started (and only that one: it is
# found by the pid file images.sh wrote). Containers stop with it; named
# volumes (traces, inventory DB) stay. An engine started otherwise is left alone.
set -euo pipefail
STATE="${SHOPTRACE_STATE:-/tmp/shoptrace}"
pidfile="$STATE/dockerd.pid"
t0=$SECONDS
if [ ! -s "$pidfile" ]; then
  echo "[engine-stop] no dockerd started by scripts/images.sh ($pidfile missing)"; exit 0
fi
pid="$(cat "$pidfile")"
if ! kill -0 "$pid" 2>/dev/null || [ "$(cat "/proc/$pid/comm" 2>/dev/null)" != dockerd ]; then
  echo "[engine-stop] dockerd pid $pid is not running"; rm -f "$pidfile"; exit 0
fi
kill -TERM "$pid"
for _ in $(seq 1 60); do
  kill -0 "$pid" 2>/dev/null || { rm -f "$pidfile"; echo "[engine-stop] dockerd pid $pid stopped ($((SECONDS - t0))s)"; exit 0; }
  sleep 0.5
done
echo "[engine-stop] dockerd pid $pid still running after 30s (see $STATE/dockerd.log)" >&2
exit 1
