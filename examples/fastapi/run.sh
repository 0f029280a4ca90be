#!/bin/sh
# Starts the app: the handler script of the zip + layer install (AWS_LAMBDA_EXEC_WRAPPER=/opt/bootstrap)
# and the image's command. Dependencies are vendored into the package (pip install -t .).
export PYTHONPATH="${LAMBDA_TASK_ROOT:-.}:$PYTHONPATH"
exec python3 -m uvicorn app:app --host 127.0.0.1 --port "${AWS_LWA_PORT:-${PORT:-8080}}" --no-access-log
