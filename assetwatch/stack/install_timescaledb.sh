#!/usr/bin/env bash
# Install the TimescaleDB extension for the PostgreSQL whose pg_config is given (default: 15).
#
# Uses a packaged TimescaleDB when the machine's package manager has one; otherwise builds the
# Apache-licensed edition from Debian's `timescaledb` source package (Debian 13 "trixie"), which
# compiles against Debian 12's PostgreSQL 15 in about a minute. The mirror is read from the
# machine's own apt sources; no host is hard-coded.
set -euo pipefail

PG_MAJOR="${PG_MAJOR:-15}"
PG_CONFIG="${PG_CONFIG:-/usr/lib/postgresql/${PG_MAJOR}/bin/pg_config}"
WORK="${TIMESCALEDB_BUILD_DIR:-${TMPDIR:-/tmp}/assetwatch-timescaledb}"

say() { echo "[timescaledb] $*" >&2; }

if [ -f "$("$PG_CONFIG" --sharedir)/extension/timescaledb.control" ]; then
    say "already installed for PostgreSQL ${PG_MAJOR}"
    exit 0
fi
command -v apt-get >/dev/null || { say "needs apt-get (Debian/Ubuntu); install TimescaleDB for PostgreSQL ${PG_MAJOR} by hand"; exit 3; }
[ "$(id -u)" = 0 ] || { say "needs root to install packages; run as root or install TimescaleDB yourself"; exit 3; }

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null || true
for pkg in "timescaledb-2-postgresql-${PG_MAJOR}" "postgresql-${PG_MAJOR}-timescaledb"; do
    if apt-cache show "$pkg" >/dev/null 2>&1; then
        say "installing package $pkg"
        apt-get install -y -qq "$pkg" >/dev/null
        exit 0
    fi
done

say "no package for PostgreSQL ${PG_MAJOR}; building Debian's timescaledb source (Apache edition)"
# shellcheck source=debian_source.sh
. "$(dirname "$0")/debian_source.sh"
debian_source_apt "$WORK" trixie
opts=("${APT_OPTS[@]}")
apt-get install -y -qq "postgresql-server-dev-${PG_MAJOR}" cmake libssl-dev >/dev/null
(cd "$WORK/src" && apt-get "${opts[@]}" source --download-only timescaledb >/dev/null)
tarball=$(ls "$WORK"/src/timescaledb_*.orig.tar.* | head -n 1)
tar -xf "$tarball" -C "$WORK/src"
srcdir=$(find "$WORK/src" -maxdepth 1 -mindepth 1 -type d | head -n 1)
cd "$srcdir"
./bootstrap -DAPACHE_ONLY=1 -DREGRESS_CHECKS=OFF -DTAP_CHECKS=OFF -DWARNINGS_AS_ERRORS=OFF \
    -DSEND_TELEMETRY_DEFAULT=OFF -DUSE_TELEMETRY=OFF -DPG_CONFIG="$PG_CONFIG" >/dev/null
make -C build -j"$(nproc)" install >/dev/null
say "installed into $("$PG_CONFIG" --sharedir)/extension"
