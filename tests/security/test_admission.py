"""Admission (replay, revocation, per-account rate) on the invoke path, where the checks ride in the pool's
acquire script instead of their own Redis round trip (lamina.scheduler.admission)."""

from __future__ import annotations

from typing import Any

from lamina.api import auth
from lamina.services.iam import iam
from support.auth import client_for
from support.lambda_api import assert_error
from test_authentication import _signed, _status

INVOKE = "/2015-03-31/functions/{}/invocations"


def test_a_deleted_key_is_refused_at_once_on_invoke_and_elsewhere(app: Any, components: Any) -> None:
    key = iam.create_key(components, components.settings.account_id, "tester")
    client = client_for(app, key)
    assert client.get("/2015-03-31/functions").status_code == 200  # the key is now cached in this process
    assert_error(client.post(INVOKE.format("missing"), data=b"{}"), 404, "ResourceNotFoundException")
    iam.delete_key(components, key.access_key_id)
    assert_error(client.get("/2015-03-31/functions"), 403, "UnrecognizedClientException")
    assert_error(client.post(INVOKE.format("missing"), data=b"{}"), 403, "UnrecognizedClientException")
    # A refused caller learns nothing about its request: not a 400 for a bad InvocationType, nor a 413.
    bad = client.post(INVOKE.format("missing"), data=b"{}", headers={"X-Amz-Invocation-Type": "Nope"})
    assert_error(bad, 403, "UnrecognizedClientException")
    event = client.post(INVOKE.format("missing"), data=b"{}", headers={"X-Amz-Invocation-Type": "Event"})
    assert_error(event, 403, "UnrecognizedClientException")
    huge = client.post(INVOKE.format("missing"), data=b"0" * (6 * 1024 * 1024 + 1))
    assert_error(huge, 403, "UnrecognizedClientException")


def test_invokes_count_against_the_account_rate_limit(components: Any, credentials: Any) -> None:
    from lamina.app import create_app
    from lamina.wiring import Components

    limited = Components(settings=components.settings.with_(api_rate_per_s=3), engine=components.engine,
                         sessions=components.sessions, redis=components.redis, code_store=components.code_store)
    client = client_for(create_app(components=limited), credentials)
    answers = [client.post(INVOKE.format("missing"), data=b"{}") for _ in range(8)]
    codes = [r.status_code for r in answers]
    assert codes[0] == 404 and 429 in codes, codes
    throttled = next(r for r in answers if r.status_code == 429)
    body = assert_error(throttled, 429, "TooManyRequestsException")
    assert body["Reason"] == "CallerRateLimitExceeded" and throttled.headers["Retry-After"]


def test_a_replayed_invoke_signature_is_refused(live_server: Any, credentials: Any, monkeypatch: Any) -> None:
    monkeypatch.setattr(auth, "REPLAY_GRACE_S", 0.0)
    req = _signed(live_server.url + INVOKE.format("missing"), credentials, body=b"{}", method="POST")
    status, _, kind = _status(req)
    assert (status, kind) == (404, "ResourceNotFoundException")
    status, body, kind = _status(req)
    assert (status, kind) == (403, "InvalidSignatureException")
    assert "already been used" in body["Message"]


def test_an_account_api_rate_quota_limits_that_account_only(app: Any, components: Any, credentials: Any) -> None:
    from lamina.services.functions import concurrency

    other_account = iam.create_account(components, "other-team")
    iam.create_user(components, other_account, "bob")
    other = client_for(app, iam.create_key(components, other_account, "bob"))
    concurrency.set_quotas(components, credentials.account_id, None, 2)  # lamina admin set-quotas --api-rate 2
    components.extras.pop("iam.key_cache", None)  # what every process does within iam.KEY_CACHE_TTL_S
    mine = client_for(app, credentials)
    codes = [mine.get("/2015-03-31/functions").status_code for _ in range(6)]
    assert codes[0] == 200 and 429 in codes, codes
    assert [other.get("/2015-03-31/functions").status_code for _ in range(6)] == [200] * 6
    # Invokes count too (their check runs inside the pool's script). A loaded machine may let the
    # one-second window pass between two calls: a burst of them meets the limit within one window.
    invoker = client_for(app, credentials)
    burst = [invoker.post(INVOKE.format("missing"), data=b"{}") for _ in range(6)]
    assert_error(next(r for r in burst if r.status_code != 404), 429, "TooManyRequestsException")
