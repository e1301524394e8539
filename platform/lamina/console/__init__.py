"""The web console: server-rendered pages over lamina's own REST API (``lamina.console.views``)."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask

Verify = Callable[[str], str]


def init_app(app: Flask, verify: Verify | None = None) -> None:
    """Mount the console at ``/console``.

    ``verify(token)`` returns the account id of a bearer token (``<key-id>:<secret>`` or a minted token)
    and raises a LambdaError for a bad one. Without it (no authentication installed) the console's
    log-in is a stub that accepts anything and acts in the configured account.
    """
    from lamina.console import views

    app.extensions["lamina.console.verify"] = verify
    app.register_blueprint(views.bp)
