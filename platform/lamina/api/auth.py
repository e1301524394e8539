"""Authentication and authorization of every API request but /health (issue 5).

Two ways to prove who you are:

* AWS Signature Version 4, what boto3 and the aws CLI send, scoped to the service the request speaks:
  ``lambda`` for Lambda's REST API, ``sqs`` / ``kinesis`` / ``logs`` for the JSON protocols at ``POST /``
  (``lamina.api.aws_json``), so a signature made for one service is refused by the others. The canonical request
  is rebuilt from the *raw* request (WSGI ``RAW_URI``/``REQUEST_URI``, the raw query string, the signed
  headers, a SHA-256 of the body) exactly as botocore's ``SigV4Auth`` builds it, and the signatures
  are compared with ``hmac.compare_digest``. The date must be within ``signature_skew_s`` (5 min) of
  ours, and a signature is remembered in Redis for twice that window: seen again more than
  ``REPLAY_GRACE_S`` after its first use, it is a replay and refused (``lamina.scheduler.admission``).
* ``Authorization: Bearer <key-id>:<secret>`` or a token minted from a key
  (``lamina.services.iam.tokens``), for curl, the CLI and the console.

The principal lands in ``g.principal`` and its account in ``g.account_id``. A FunctionName that is an
ARN of another account switches ``g.account_id`` to that account only when the function's resource
policy grants the caller's account the operation (``lamina.services.iam.policies``); otherwise the request
goes on in the caller's account and answers exactly as for a function that does not exist. A role
session (credentials handed to a function's code) may only do what its role's statements allow.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import time
import urllib.parse
from datetime import UTC, datetime
from typing import Any

from flask import Flask, Request, current_app, g, has_request_context, request

from lamina.api import aws_json, sqs_query
from lamina.errors import (
    AccessDeniedException,
    InvalidSignatureException,
    UnrecognizedClientException,
)
from lamina.scheduler.admission import INVALID_TOKEN, Admission, AdmissionChecker
from lamina.services import arns
from lamina.services.iam import iam, policies, tokens
from lamina.services.iam.iam import Principal

log = logging.getLogger(__name__)

# Endpoints that answer without credentials: liveness, the OpenAPI document, function URLs (they
# carry their own AuthType) and code downloads (the content-addressed key is the capability, as
# Lambda's presigned Code.Location is).
PUBLIC_ENDPOINTS = {"health.health", "openapi.openapi_json", "urls.serve_function_url", "functions.download_code"}
# Blueprints that authenticate on their own (the console keeps a session; see ``principal_from_bearer``).
EXEMPT_BLUEPRINTS: set[str] = {"console"}
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
_AUTH_RE = re.compile(
    r"AWS4-HMAC-SHA256\s+Credential=(?P<cred>[^,\s]+),\s*SignedHeaders=(?P<signed>[^,\s]+),\s*"
    r"Signature=(?P<sig>[0-9a-f]{64})\s*"
)
# Operations whose view name does not spell the Lambda action.
_ACTIONS = {"invoke.invoke": "lambda:InvokeFunction", "invoke_async.invoke_async": "lambda:InvokeAsync",
            "invoke.invoke_with_response_stream": "lambda:InvokeFunction",
            "functions.search_functions": "lambda:ListFunctions"}
# lamina's queues are authorized as SQS actions on the queue's ARN (arn:aws:sqs:REGION:ACCOUNT:NAME).
_QUEUE_ACTIONS = {
    "queues.create_queue": "sqs:CreateQueue", "queues.list_queues": "sqs:ListQueues",
    "queues.get_queue": "sqs:GetQueueAttributes", "queues.delete_queue": "sqs:DeleteQueue",
    "queues.purge_queue": "sqs:PurgeQueue", "queues.send_messages": "sqs:SendMessage",
    "queues.receive_messages": "sqs:ReceiveMessage", "queues.delete_message": "sqs:DeleteMessage",
}
# Endpoints whose operations name their resource in the body and call ``authorize`` themselves.
SELF_AUTHORIZING = {"aws_json.dispatch", "aws_json.queue_url"}
REPLAY_GRACE_S = 2.0
# Endpoints that must pass ``g.admission`` on and have it checked (``lamina.services.invoke.invocations``).
DEFERRED_ADMISSION = {"invoke.invoke", "invoke.invoke_with_response_stream"}


def exempt_blueprint(name: str) -> None:
    """Let blueprint ``name`` do its own authentication (its views then see no ``g.principal`` from us)."""
    EXEMPT_BLUEPRINTS.add(name)


def init_app(app: Flask) -> None:
    app.before_request(_before_request)
    # The console keeps the bearer token in its own cookie session and checks it with this.
    exempt_blueprint("console")
    deps = app.extensions["lamina"]
    app.extensions["lamina.console.verify"] = lambda token: principal_from_bearer(deps, token).account_id


def _before_request() -> None:
    endpoint = request.endpoint or ""
    if endpoint in PUBLIC_ENDPOINTS or request.blueprint in EXEMPT_BLUEPRINTS:
        return
    deps = current_app.extensions["lamina"]
    principal = authenticate(request, deps)
    g.principal = principal
    g.account_id = principal.account_id
    admission = _admission(deps, principal, g.pop("sigv4_signature", None))
    if endpoint in DEFERRED_ADMISSION:
        # The invoke view hands these checks to the pool's acquire: one Redis round trip fewer.
        g.admission = admission
    else:
        _checker(deps).check(admission, time.time())
    if not endpoint or endpoint in SELF_AUTHORIZING:
        return  # no route (the 404 handler answers), or the operation authorizes its own resource
    action = action_of(endpoint)
    resource = _target(deps, principal)
    if principal.statements is not None and not _role_allows(principal, action, resource):
        raise AccessDeniedException(
            f"User: {principal.arn} is not authorized to perform: {action} on resource: {resource}"
        )


def action_of(endpoint: str) -> str:
    """The Lambda action of a view: ``functions.get_function`` -> ``lambda:GetFunction``."""
    if endpoint in _ACTIONS:
        return _ACTIONS[endpoint]
    if endpoint in _QUEUE_ACTIONS:
        return _QUEUE_ACTIONS[endpoint]
    view = endpoint.rsplit(".", 1)[-1]
    return "lambda:" + "".join(part.capitalize() for part in view.split("_"))


def _target(deps: Any, principal: Principal) -> str:
    """The resource ARN the request names, switching ``g.account_id`` for a granted cross-account call."""
    if request.endpoint in _QUEUE_ACTIONS:
        queue = (request.view_args or {}).get("name")
        return f"arn:aws:sqs:{deps.settings.region}:{principal.account_id}:{queue if isinstance(queue, str) else '*'}"
    name = (request.view_args or {}).get("function_name")
    if not isinstance(name, str):
        return "*"
    region = deps.settings.region
    qualifier = request.args.get("Qualifier") or None
    m = arns._FUNCTION_NAME.fullmatch(name)
    if m is None or len(name) > arns.MAX_FUNCTION_NAME_INPUT:
        return "*"
    account = m.group("account") or principal.account_id
    qual = qualifier or m.group("qualifier")
    arn = arns.function_arn(region, account, m.group("name"), qual)
    if account != principal.account_id and principal.statements is None:
        # Only an explicit grant in the owner's resource policy lets another account in.
        if policies.is_allowed(deps, account, m.group("name"), qual, principal=principal.account_id,
                               action=action_of(request.endpoint or "")):
            g.account_id = account
    return arn


def _role_allows(principal: Principal, action: str, resource: str) -> bool:
    statements = principal.statements or ()
    if iam.statements_allow(statements, action, resource):
        return True
    # A grant on the function covers its versions and aliases too.
    unqualified = re.sub(r"(:function:[^:]+):[^:]+$", r"\1", resource)
    return unqualified != resource and iam.statements_allow(statements, action, unqualified)


def _admission(deps: Any, principal: Principal, signature: str | None) -> Admission:
    """The Redis-kept checks of this request (replay, revocation, per-account rate): see
    ``lamina.scheduler.admission``."""
    settings = deps.settings
    limit = settings.api_rate_per_s if principal.api_rate is None else principal.api_rate
    return Admission(
        revoked_key=iam.revoked_key(settings.instance, principal.key_id),
        replay_key=f"lamina:{settings.instance}:sigv4:{signature}" if signature is not None else "",
        replay_ttl_s=2 * settings.signature_skew_s + 1,
        replay_grace_s=REPLAY_GRACE_S,
        rate_key=f"lamina:{settings.instance}:ratelimit:{principal.account_id}:{int(time.time())}" if limit else "",
        rate_limit=limit,
    )


def _checker(deps: Any) -> AdmissionChecker:
    checker = deps.extras.get("admission")
    if checker is None:
        checker = deps.extras["admission"] = AdmissionChecker(deps.redis)
    return checker


# -- authentication


def authenticate(req: Request, deps: Any) -> Principal:
    """The principal proven by ``req``'s Authorization header; raises a 403 LambdaError otherwise."""
    header = req.headers.get("Authorization", "")
    if header.startswith("AWS4-HMAC-SHA256"):
        return _sigv4(req, deps, header)
    if header[:7].lower() == "bearer ":
        return principal_from_bearer(deps, header[7:].strip())
    if "X-Amz-Signature" in req.args:
        raise InvalidSignatureException("Presigned URLs are not supported; sign the Authorization header.")
    raise UnrecognizedClientException("Missing Authentication Token")


def verify_request(req: Request, deps: Any) -> Principal:
    """Authenticate ``req`` and run its admission checks: for endpoints that authenticate on their own,
    such as function URLs of AuthType AWS_IAM."""
    principal = authenticate(req, deps)
    _checker(deps).check(_admission(deps, principal, g.pop("sigv4_signature", None)), time.time())
    return principal


def principal_from_bearer(deps: Any, token: str) -> Principal:
    """The principal of a bearer token: ``<key-id>:<secret>`` or a minted token. (The console uses this.)"""
    if ":" in token:
        key_id, _, secret = token.partition(":")
        found = lookup_key(deps, key_id)
        if found is None or not hmac.compare_digest(found[1].encode(), secret.encode()):
            raise UnrecognizedClientException(INVALID_TOKEN)
        return found[0]
    principal = tokens.verify(deps, token, lookup_key)
    if principal is None:
        raise UnrecognizedClientException(INVALID_TOKEN)
    return principal


def lookup_key(deps: Any, key_id: str) -> tuple[Principal, str] | None:
    """(principal, secret) of a user key or a live role-session key."""
    if key_id.startswith("LSIA"):
        from lamina.services.iam import sessions

        return sessions.lookup(deps, key_id, request.remote_addr if has_request_context() else None)
    return iam.principal_for_key(deps, key_id)


def _sigv4(req: Request, deps: Any, header: str) -> Principal:
    m = _AUTH_RE.fullmatch(header)
    if m is None:
        raise InvalidSignatureException("Authorization header requires Credential, SignedHeaders and Signature.")
    parts = m.group("cred").split("/")
    if len(parts) != 5 or parts[4] != "aws4_request":
        raise InvalidSignatureException(f"Credential is malformed: {m.group('cred')}")
    key_id, scope_date, region, service = parts[:4]
    expected = signing_service(req)
    if service != expected:
        raise InvalidSignatureException(
            f"Credential should be scoped to correct service: '{expected}', not {service!r}."
        )
    amz_date = req.headers.get("X-Amz-Date", "")
    try:
        signed_at = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        raise InvalidSignatureException("Missing or malformed X-Amz-Date header.") from None
    if scope_date != amz_date[:8]:
        raise InvalidSignatureException("Credential date does not match X-Amz-Date.")
    skew = deps.settings.signature_skew_s
    now = time.time()
    if abs(now - signed_at.timestamp()) > skew:
        raise InvalidSignatureException(
            f"Signature expired: {amz_date} is now earlier than "
            f"{datetime.fromtimestamp(now - skew, UTC):%Y%m%dT%H%M%SZ} "
            f"({datetime.fromtimestamp(now, UTC):%Y%m%dT%H%M%SZ} - {skew // 60} min.)"
        )
    signed = m.group("signed").split(";")
    if "host" not in signed:
        raise InvalidSignatureException("'Host' must be a signed header.")
    found = lookup_key(deps, key_id)
    if found is None:
        raise UnrecognizedClientException(INVALID_TOKEN)
    principal, secret = found
    if principal.role is not None:
        token = req.headers.get("X-Amz-Security-Token", "")
        if not hmac.compare_digest(token.encode(), str(principal.extra.get("token", "")).encode()):
            raise UnrecognizedClientException(INVALID_TOKEN)
    canonical = canonical_request(req, signed)
    string_to_sign = "\n".join([
        "AWS4-HMAC-SHA256", amz_date, f"{scope_date}/{region}/{service}/aws4_request",
        hashlib.sha256(canonical.encode()).hexdigest(),
    ])
    if not hmac.compare_digest(signature(secret, scope_date, region, service, string_to_sign), m.group("sig")):
        raise InvalidSignatureException(
            "The request signature we calculated does not match the signature you provided. "
            "Check your AWS Secret Access Key and signing method."
        )
    g.sigv4_signature = m.group("sig")  # checked for replay with the other admission checks
    return principal


def signing_service(req: Request) -> str:
    """The SigV4 service name ``req`` must be signed for."""
    protocol = aws_json.protocol_of(req.path, req.method, req.headers.get("X-Amz-Target", ""))
    if protocol is not None:
        return protocol.signing_name
    if req.path == "/" and req.method == "POST":
        from lamina.api import iam

        if iam.speaks_iam(req):
            return "iam"
    if req.endpoint == "aws_json.queue_url" or (req.path == "/" and sqs_query.speaks_query(req)):
        return "sqs"
    return "lambda"


def authorize(action: str, resource: str) -> None:
    """Refuse a role session whose statements do not allow ``action`` on ``resource`` (for operations
    that name their resource in the body, such as the JSON protocols')."""
    principal: Principal = g.principal
    if principal.statements is not None and not _role_allows(principal, action, resource):
        raise AccessDeniedException(
            f"User: {principal.arn} is not authorized to perform: {action} on resource: {resource}"
        )


def signature(secret: str, date: str, region: str, service: str, string_to_sign: str) -> str:
    def sign(key: bytes, msg: str) -> bytes:
        return hmac.new(key, msg.encode(), hashlib.sha256).digest()

    k = sign(sign(sign(sign(f"AWS4{secret}".encode(), date), region), service), "aws4_request")
    return hmac.new(k, string_to_sign.encode(), hashlib.sha256).hexdigest()


def canonical_request(req: Request, signed_headers: list[str]) -> str:
    """botocore's canonical request, rebuilt from what arrived on the wire."""
    env = req.environ
    raw = env.get("RAW_URI") or env.get("REQUEST_URI")
    if raw:
        raw_path = raw.split("?", 1)[0]
        if "://" in raw_path:  # an absolute-form request target
            raw_path = urllib.parse.urlsplit(raw_path).path
    else:  # a WSGI server that keeps no raw URI: re-encode as botocore does (only -._~ bare)
        raw_path = urllib.parse.quote(env.get("SCRIPT_NAME", "") + env.get("PATH_INFO", ""), safe="/-._~")
    path = urllib.parse.quote(_normalize_path(raw_path), safe="/~")
    query = env.get("QUERY_STRING", "")
    pairs = sorted(tuple(p.partition("=")[::2]) for p in query.split("&")) if query else []
    canonical_query = "&".join(f"{k}={v}" for k, v in pairs)
    lines = []
    for name in signed_headers:
        values = req.headers.getlist(name)
        if not values and name == "host":
            values = [env.get("HTTP_HOST", "")]
        lines.append(f"{name}:{','.join(' '.join(v.split()) for v in values)}")
    body = req.get_data(cache=True)
    body_hash = hashlib.sha256(body).hexdigest() if body else EMPTY_SHA256
    declared = req.headers.get("X-Amz-Content-SHA256")
    if declared is not None and declared != body_hash:
        raise InvalidSignatureException("X-Amz-Content-SHA256 does not match the request body.")
    return "\n".join([req.method.upper(), path, canonical_query, "\n".join(lines) + "\n",
                      ";".join(signed_headers), declared or body_hash])


def _normalize_path(path: str) -> str:
    """botocore.utils.normalize_url_path: drop dot segments and empty segments."""
    if not path:
        return "/"
    out: list[str] = []
    for seg in path.split("/"):
        if seg and seg != ".":
            if seg == "..":
                if out:
                    out.pop()
            else:
                out.append(seg)
    last = "/" if path.endswith("/") and out else ""
    return ("/" if path.startswith("/") else "") + "/".join(out) + last


def current_principal() -> Principal | None:
    return g.get("principal")


__all__ = ["authenticate", "verify_request", "principal_from_bearer", "current_principal", "init_app",
           "exempt_blueprint"]
