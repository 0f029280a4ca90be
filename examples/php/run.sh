#!/bin/sh
# Starts PHP's built-in web server with public/index.php as the router, on AWS_LWA_PORT (else PORT,
# else 8080): the image's command. PHP_CLI_SERVER_WORKERS lets it serve requests side by side.
cd "$(dirname "$0")" || exit 1
export PHP_CLI_SERVER_WORKERS="${PHP_CLI_SERVER_WORKERS:-4}"
# A fresh guestbook for each start of the server.
GUESTBOOK_FILE="$(mktemp "${TMPDIR:-/tmp}/guestbook.XXXXXX")" || exit 1
export GUESTBOOK_FILE
exec php -d upload_max_filesize=5M -d post_max_size=6M \
    -S "127.0.0.1:${AWS_LWA_PORT:-${PORT:-8080}}" -t public public/index.php
