#!/bin/sh
# Handler script for the zip + layer install (AWS_LAMBDA_EXEC_WRAPPER=/opt/bootstrap): the package
# holds the static binary `app` next to this script.
exec "$(dirname "$0")/app"
