"""gunicorn configuration: `gunicorn -c gunicorn.conf.py queueservice.wsgi:app`."""

from queueservice.gunicorn_settings import options

globals().update(options())
