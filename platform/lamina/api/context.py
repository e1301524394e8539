"""Per-request access for the control-plane handlers: the components, the caller's account, the body."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, g, request

from lamina.api import shapes
from lamina.services.common import Deps


def deps() -> Deps:
    return current_app.extensions["lamina"]


def account_id() -> str:
    # Set by lamina.api.auth: the caller's account, or the owner's when its resource policy grants it.
    return g.account_id


def body() -> dict[str, Any]:
    return shapes.parse_json(request.get_data(cache=False))


def base_url() -> str:
    """Where this caller reaches lamina (used for code download locations)."""
    return deps().settings.public_url or request.host_url.rstrip("/")


def qualifier() -> str | None:
    return request.args.get("Qualifier") or None


def blueprint(name: str) -> Blueprint:
    """A Lambda API blueprint: its path labels and query values are checked (``check_request``) first."""
    bp = Blueprint(name, f"lamina.api.{name}")
    bp.before_request(check_request)
    return bp


def check_request() -> None:
    """Refuse NUL characters in path labels and query values before any handler runs."""
    shapes.check_no_nul((request.view_args or {}).items())
    shapes.check_no_nul(request.args.items(multi=True))
