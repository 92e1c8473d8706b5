#!/usr/bin/env bash
# The dashboard's one JavaScript dependency, vendored so that it works offline (no CDN at run time):
# TradingView Lightweight Charts, the standalone production build, from the npm registry at a pinned
# version. Re-fetch it with `npm pack` and check its sha256 against the one recorded here:
#
#   scripts/vendor-js.sh           fetch NAME@VERSION, check the sha256 sums, copy the files in
#   scripts/vendor-js.sh --check   only check the committed files against the recorded sums (offline)
#
# To upgrade: change VERSION, run with UPDATE=1 to print the new sums, review the library's changes
# and licence, record the sums below. The NOTICE file is not in the npm package: it is the attribution
# notice of the library's repository (NOTICE), kept as committed.
set -euo pipefail

NAME=lightweight-charts
VERSION=5.2.1
JS=lightweight-charts.standalone.production.js
SHA256_JS=e21cc5caa0226ef30bd8549c50b9ef926615f2a4ee6b4e486353477a55f598cf
SHA256_LICENSE=70c9d5382506dd184465425c08a99ad9bd6d9ac1313c252968ba0b585e5ef823

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DEST="$ROOT/packages/dashboard/src/algo_trade_dashboard/static/vendor"

die() { echo "vendor-js.sh: $*" >&2; exit 1; }
sum() { sha256sum "$1" | cut -d' ' -f1; }
check() {  # check FILE EXPECTED
  local got; got=$(sum "$1")
  [ "$got" = "$2" ] || die "$1: sha256 $got, expected $2 ($NAME@$VERSION)"
}

if [ "${1:-}" = "--check" ]; then
  check "$DEST/$JS" "$SHA256_JS"
  check "$DEST/LICENSE" "$SHA256_LICENSE"
  [ -s "$DEST/NOTICE" ] || die "$DEST/NOTICE is missing (the attribution the licence requires)"
  echo "vendor-js.sh: $NAME@$VERSION in $DEST matches the recorded sha256 sums"
  exit 0
fi

command -v npm >/dev/null 2>&1 || die "npm is needed to fetch $NAME@$VERSION (apt-get install npm)"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "$NAME@$VERSION" >/dev/null && tar xzf "$NAME-$VERSION.tgz")
if [ "${UPDATE:-}" = "1" ]; then
  echo "SHA256_JS=$(sum "$tmp/package/dist/$JS")"
  echo "SHA256_LICENSE=$(sum "$tmp/package/LICENSE")"
  exit 0
fi
check "$tmp/package/dist/$JS" "$SHA256_JS"
check "$tmp/package/LICENSE" "$SHA256_LICENSE"
mkdir -p "$DEST"
cp "$tmp/package/dist/$JS" "$tmp/package/LICENSE" "$DEST/"
echo "vendor-js.sh: $NAME@$VERSION copied into $DEST (sha256 checked)"
