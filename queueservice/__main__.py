"""`python -m queueservice`: run the service with gunicorn and the settings of gunicorn.conf.py."""

from __future__ import annotations

import sys

from gunicorn.app.base import BaseApplication

from .config import Settings
from .gunicorn_settings import options


class _Server(BaseApplication):
    def __init__(self, settings: Settings):
        self._settings = settings
        super().__init__()

    def load_config(self):
        for key, value in options(self._settings).items():
            self.cfg.set(key, value)

    def load(self):
        from .app import create_app

        return create_app(self._settings)


def main(argv=None) -> int:
    settings = Settings.from_env()
    print(f"queueservice: serving on http://{settings.host}:{settings.port} "
          f"({'embedded in-memory store' if settings.embedded else 'Redis'})", file=sys.stderr)
    _Server(settings).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
