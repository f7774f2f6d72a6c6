"""WSGI entry point: ``gunicorn wsgi:app``."""
import sys

from gisapp import create_app
from gisapp.errors import StartupError

try:
    app = create_app()
except StartupError as exc:
    print(f"error: {exc}", file=sys.stderr)
    sys.exit(2)
