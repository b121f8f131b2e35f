"""WSGI entry point for the sandbox (gunicorn canvas_sandbox.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "canvas_sandbox.settings")

application = get_wsgi_application()
