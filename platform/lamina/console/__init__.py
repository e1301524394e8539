"""The web console: server-rendered pages over lamina's own REST API (``lamina.console.views``)."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask, request
from werkzeug.wrappers import Response

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
    # First of the app's before-request functions: a browser at the root is sent to the console before the
    # API's authentication would refuse it a token it cannot have.
    app.before_request_funcs.setdefault(None, []).insert(0, _browser_at_root)


def _browser_at_root() -> Response | None:
    """``GET /`` from a browser (it asks for HTML first; no query, so no SQS query-protocol call) goes to the
    console; the AWS SDKs and everything else are answered by the API as before."""
    if request.method != "GET" or request.path != "/" or request.args:
        return None
    # Named outright: curl's and the SDKs' */* (or no Accept at all) is not a browser.
    if not any(mime == "text/html" and quality > 0 for mime, quality in request.accept_mimetypes):
        return None
    from flask import redirect

    return redirect("/console/", code=302)
