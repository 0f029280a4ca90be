#!/bin/sh
# Handler script for the zip + layer install (AWS_LAMBDA_EXEC_WRAPPER=/opt/bootstrap).
exec ./axum-example
