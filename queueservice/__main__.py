"""`python -m queueservice`: run the service (the default), or talk to a running one.

With no command it serves with gunicorn and the settings of gunicorn.conf.py. The other
commands are the operator tools' (queueservice/operator/cli.py).
"""

from __future__ import annotations

import sys

import click

from queueservice.config import Settings


def _server_class():
    """gunicorn is imported only once the settings are checked: it reads WEB_CONCURRENCY on import."""
    from gunicorn.app.base import BaseApplication

    from queueservice.gunicorn_settings import options

    class _Server(BaseApplication):
        def __init__(self, settings: Settings):
            self._settings = settings
            super().__init__()

        def load_config(self):
            for key, value in options(self._settings).items():
                self.cfg.set(key, value)
            self.cfg.set("when_ready", self._announce)

        def _announce(self, server):
            """Said once every check has passed and the socket is bound, never before a failure."""
            from queueservice.redis_helpers.embedded import store_label

            settings = Settings.from_env()  # now with the embedded store's address, if any
            click.echo(f"queueservice: serving on http://{settings.bind} ({store_label(settings)})", err=True)

        def load(self):
            from queueservice.engine.app import create_app

            return create_app(Settings.from_env())  # the master's on_starting may have started the store

    return _Server


def serve() -> None:
    settings = Settings.from_env()
    _server_class()(settings).run()


@click.group(invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.pass_context
def main(ctx):
    """Serve Google's task queue APIs locally (no command), or steer a running service."""
    if ctx.invoked_subcommand is None:
        serve()


@main.command("serve")
def serve_cmd():
    """Run the service on HOST:PORT (the default command)."""
    serve()


@main.command("worker")
def worker_cmd():
    """Run the background services without serving HTTP (to scale them apart); stops on SIGTERM."""
    import signal
    import threading

    from queueservice.engine.discovery import DocumentError
    from queueservice.errors import StartupError
    from queueservice.engine.app import create_app

    settings = Settings.from_env()
    if settings.embedded:
        raise click.ClickException("the worker needs REDIS_URL: the embedded store lives in the serving process")
    try:
        services = create_app(settings).extensions["queueservice"].services
    except (StartupError, DocumentError) as exc:
        raise SystemExit(f"queueservice: {exc}") from None
    stopping = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stopping.set())
    services.start()
    click.echo(f"queueservice: running background services ({', '.join(services.names())}); "
               "stop with SIGTERM", err=True)
    stopping.wait()
    services.stop()


def _add_operator_commands(group) -> None:
    from queueservice.operator.cli import commands

    for command in commands:
        group.add_command(command)


_add_operator_commands(main)

if __name__ == "__main__":
    sys.exit(main())
