"""Role sessions: short-lived credentials for a function's code, with exactly its role's rights.

A session is a key id (``LSIA...``), a secret and a session token, kept in Redis (secret encrypted)
with a TTL; nothing is written to the database. ``revoke`` ends it early. Requests signed with a
session key must carry the matching ``X-Amz-Security-Token`` and may only do what the role's
statements allow (``lamina.api.auth``).
"""

from __future__ import annotations

import json
import secrets as pysecrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lamina.scheduler import keys
from lamina.services.iam import iam, secrets
from lamina.services.iam.iam import Principal


@dataclass(frozen=True)
class SessionCredentials:
    access_key_id: str
    secret_access_key: str
    session_token: str
    expiration: float

    def env(self) -> dict[str, str]:
        return {"AWS_ACCESS_KEY_ID": self.access_key_id, "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
                "AWS_SESSION_TOKEN": self.session_token}


def _key(deps: Any, key_id: str) -> str:
    return f"lamina:{deps.settings.instance}:sts:{key_id}"


def create(deps: Any, account_id: str, role: str, statements: list[dict[str, Any]], ttl_s: float,
           session_name: str = "lamina", env_id: str | None = None) -> SessionCredentials:
    """New credentials for ``role`` of ``account_id`` valid ``ttl_s`` seconds (or until revoked);
    with ``env_id``, only while that execution environment is busy."""
    key_id = iam.new_key_id("LSIA")
    secret = iam.new_secret()
    token = pysecrets.token_urlsafe(48)
    ttl = max(1, int(ttl_s + 0.999))
    doc = {"account_id": account_id, "role": role, "statements": statements, "name": session_name,
           "secret": secrets.encrypt(deps.settings, secret), "token": token, "env_id": env_id}
    deps.redis.set(_key(deps, key_id), json.dumps(doc), ex=ttl)
    return SessionCredentials(key_id, secret, token, time.time() + ttl)


def for_role_arn(deps: Any, account_id: str, role_arn: str, ttl_s: float,
                 session_name: str = "lamina") -> SessionCredentials | None:
    """Credentials for the execution role named by ``role_arn``, or None when no such role exists."""
    name = iam.role_name_of(role_arn, account_id)
    statements = iam.get_role_statements(deps, account_id, name) if name else None
    if name is None or statements is None:
        return None
    return create(deps, account_id, name, statements, ttl_s, session_name)


def lookup(deps: Any, key_id: str, remote_addr: str | None = None) -> tuple[Principal, str] | None:
    """(principal, secret) of a live session key; None when unknown, expired, or (for an environment's
    credentials) not usable now: its environment is idle, or ``remote_addr`` is not its address."""
    raw = deps.redis.get(_key(deps, key_id))
    if raw is None:
        return None
    doc = json.loads(raw)
    env_id = doc.get("env_id")
    if env_id:
        state, address = deps.redis.hmget(keys.env(env_id), "state", "address")
        if state != b"busy":
            return None  # the environment is between invocations (or gone): its credentials are not valid now
        if deps.settings.bind_role_credentials and remote_addr is not None and address != remote_addr.encode():
            return None  # copied out of the environment: valid only from the environment's own address
    principal = Principal(doc["account_id"], doc["name"], key_id, role=doc["role"],
                          statements=tuple(doc["statements"]), extra={"token": doc["token"]})
    return principal, secrets.decrypt(deps.settings, doc["secret"])


def revoke(deps: Any, key_id: str) -> None:
    deps.redis.delete(_key(deps, key_id))


def environment(deps: Any, spec: Mapping[str, Any], env_id: str) -> dict[str, str]:
    """Container environment variables giving a function's code its execution role, or {} without one.

    The credentials are bound to the execution environment ``env_id``: they are accepted only while the
    scheduler has it ``busy`` (running an invocation), so they expire with each invocation and come
    back with the next one, although the container received them once, at start. They are deleted
    from Redis at the latest when an environment could no longer exist (idle timeout + longest run).
    """
    role_arn = str(spec.get("role") or "")
    account_id = str(spec.get("account_id") or "")
    name = iam.role_name_of(role_arn, account_id)
    statements = iam.get_role_statements(deps, account_id, name) if name else None
    if name is None or statements is None:
        return {}
    s = deps.settings
    ttl = s.idle_timeout_s + s.freeze_after_s + 900 + 60
    creds = create(deps, account_id, name, statements, ttl, session_name=str(spec.get("function_name") or "lamina"),
                   env_id=env_id)
    return {**creds.env(), **service_endpoints(s.public_url or s.base_url)}


# The AWS services lamina serves, by the SDKs' service-specific endpoint variables (AWS_ENDPOINT_URL_<ID>).
SERVED_SERVICE_IDS = ("LAMBDA", "SQS", "KINESIS", "CLOUDWATCH_LOGS")


def service_endpoints(url: str) -> dict[str, str]:
    """The variables that point the AWS SDKs' clients of every service lamina serves at ``url``."""
    return {f"AWS_ENDPOINT_URL_{service}": url for service in SERVED_SERVICE_IDS}
