#!/bin/sh
# Start Mosquitto with the users and access rules that the fleet-setup job wrote to the shared
# assetwatch volume (a dynamic-security file): copy it where only the broker's own user can
# read it (the plugin rewrites it there when its API changes something), then exec.
set -eu
src=/var/lib/assetwatch/mosquitto/auth/dynamic-security.json
dst=/mosquitto/data/auth
if [ ! -s "$src" ]; then
    echo "entrypoint: $src is missing; the fleet-setup job must run first" >&2
    exit 1
fi
mkdir -p "$dst"
cp "$src" "$dst/dynamic-security.json"
chown -R mosquitto:mosquitto /mosquitto/data
chmod 0700 "$dst"
chmod 0600 "$dst/dynamic-security.json"
exec /usr/sbin/mosquitto -c /assetwatch/mosquitto/mosquitto.conf
