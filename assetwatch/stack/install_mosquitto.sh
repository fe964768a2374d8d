#!/usr/bin/env bash
# Build a current Mosquitto broker into a project prefix: /opt/assetwatch/mosquitto-<version>.
#
# Debian 12 ships Mosquitto 2.0.11 (2021). Debian's own `mosquitto` source package of trixie and
# sid carries current releases (2.0.21 in trixie, 2.1.x in sid); this script builds the release of
# series MOSQUITTO_SERIES (default 2.1, preferring MOSQUITTO_VERSION, default 2.1.2, when the
# archive still has it) from that source with only build dependencies that Debian 12 packages
# (cmake, a C compiler, libssl-dev, libcjson-dev, libsqlite3-dev): the broker, its
# dynamic-security and persist-sqlite plugins and mosquitto_ctrl / mosquitto_passwd; no docs,
# websockets, tests or clients. About a minute on two cores.
#
# The apt state used to fetch the source is private (nothing in /etc/apt changes); the mirror
# is read from the machine's own apt sources, no host is hard-coded. The build is installed
# into a staging directory and moved into place only when complete, so a failed build never
# leaves a broker the stack would pick up. The last line on stderr says what went wrong.
set -euo pipefail

SERIES="${MOSQUITTO_SERIES:-2.1}"
PREFERRED="${MOSQUITTO_VERSION:-2.1.2}"
ROOT="${MOSQUITTO_PREFIX_ROOT:-/opt/assetwatch}"
WORK="${MOSQUITTO_BUILD_DIR:-${TMPDIR:-/tmp}/assetwatch-mosquitto}"

say() { echo "[mosquitto] $*" >&2; }
fail() { say "$*"; exit 3; }

for have in "$ROOT"/mosquitto-"$SERIES".*/sbin/mosquitto; do
    if [ -x "$have" ]; then
        say "already installed: $have"
        exit 0
    fi
done
command -v apt-get >/dev/null || fail "needs apt-get (Debian/Ubuntu); build Mosquitto $SERIES yourself and set ASSETWATCH_MOSQUITTO to its binary"
[ "$(id -u)" = 0 ] || fail "needs root to install build dependencies; run as root or set ASSETWATCH_MOSQUITTO=debian"

# shellcheck source=debian_source.sh
. "$(dirname "$0")/debian_source.sh"
debian_source_apt "$WORK" trixie sid 2>"$WORK.err" || fail "$(cat "$WORK.err")"
opts=("${APT_OPTS[@]}")

versions=$(apt-cache "${opts[@]}" showsrc mosquitto 2>/dev/null | awk '/^Version:/ {print $2}' | sort -uV)
chosen=$(echo "$versions" | awk -v want="$PREFERRED" -v series="$SERIES" \
    '{split($1, v, "-"); if (v[1] == want && index(want, series ".") == 1) print $1}' | tail -n 1)
if [ -z "$chosen" ]; then
    chosen=$(echo "$versions" | awk -v series="$SERIES" 'index($1, series ".") == 1' | tail -n 1)
fi
[ -n "$chosen" ] || fail "no mosquitto $SERIES source in Debian trixie/sid (found: $(echo $versions)); set ASSETWATCH_MOSQUITTO=debian"
upstream="${chosen%%-*}"
upstream="${upstream#*:}"
prefix="$ROOT/mosquitto-$upstream"
say "building mosquitto $chosen into $prefix"

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null 2>&1 || true
apt-get install -y -qq --no-install-recommends cmake gcc g++ make pkgconf libssl-dev libcjson-dev \
    libsqlite3-dev >/dev/null || fail "cannot install the build dependencies (cmake gcc make libssl-dev libcjson-dev libsqlite3-dev)"
(cd "$WORK/src" && apt-get "${opts[@]}" source --download-only "mosquitto=$chosen" >/dev/null 2>&1) \
    || fail "cannot download the mosquitto $chosen source"
tarball=$(ls "$WORK"/src/mosquitto_*.orig.tar.* | head -n 1)
mkdir -p "$WORK/src/mosquitto"
tar -xf "$tarball" -C "$WORK/src/mosquitto" --strip-components=1

build="$WORK/build"
mkdir -p "$build"
cmake -S "$WORK/src/mosquitto" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_INSTALL_PREFIX="$prefix" -DCMAKE_INSTALL_LIBDIR=lib \
    -DCMAKE_INSTALL_RPATH="$prefix/lib" \
    -DWITH_DOCS=OFF -DDOCUMENTATION=OFF -DWITH_TESTS=OFF -DWITH_WEBSOCKETS=OFF \
    -DWITH_HTTP_API=OFF -DWITH_CTRL_SHELL=OFF -DWITH_CLIENTS=OFF -DWITH_LIB_CPP=OFF \
    -DWITH_SRV=OFF -DWITH_PLUGIN_EXAMPLES=OFF -DWITH_PLUGIN_SPARKPLUG_AWARE=OFF \
    >"$WORK/cmake.log" 2>&1 || fail "cmake failed; see $WORK/cmake.log"
make -C "$build" -j"$(nproc)" >"$WORK/make.log" 2>&1 || fail "the build failed; see $WORK/make.log"

staging="$WORK/staging"
make -C "$build" install DESTDIR="$staging" >"$WORK/install.log" 2>&1 || fail "make install failed; see $WORK/install.log"
"$staging$prefix/sbin/mosquitto" -h 2>/dev/null | grep -q "mosquitto version $upstream" \
    || fail "the built broker does not run; see $WORK/make.log"
mkdir -p "$ROOT"
rm -rf "$prefix"
mv "$staging$prefix" "$prefix"
# The broker drops root privileges to the user "mosquitto" (Debian's package creates it).
if ! id mosquitto >/dev/null 2>&1; then
    useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin mosquitto
fi
say "installed $prefix/sbin/mosquitto"
