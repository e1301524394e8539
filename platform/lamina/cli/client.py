"""A small HTTP client for lamina's REST API (the Lambda API paths), used by the CLI commands."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

import click


class ApiError(click.ClickException):
    """An error answered by the API, shown as `ErrorType: message`."""

    def __init__(self, status: int, error_type: str, message: str) -> None:
        super().__init__(f"{error_type}: {message} (HTTP {status})")
        self.status = status
        self.error_type = error_type


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body) if self.body else {}


class LaminaClient:
    def __init__(self, endpoint: str, token: str | None = None, timeout: float = 910.0) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.token = token
        self.timeout = timeout

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        query: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        raw: bytes | None = None,
    ) -> Response:
        url = self.endpoint + path
        if query:
            url += "?" + urllib.parse.urlencode({k: v for k, v in query.items() if v is not None}, doseq=True)
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        req = urllib.request.Request(url, data=data, method=method)
        if body is not None:
            req.add_header("Content-Type", "application/json")
        if self.token:
            req.add_header("Authorization", f"Bearer {self.token}")
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return Response(resp.status, dict(resp.headers.items()), resp.read())
        except urllib.error.HTTPError as err:
            payload = err.read()
            try:
                doc = json.loads(payload)
                message = doc.get("Message") or doc.get("message") or payload.decode()
            except ValueError:
                message = payload.decode(errors="replace")
            raise ApiError(err.code, err.headers.get("X-Amzn-ErrorType", "Error"), message) from None
        except urllib.error.URLError as err:
            raise click.ClickException(f"cannot reach lamina at {self.endpoint}: {err.reason}") from None

    def json(self, method: str, path: str, body: Any = None, query: dict[str, Any] | None = None) -> Any:
        return self.request(method, path, body=body, query=query).json()


def quote(segment: str) -> str:
    """Percent-encode one path segment as botocore does (only -._~ stay bare)."""
    return urllib.parse.quote(segment, safe="-._~")
