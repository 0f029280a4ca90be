#!/bin/sh
# Starts the app under gunicorn on AWS_LWA_PORT (else PORT, else 8080): the handler script of the
# zip + layer install (AWS_LAMBDA_EXEC_WRAPPER=/opt/bootstrap) and the image's command. Dependencies
# are vendored into the package (pip install -t .), so PYTHONPATH is the package.
export PYTHONPATH="${LAMBDA_TASK_ROOT:-.}:$PYTHONPATH"
exec python3 -m gunicorn --bind "127.0.0.1:${AWS_LWA_PORT:-${PORT:-8080}}" --workers 1 --threads 8 app:app
