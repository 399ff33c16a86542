"""WSGI entry point: `gunicorn mars_labs.wsgi`."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mars_labs.settings")

application = get_wsgi_application()
