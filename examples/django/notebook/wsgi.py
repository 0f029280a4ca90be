"""The WSGI entry point that gunicorn serves (notebook.wsgi:application)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "notebook.settings")
application = get_wsgi_application()
