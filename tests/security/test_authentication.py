"""Authentication: SigV4 (boto3, raw signing), bearer keys and minted tokens; failures in Lambda's shape."""

from __future__ import annotations

import datetime as dt
import json
import urllib.error
import urllib.request
from typing import Any
from unittest import mock

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from lamina.api import auth
from lamina.services.iam import tokens
from support.auth import client_for
from support.lambda_api import ROLE, assert_error, create_body, make_zip

FUNCTIONS = "/2015-03-31/functions"


def _code(err: pytest.ExceptionInfo[ClientError]) -> str:
    return err.value.response["Error"]["Code"]


def test_boto3_with_a_valid_key_works(lambda_client: Any) -> None:
    lambda_client.create_function(FunctionName="signed", Role=ROLE, Runtime="python3.11", Handler="app.handler",
                                  Code={"ZipFile": make_zip()})
    names = [f["FunctionName"] for f in lambda_client.list_functions()["Functions"]]
    assert names == ["signed"]
    assert lambda_client.get_function(FunctionName="signed")["Configuration"]["FunctionArn"].split(":")[4] \
        == "000000000000"


def test_wrong_secret_is_an_invalid_signature(boto_for: Any, credentials: Any) -> None:
    client = boto_for(credentials.access_key_id, credentials.secret_access_key + "x")
    with pytest.raises(ClientError) as err:
        client.list_functions()
    assert _code(err) == "InvalidSignatureException"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_unknown_key_is_an_unrecognized_client(boto_for: Any) -> None:
    with pytest.raises(ClientError) as err:
        boto_for("LKIAAAAAAAAAAAAAAAAA", "nope").list_functions()
    assert _code(err) == "UnrecognizedClientException"


def test_no_credentials_and_health_stays_open(app: Any) -> None:
    anon = client_for(app, None)
    assert_error(anon.get(FUNCTIONS), 403, "UnrecognizedClientException", "Missing Authentication Token")
    assert anon.get("/health").status_code == 200
    assert_error(anon.get(FUNCTIONS, headers={"Authorization": "AWS4-HMAC-SHA256 garbage"}), 403,
                 "InvalidSignatureException")
    assert_error(anon.get(FUNCTIONS, headers={"Authorization": "Bearer LKIAAAAAAAAAAAAAAAAA:x"}), 403,
                 "UnrecognizedClientException")


def _signed(url: str, credentials: Any, when: dt.datetime | None = None, body: bytes | None = None,
            method: str = "GET", service: str = "lambda") -> urllib.request.Request:
    req = AWSRequest(method=method, url=url, data=body,
                     headers={"Content-Type": "application/json"} if body else {})
    signer = SigV4Auth(Credentials(credentials.access_key_id, credentials.secret_access_key), service, "us-east-1")
    if when is None:
        signer.add_auth(req)
    else:
        with mock.patch("botocore.auth.get_current_datetime", return_value=when):
            signer.add_auth(req)
    prepared = req.prepare()
    return urllib.request.Request(url, data=body, method=method, headers=dict(prepared.headers))


def _status(req: urllib.request.Request) -> tuple[int, dict[str, Any], str]:
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read() or b"{}"), ""
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"{}"), err.headers.get("X-Amzn-ErrorType", "")


def test_signature_date_skew_over_five_minutes_is_refused(live_server: Any, credentials: Any) -> None:
    url = live_server.url + FUNCTIONS
    old = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(minutes=6)
    status, body, kind = _status(_signed(url, credentials, when=old))
    assert (status, kind) == (403, "InvalidSignatureException")
    assert "Signature expired" in body["Message"]
    recent = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(minutes=4)
    assert _status(_signed(url, credentials, when=recent))[0] == 200


def test_a_replayed_signature_is_refused(live_server: Any, credentials: Any, monkeypatch: Any) -> None:
    monkeypatch.setattr(auth, "REPLAY_GRACE_S", 0.0)
    req = _signed(live_server.url + FUNCTIONS + "?MaxItems=5", credentials)
    assert _status(req)[0] == 200
    status, body, kind = _status(req)
    assert (status, kind) == (403, "InvalidSignatureException")
    assert "already been used" in body["Message"]


def test_signed_body_and_query_must_match(live_server: Any, credentials: Any) -> None:
    body = json.dumps(create_body("tampered")).encode()
    req = _signed(live_server.url + FUNCTIONS, credentials, body=body, method="POST")
    req.data = body.replace(b"tampered", b"tampere2")
    assert _status(req)[:3:2] == (403, "InvalidSignatureException")
    req = _signed(live_server.url + FUNCTIONS + "?MaxItems=5", credentials)
    req.full_url = live_server.url + FUNCTIONS + "?MaxItems=6"
    assert _status(req)[:3:2] == (403, "InvalidSignatureException")
    wrong_service = _signed(live_server.url + FUNCTIONS, credentials, service="s3")
    assert _status(wrong_service)[:3:2] == (403, "InvalidSignatureException")


def test_quoted_arn_paths_verify(lambda_client: Any, credentials: Any) -> None:
    # ARNs travel percent-encoded (%3A) and are encoded again in the canonical URI.
    arn = "arn:aws:lambda:us-east-1:000000000000:function:nothere"
    with pytest.raises(ClientError) as err:
        lambda_client.get_function(FunctionName=arn, Qualifier="$LATEST")
    assert _code(err) == "ResourceNotFoundException"


def test_bearer_key_and_minted_tokens(app: Any, credentials: Any) -> None:
    anon = client_for(app, None)
    key = f"{credentials.access_key_id}:{credentials.secret_access_key}"
    assert anon.get(FUNCTIONS, headers={"Authorization": f"Bearer {key}"}).status_code == 200
    assert_error(anon.get(FUNCTIONS, headers={"Authorization": f"Bearer {key}x"}), 403, "UnrecognizedClientException")
    token = tokens.mint(credentials.access_key_id, credentials.secret_access_key, ttl_s=60)
    assert anon.get(FUNCTIONS, headers={"Authorization": f"Bearer {token}"}).status_code == 200
    expired = tokens.mint(credentials.access_key_id, credentials.secret_access_key, ttl_s=60, now=0)
    assert_error(anon.get(FUNCTIONS, headers={"Authorization": f"Bearer {expired}"}), 403,
                 "UnrecognizedClientException")
    forged = token[:-4] + ("0000" if not token.endswith("0000") else "1111")
    assert_error(anon.get(FUNCTIONS, headers={"Authorization": f"Bearer {forged}"}), 403,
                 "UnrecognizedClientException")


def test_secrets_are_encrypted_at_rest(components: Any, credentials: Any) -> None:
    import sqlalchemy as sa

    with components.engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT secret_enc FROM access_keys WHERE key_id = :k"),
                              {"k": credentials.access_key_id}).scalar_one()
    assert credentials.secret_access_key not in stored and stored.startswith("fernet:")


def test_api_rate_limit_answers_too_many_requests(components: Any, credentials: Any) -> None:
    from lamina.app import create_app
    from lamina.wiring import Components

    limited = Components(settings=components.settings.with_(api_rate_per_s=3), engine=components.engine,
                         sessions=components.sessions, redis=components.redis, code_store=components.code_store)
    client = client_for(create_app(components=limited), credentials)
    codes = [client.get(FUNCTIONS).status_code for _ in range(8)]
    assert 429 in codes and codes[0] == 200
    resp = client.get(FUNCTIONS)
    if resp.status_code == 429:
        body = assert_error(resp, 429, "TooManyRequestsException")
        assert body["Reason"] == "CallerRateLimitExceeded" and resp.headers["Retry-After"]
