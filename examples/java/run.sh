#!/bin/sh
# Handler script for the zip + layer install (AWS_LAMBDA_EXEC_WRAPPER=/opt/bootstrap) on a Java
# runtime, and the image's command: the package holds App.class next to this script.
# Tiered compilation at level 1 starts faster, which shortens a cold start.
exec java -XX:+TieredCompilation -XX:TieredStopAtLevel=1 -cp "$(dirname "$0")" App
