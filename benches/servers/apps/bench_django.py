"""The bench's small app as a one-module Django project, served by `manage.py runserver` (bench
scenario (h); SPEC ERR-5: runserver writes a response's head and body in two writes with Nagle's
algorithm on).

`GET /small` answers the ~100 bytes of JSON in $BENCH_SMALL_JSON, `POST /echo` the request body back.
Run with DJANGO_SETTINGS_MODULE=bench_django: `python -m django runserver 127.0.0.1:PORT --noreload`.
"""

import os

from django.http import HttpResponse, HttpResponseNotAllowed
from django.urls import path

with open(os.environ["BENCH_SMALL_JSON"], "rb") as small_file:
    SMALL = small_file.read()

DEBUG = False
SECRET_KEY = "bench-only-not-a-secret"
ALLOWED_HOSTS = ["*"]
ROOT_URLCONF = __name__
# The app's own two views and CommonMiddleware, which sets Content-Length (without it runserver
# closes every connection); no sessions, no CSRF (the echo is a plain POST).
INSTALLED_APPS = []
MIDDLEWARE = ["django.middleware.common.CommonMiddleware"]
DATABASES = {}
USE_TZ = True


def small(request):
    if request.method != "GET":
        return HttpResponseNotAllowed(["GET"])
    return HttpResponse(SMALL, content_type="application/json")


def echo(request):
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    return HttpResponse(request.body, content_type="text/plain")


urlpatterns = [path("small", small), path("echo", echo)]
