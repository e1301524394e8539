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


def sigv4_headers(credentials: Any, method: str, url: str, body: bytes = b"", secret: str | None = None,
                  service: str = "lambda", token: str | None = None) -> dict[str, str]:
    """The headers botocore's own SigV4 signer adds to ``method url`` (with ``credentials``' key, or another
    ``secret`` to forge a wrong signature)."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    req = AWSRequest(method=method, url=url, data=body, headers={"Content-Type": "application/json"} if body else {})
    creds = Credentials(credentials.access_key_id, secret or credentials.secret_access_key, token)
    SigV4Auth(creds, service, "us-east-1").add_auth(req)
    return {k: v for k, v in req.prepare().headers.items() if k.lower() != "content-length"}
