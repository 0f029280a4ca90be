#!/bin/sh
# Starts the standalone Next.js server (built by `npm run build`, then copied as the README shows): the
# handler script of the zip + layer install (AWS_LAMBDA_EXEC_WRAPPER=/opt/bootstrap) and the image's
# command. The server reads PORT and HOSTNAME.
cd "$(dirname "$0")" || exit 1
export PORT="${AWS_LWA_PORT:-${PORT:-8080}}" HOSTNAME=127.0.0.1 NEXT_TELEMETRY_DISABLED=1
exec node server.js
