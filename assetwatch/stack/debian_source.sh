# Sourced by the install scripts: fetch a source package from a newer Debian release.
#
# debian_source_apt WORK SUITES... prepares a private apt state under WORK (nothing in /etc/apt
# changes) with deb-src entries for SUITES on the machine's own mirror (read from its apt
# sources; no host is hard-coded), updates its index and sets the array APT_OPTS for
# `apt-get "${APT_OPTS[@]}" ...`. Returns non-zero with a message on stderr on failure.

debian_mirror() {
    local f mirror=""
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        mirror=$(awk '/^URIs:/ {print $2; exit}' "$f")
        [ -n "$mirror" ] && break
    done
    if [ -z "$mirror" ] && [ -f /etc/apt/sources.list ]; then
        mirror=$(awk '$1=="deb" {for (i=2;i<=NF;i++) if ($i ~ /^https?:/) {print $i; exit}}' /etc/apt/sources.list)
    fi
    [ -n "$mirror" ] || { echo "cannot find the Debian mirror in the apt sources" >&2; return 1; }
    echo "$mirror"
}

debian_source_apt() {
    local work="$1"; shift
    local mirror
    mirror=$(debian_mirror) || return 1
    rm -rf "$work" && mkdir -p "$work/lists/partial" "$work/sources" "$work/src"
    cat > "$work/sources/newer-src.sources" <<SRC
Types: deb-src
URIs: ${mirror}
Suites: $*
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
    APT_OPTS=(-o "Dir::State::Lists=$work/lists" -o Dir::Etc::SourceList=/dev/null
              -o "Dir::Etc::SourceParts=$work/sources")
    apt-get "${APT_OPTS[@]}" update -qq >/dev/null 2>&1 \
        || { echo "apt-get update of the $* source index failed (mirror $mirror)" >&2; return 1; }
}
