"""Authenticated test clients: Flask test clients that send a real access key as a bearer token."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient


def bearer(credentials: Any) -> str:
    return f"Bearer {credentials.access_key_id}:{credentials.secret_access_key}"


def authenticated_client_class(credentials: Any) -> type[FlaskClient]:
    """A FlaskClient subclass whose requests carry ``credentials`` unless a test sets Authorization."""

    class AuthenticatedClient(FlaskClient):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.environ_base["HTTP_AUTHORIZATION"] = bearer(credentials)

    return AuthenticatedClient


def client_for(app: Any, credentials: Any | None) -> FlaskClient:
    """A test client of ``app`` authenticated as ``credentials`` (None: no Authorization at all)."""
    client = app.test_client()
    if credentials is None:
        client.environ_base.pop("HTTP_AUTHORIZATION", None)
    else:
        client.environ_base["HTTP_AUTHORIZATION"] = bearer(credentials)
    return client
