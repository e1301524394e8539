"""Security fixtures: a second account with its own key, and boto3 clients for any credentials."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture
def other_credentials(components: Any) -> Any:
    from lamina.services.iam import iam

    return iam.ensure_account_user_key(components, "222222222222", "other-team", "bob")


@pytest.fixture
def boto_for(live_server: Any) -> Any:
    """boto3 lambda client pointed at the live server with the given key (and session token)."""
    import boto3
    from botocore.config import Config

    def make(key_id: str, secret: str, token: str | None = None) -> Any:
        return boto3.client(
            "lambda", endpoint_url=live_server.url, region_name="us-east-1",
            aws_access_key_id=key_id, aws_secret_access_key=secret, aws_session_token=token,
            config=Config(retries={"max_attempts": 1}),
        )

    return make
