#!/bin/sh
# Starts nginx in the foreground for the static site in site/, on AWS_LWA_PORT (else PORT, else
# 8080): the image's command. The config is written at start, since only then is the port known.
set -eu
here="$(cd "$(dirname "$0")" && pwd)"
port="${AWS_LWA_PORT:-${PORT:-8080}}"
tmp="$(mktemp -d "${TMPDIR:-/tmp}/nginx-example.XXXXXX")"
# Readable by nginx's workers, which run as another user when nginx is started as root.
chmod 755 "$tmp"
mime_types=/etc/nginx/mime.types
sed -e "s|__PORT__|$port|g" -e "s|__ROOT__|$here/site|g" -e "s|__TMP__|$tmp|g" \
    -e "s|__MIME_TYPES__|$mime_types|g" "$here/nginx.conf" > "$tmp/nginx.conf"
# -e: the error log before the config is read (nginx would open /var/log/nginx/error.log).
exec nginx -e stderr -p "$tmp" -c "$tmp/nginx.conf"
