#!/bin/sh
# Start Mosquitto with the users and ACL that the fleet-setup job wrote to the shared
# assetwatch volume: copy them where only the broker's own user can read them, then exec.
set -eu
src=/var/lib/assetwatch/mosquitto/auth
dst=/mosquitto/data/auth
for f in passwords acl; do
    if [ ! -s "$src/$f" ]; then
        echo "entrypoint: $src/$f is missing; the fleet-setup job must run first" >&2
        exit 1
    fi
done
mkdir -p "$dst"
cp "$src/passwords" "$src/acl" "$dst/"
chown -R mosquitto:mosquitto /mosquitto/data
chmod 0700 "$dst"
chmod 0600 "$dst/passwords" "$dst/acl"
exec /usr/sbin/mosquitto -c /assetwatch/mosquitto/mosquitto.conf
