"""ASGI entry point, for servers that prefer it; MARS Labs itself is plain WSGI."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mars_labs.settings")

application = get_asgi_application()
