"""The WSGI entry point: `gunicorn -c gunicorn.conf.py queueservice.wsgi:app`."""

from queueservice.engine.app import create_app

app = create_app()
