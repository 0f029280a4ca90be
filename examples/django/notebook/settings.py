"""Settings of the notebook project: a Django app on Lambda behind lambda-adapter (SPEC PKG-5).

Everything that differs between a laptop and Lambda comes from the environment. There is no
database: the notes live in memory, so the example needs no migrations (on Lambda, use RDS or
DynamoDB for anything that must outlive the execution environment).
"""

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent

# Set DJANGO_SECRET_KEY on the function; the fallback is for running it locally only.
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "local-only-not-a-secret")
DEBUG = os.environ.get("DJANGO_DEBUG", "false").lower() == "true"
# On Lambda the Host header is the Function URL's or API Gateway's domain: list it in
# DJANGO_ALLOWED_HOSTS (comma-separated) once you know it.
ALLOWED_HOSTS = os.environ.get("DJANGO_ALLOWED_HOSTS", "*").split(",")
# Origins allowed to POST forms besides the host itself, e.g. https://example.com
CSRF_TRUSTED_ORIGINS = [o for o in os.environ.get("DJANGO_CSRF_TRUSTED_ORIGINS", "").split(",") if o]
# API Gateway, Function URLs and ALB end TLS and say so in X-Forwarded-Proto, which lambda-adapter
# passes on: without this Django would take https requests for http ones, and refuse every form POST
# whose Origin (https://...) does not match.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

INSTALLED_APPS = ["django.contrib.staticfiles", "notes"]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
ROOT_URLCONF = "notebook.urls"
WSGI_APPLICATION = "notebook.wsgi.application"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {"context_processors": ["django.template.context_processors.request"]},
    }
]
DATABASES = {}
USE_TZ = True
STATIC_URL = "static/"
LOGGING = {
    "version": 1,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}
