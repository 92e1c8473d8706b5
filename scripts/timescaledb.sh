#!/usr/bin/env bash
# Build and install TimescaleDB (Apache-2 edition) for the local PostgreSQL 15.
#
#   bash scripts/timescaledb.sh        (what `make timescaledb` runs)
#
# Debian 12 does not package TimescaleDB for PostgreSQL 15, so this builds it from Debian trixie's
# `timescaledb` SOURCE package (which is already stripped to the Apache-licensed code) against
# `postgresql-server-dev-15`, then `make install`s it into the PostgreSQL 15 directories.
#
# - Idempotent: does nothing when the extension is already installed
#   (set ALGO_TRADE_TIMESCALEDB_FORCE=1 to rebuild anyway; stop the database first, since
#   `make install` overwrites the loaded timescaledb*.so files in place).
# - The Debian mirror is taken at run time from the machine's own apt sources
#   (or from ALGO_TRADE_DEBIAN_MIRROR); no host name is written anywhere.
# - The trixie entry is `deb-src` only and lives in a temporary apt configuration (own sources
#   folder, own lists folder) that is removed afterwards: the machine's package sources and
#   indexes are not changed, and no trixie binary package can be installed.
# - Release files are verified with the Debian archive keyring (which carries the trixie keys).
# - Needs root (apt-get install, make install into /usr); uses sudo when run as a normal user.
set -euo pipefail

PG_MAJOR=${ALGO_TRADE_PG_MAJOR:-15}
PG_BIN=/usr/lib/postgresql/$PG_MAJOR/bin
PG_CONFIG=$PG_BIN/pg_config
SOURCE_SUITE=trixie
SOURCE_PACKAGE=timescaledb
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg

say() { echo "timescaledb.sh: $*"; }
STEP="starting"
step() { STEP=$*; echo; echo "==> timescaledb.sh: $*"; }
die() {
  echo >&2
  echo "timescaledb.sh: FAILED while $STEP: $*" >&2
  if [ -f "${CONTROL:-/nonexistent}" ]; then
    echo "timescaledb.sh: the TimescaleDB already installed ($CONTROL) was left as it was." >&2
  else
    echo "timescaledb.sh: TimescaleDB was NOT installed; PostgreSQL works without it (plain tables)." >&2
  fi
  exit 1
}

# ---------------------------------------------------------------------------------------------
# Already installed?
# ---------------------------------------------------------------------------------------------
if [ -x "$PG_CONFIG" ]; then
  SHAREDIR=$("$PG_CONFIG" --sharedir)
  PKGLIBDIR=$("$PG_CONFIG" --pkglibdir)
else
  SHAREDIR=/usr/share/postgresql/$PG_MAJOR
  PKGLIBDIR=/usr/lib/postgresql/$PG_MAJOR/lib
fi
CONTROL=$SHAREDIR/extension/timescaledb.control

installed_version() { sed -n "s/^default_version *= *'\(.*\)'/\1/p" "$CONTROL" 2>/dev/null; }

if [ -f "$CONTROL" ] && [ -f "$PKGLIBDIR/timescaledb.so" ] && [ "${ALGO_TRADE_TIMESCALEDB_FORCE:-0}" != 1 ]; then
  say "TimescaleDB $(installed_version) is already installed for PostgreSQL $PG_MAJOR ($CONTROL); nothing to do."
  exit 0
fi

# ---------------------------------------------------------------------------------------------
# Preconditions
# ---------------------------------------------------------------------------------------------
START=$(date +%s)
say "building TimescaleDB (Apache edition) for PostgreSQL $PG_MAJOR from Debian $SOURCE_SUITE's '$SOURCE_PACKAGE' source package"

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || die "this needs root (apt-get install, make install into /usr); run it as root or install sudo"
  SUDO=(sudo)
fi
command -v apt-get >/dev/null 2>&1 || die "apt-get not found: this script is for Debian-like systems"
[ -x "$PG_BIN/postgres" ] || die "PostgreSQL $PG_MAJOR server binaries not found in $PG_BIN (install postgresql-$PG_MAJOR)"
[ -f "$KEYRING" ] || die "$KEYRING not found (install debian-archive-keyring)"

# ---------------------------------------------------------------------------------------------
# Find the Debian mirror this machine already uses
# ---------------------------------------------------------------------------------------------
step "finding the Debian mirror in this machine's apt sources"

# The suites a Debian archive mirror carries for this release (not -security, which is a
# different archive without a plain `trixie` suite).
# shellcheck source=/dev/null
CODENAME=$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}")
[ -n "$CODENAME" ] || CODENAME=bookworm
SUITE_RE="^(${CODENAME}|${CODENAME}-updates|${CODENAME}-backports|${CODENAME}-proposed-updates|stable|stable-updates|oldstable|${SOURCE_SUITE}|testing|sid|unstable)$"

candidate_mirrors() {
  # deb822 files: stanzas with Types deb/deb-src, not disabled, whose Suites hold a Debian suite.
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk -v re="$SUITE_RE" '
      function flush() {
        if (uris != "" && types ~ /(^|[ \t])deb(-src)?([ \t]|$)/ && tolower(enabled) != "no") {
          n = split(suites, s, /[ \t]+/); ok = 0
          for (i = 1; i <= n; i++) if (s[i] ~ re) ok = 1
          if (ok) { m = split(uris, u, /[ \t]+/); for (i = 1; i <= m; i++) if (u[i] != "") print u[i] }
        }
        types = ""; uris = ""; suites = ""; enabled = ""
      }
      /^[ \t]*#/ { next }
      /^[ \t]*$/ { flush(); next }
      { line = $0; key = line; sub(/:.*/, "", key); val = line; sub(/^[^:]*:[ \t]*/, "", val)
        k = tolower(key)
        if (k == "types") types = val; else if (k == "uris") uris = val
        else if (k == "suites") suites = val; else if (k == "enabled") enabled = val }
      END { flush() }' "$f"
  done
  # One-line format: deb [options] URI suite components...
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    sed -e 's/#.*//' -e 's/\[[^]]*\]//' "$f" | awk -v re="$SUITE_RE" '
      ($1 == "deb" || $1 == "deb-src") && NF >= 3 && $3 ~ re { print $2 }'
  done
}

MIRRORS=()
if [ -n "${ALGO_TRADE_DEBIAN_MIRROR:-}" ]; then
  MIRRORS=("$ALGO_TRADE_DEBIAN_MIRROR")
else
  while IFS= read -r m; do
    m=${m%/}
    [ -n "$m" ] || continue
    case " ${MIRRORS[*]-} " in *" $m "*) ;; *) MIRRORS+=("$m") ;; esac
  done < <(candidate_mirrors)
fi
[ "${#MIRRORS[@]}" -gt 0 ] || die "no Debian archive mirror found in /etc/apt/sources.list or /etc/apt/sources.list.d/ (set ALGO_TRADE_DEBIAN_MIRROR to the mirror URL)"
say "candidate mirror(s): ${MIRRORS[*]}"

# ---------------------------------------------------------------------------------------------
# Build dependencies (from the machine's normal sources, i.e. Debian 12)
# ---------------------------------------------------------------------------------------------
step "installing build dependencies with apt-get"
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -q || die "apt-get update failed"

# Only what is missing is installed, so nothing already on the machine gets upgraded. The server
# headers are pinned to the installed server's version when the mirror still has it.
is_installed() { [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true)" = installed ]; }
SERVER_DEV=postgresql-server-dev-$PG_MAJOR
PG_INSTALLED=$(dpkg-query -W -f='${Version}' "postgresql-$PG_MAJOR" 2>/dev/null || true)
WANT=()
if ! is_installed "$SERVER_DEV"; then
  if [ -n "$PG_INSTALLED" ] && apt-cache madison "$SERVER_DEV" 2>/dev/null \
      | awk -F'|' '{gsub(/ /, "", $2); print $2}' | grep -xF "$PG_INSTALLED" >/dev/null; then
    WANT+=("$SERVER_DEV=$PG_INSTALLED")
  else
    WANT+=("$SERVER_DEV")
  fi
fi
for p in cmake make gcc libc6-dev libssl-dev dpkg-dev xz-utils; do
  is_installed "$p" || WANT+=("$p")
done
if [ "${#WANT[@]}" -gt 0 ]; then
  say "installing: ${WANT[*]}"
  "${SUDO[@]}" apt-get install -y -q --no-install-recommends "${WANT[@]}" \
    || die "apt-get install of the build dependencies failed"
else
  say "all build dependencies are already installed"
fi
[ -d "$("$PG_CONFIG" --includedir-server)" ] || die "PostgreSQL server headers missing after installing $SERVER_DEV"

# ---------------------------------------------------------------------------------------------
# Temporary apt configuration: trixie deb-src only, own lists folder
# ---------------------------------------------------------------------------------------------
WORK=$(mktemp -d "${TMPDIR:-/tmp}/algo-trade-timescaledb.XXXXXX")
cleanup() {
  local rc=$?
  if [ "${ALGO_TRADE_KEEP_BUILD:-0}" = 1 ]; then
    say "keeping the build folder $WORK (ALGO_TRADE_KEEP_BUILD=1)"
  else
    "${SUDO[@]}" rm -rf "$WORK"
  fi
  exit $rc
}
trap cleanup EXIT
trap 'die "command failed (line $LINENO)"' ERR
chmod 755 "$WORK"
mkdir -p "$WORK/apt/sources.list.d" "$WORK/apt/lists/partial" "$WORK/src" "$WORK/build"
# apt downloads as the unprivileged _apt user when it can; give it the folders it writes to.
if id _apt >/dev/null 2>&1; then "${SUDO[@]}" chown -R _apt "$WORK/apt/lists" "$WORK/src"; fi

APT_TMP=(
  -o "Dir::Etc::SourceList=/dev/null"
  -o "Dir::Etc::SourceParts=$WORK/apt/sources.list.d"
  -o "Dir::State::Lists=$WORK/apt/lists"
)

step "fetching the $SOURCE_SUITE source index (deb-src only, temporary)"
MIRROR=""
for m in "${MIRRORS[@]}"; do
  rm -f "$WORK/apt/sources.list.d/"*
  cat >"$WORK/apt/sources.list.d/$SOURCE_SUITE-src.sources" <<EOF
Types: deb-src
URIs: $m
Suites: $SOURCE_SUITE
Components: main
Signed-By: $KEYRING
EOF
  say "trying $m ($SOURCE_SUITE, deb-src)"
  if "${SUDO[@]}" apt-get "${APT_TMP[@]}" update -q --error-on=any \
    && [ -n "$(apt-cache "${APT_TMP[@]}" showsrc "$SOURCE_PACKAGE" 2>/dev/null)" ]; then
    MIRROR=$m
    break
  fi
  say "no verified $SOURCE_SUITE source index with '$SOURCE_PACKAGE' at $m"
done
[ -n "$MIRROR" ] || die "could not get a verified $SOURCE_SUITE Sources index listing '$SOURCE_PACKAGE' from: ${MIRRORS[*]} (is the mirror reachable, and does $KEYRING hold the $SOURCE_SUITE archive keys? apt's messages above say which)"
VERSION=$(apt-cache "${APT_TMP[@]}" showsrc "$SOURCE_PACKAGE" | sed -n 's/^Version: //p' | sort -V | tail -n 1)
say "using $MIRROR: $SOURCE_PACKAGE $VERSION"

step "downloading and unpacking $SOURCE_PACKAGE $VERSION (checksums verified against the signed index)"
(cd "$WORK/src" && "${SUDO[@]}" apt-get "${APT_TMP[@]}" source -q "$SOURCE_PACKAGE=$VERSION") \
  || die "apt-get source $SOURCE_PACKAGE=$VERSION failed"
SRC=$(find "$WORK/src" -mindepth 1 -maxdepth 1 -type d -name "$SOURCE_PACKAGE-*" | head -n 1)
[ -n "$SRC" ] && [ -f "$SRC/CMakeLists.txt" ] || die "no unpacked source tree found in $WORK/src"

# ---------------------------------------------------------------------------------------------
# Build and install
# ---------------------------------------------------------------------------------------------
step "configuring (cmake, APACHE_ONLY) against $PG_CONFIG ($("$PG_CONFIG" --version))"
cmake -S "$SRC" -B "$WORK/build" \
  -DCMAKE_BUILD_TYPE=Release \
  -DPG_CONFIG="$PG_CONFIG" \
  -DAPACHE_ONLY=1 \
  -DREGRESS_CHECKS=OFF \
  -DTAP_CHECKS=OFF \
  -DWARNINGS_AS_ERRORS=OFF \
  -DSEND_TELEMETRY_DEFAULT=OFF \
  >"$WORK/cmake.log" 2>&1 || { tail -n 40 "$WORK/cmake.log" >&2; die "cmake configuration failed"; }

JOBS=$(nproc 2>/dev/null || echo 2)
step "compiling with $JOBS job(s)"
make -C "$WORK/build" -j"$JOBS" >"$WORK/make.log" 2>&1 || { tail -n 60 "$WORK/make.log" >&2; die "compilation failed"; }

step "installing into $PKGLIBDIR and $SHAREDIR/extension"
"${SUDO[@]}" make -C "$WORK/build" install >"$WORK/install.log" 2>&1 || { tail -n 40 "$WORK/install.log" >&2; die "make install failed"; }

[ -f "$CONTROL" ] && [ -f "$PKGLIBDIR/timescaledb.so" ] || die "make install finished but $CONTROL or $PKGLIBDIR/timescaledb.so is missing"

step "done"
say "TimescaleDB $(installed_version) (Apache edition, from $SOURCE_PACKAGE $VERSION) installed for PostgreSQL $PG_MAJOR in $(($(date +%s) - START)) s"
say "it must be preloaded (shared_preload_libraries=timescaledb): 'scripts/db.sh up' does that and restarts a running project cluster"
