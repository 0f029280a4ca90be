#!/bin/sh
# Handler script for the zip + layer install (AWS_LAMBDA_EXEC_WRAPPER=/opt/bootstrap).
# Dependencies are vendored into the package (pip install -t .), so PYTHONPATH is the package.
export PYTHONPATH="$LAMBDA_TASK_ROOT:$PYTHONPATH"
exec python3 -m gunicorn --bind 127.0.0.1:8080 --workers 1 --threads 8 app:app
