"""Liveness: the one route that needs no authentication."""

from __future__ import annotations

from flask import Blueprint, jsonify

from lamina import __version__

bp = Blueprint("health", __name__)


@bp.get("/health")
def health():  # type: ignore[no-untyped-def]
    return jsonify({"status": "ok", "version": __version__})
