"""create_app: the composition root of lamina's HTTP processes (API, invoke, console)."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask

from lamina.config import Settings
from lamina.wiring import Components, build_components


def create_app(settings: Settings | None = None, components: Components | None = None) -> Flask:
    settings = settings or (components.settings if components else Settings.from_env())
    components = components or build_components(settings)
    app = Flask(__name__)
    # Large enough for a 50 MB zip in base64 inside JSON; each route checks its own, smaller limit.
    app.config["MAX_CONTENT_LENGTH"] = settings.max_request_bytes
    # Lambda's member order; Flask types app.json as the JSONProvider base, which has no sort_keys.
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions["lamina"] = components

    from lamina.api import register as register_api

    register_api(app)
    from lamina.console import init_app as init_console

    init_console(app, verify=_console_verify(components))
    return app


def _console_verify(components: Components) -> Callable[[str], str] | None:
    """The console logs in with the API's bearer tokens once authentication (lamina.api.auth) is installed."""
    try:
        from lamina.api import auth
    except ImportError:
        return None  # the console's log-in is then a stub (it says so)
    auth.exempt_blueprint("console")  # the console checks its own session cookie
    return lambda token: auth.principal_from_bearer(components, token).account_id


def components_of(app: Flask) -> Components:
    return app.extensions["lamina"]
