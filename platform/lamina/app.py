"""create_app: the composition root of lamina's HTTP processes (API, invoke, console)."""

from __future__ import annotations

from flask import Flask

from lamina.config import Settings
from lamina.wiring import Components, build_components


def create_app(settings: Settings | None = None, components: Components | None = None) -> Flask:
    settings = settings or (components.settings if components else Settings.from_env())
    components = components or build_components(settings)
    app = Flask(__name__)
    # Large enough for a 50 MB zip in base64 inside JSON; each route checks its own, smaller limit.
    app.config["MAX_CONTENT_LENGTH"] = settings.max_request_bytes
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions["lamina"] = components

    from lamina.api import register as register_api

    register_api(app)
    return app


def components_of(app: Flask) -> Components:
    return app.extensions["lamina"]
