"""Console pages: each view renders a shell; the page's script calls lamina's REST API with the session token.

Log-in keeps the bearer token (``<access-key-id>:<secret>`` or a minted token) in an HttpOnly,
SameSite=Strict cookie; every page puts it in a ``<meta>`` tag for its script's ``Authorization``
header, so the browser talks to the same API (and the same authorization checks) as boto3 or the CLI.
Errors of the API are shown by the script as messages; errors of the console itself render the error page.
"""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    Response,
    current_app,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as WResponse

from lamina import runtimes
from lamina.errors import LambdaError
from lamina.services.functions import saved_events

bp = Blueprint("console", __name__, url_prefix="/console", template_folder="templates", static_folder="static")

COOKIE = "lamina_console"
PUBLIC = {"console.login", "console.login_post", "console.static"}


def _verify(token: str) -> str:
    verify = current_app.extensions.get("lamina.console.verify")
    if verify is None:
        # STUB: no authentication is installed in this lamina; any credentials open the console.
        return current_app.extensions["lamina"].settings.account_id
    return verify(token)


def auth_stubbed() -> bool:
    return current_app.extensions.get("lamina.console.verify") is None


@bp.before_request
def _session() -> WResponse | None:
    if request.endpoint in PUBLIC:
        return None
    token = request.cookies.get(COOKIE)
    if not token:
        return _to_login()
    try:
        g.account_id = _verify(token)
    except LambdaError:
        return _to_login("Your session is no longer valid; log in again.")
    g.console_token = token
    return None


def _to_login(message: str | None = None) -> WResponse:
    if request.path.startswith("/console/api/"):
        return _json_error(401, "UnrecognizedClientException", message or "Log in first.")
    resp = redirect(url_for("console.login", next=request.full_path if request.method == "GET" else None,
                            message=message))
    resp.delete_cookie(COOKIE, path="/console")
    return resp


def _json_error(status: int, kind: str, message: str) -> Response:
    resp = jsonify({"Type": kind, "Message": message, "message": message})
    resp.status_code = status
    return resp


@bp.errorhandler(LambdaError)
def _lambda_error(err: LambdaError) -> Any:
    if request.path.startswith("/console/api/"):
        return _json_error(err.status, err.error_type, err.message)
    return render_template("error.html", status=err.status, message=err.message), err.status


@bp.errorhandler(HTTPException)
def _http_error(err: HTTPException) -> Any:
    if request.path.startswith("/console/api/"):
        return _json_error(err.code or 500, err.name.replace(" ", ""), err.description or err.name)
    return render_template("error.html", status=err.code, message=err.description), err.code or 500


def _page(template: str, **context: Any) -> str:
    s = current_app.extensions["lamina"].settings
    return render_template(template, token=g.console_token, account_id=g.account_id, region=s.region,
                           auth_stub=auth_stubbed(), **context)


# -- log-in


@bp.get("/login")
def login() -> str:
    return render_template("login.html", message=request.args.get("message"), auth_stub=auth_stubbed(),
                           next=request.args.get("next") or "")


@bp.post("/login")
def login_post() -> Any:
    form = request.form
    token = (form.get("token") or "").strip()
    key_id, secret = (form.get("access_key_id") or "").strip(), (form.get("secret_access_key") or "").strip()
    if not token and key_id and secret:
        token = f"{key_id}:{secret}"
    if not token:
        return render_template("login.html", message="Enter an access key and its secret, or a token.",
                               auth_stub=auth_stubbed(), next=form.get("next") or ""), 400
    try:
        _verify(token)
    except LambdaError as err:
        return render_template("login.html", message=err.message, auth_stub=auth_stubbed(),
                               next=form.get("next") or ""), 403
    nxt = form.get("next") or ""
    resp = redirect(nxt if nxt.startswith("/console/") else url_for("console.functions"))
    resp.set_cookie(COOKIE, token, httponly=True, samesite="Strict", path="/console",
                    secure=request.is_secure)
    return resp


@bp.get("/logout")
def logout() -> WResponse:
    resp = redirect(url_for("console.login", message="Logged out."))
    resp.delete_cookie(COOKIE, path="/console")
    return resp


# -- pages


@bp.get("/")
def functions() -> str:
    return _page("functions.html", title="Functions")


@bp.get("/create")
def create_function() -> str:
    return _page("create.html", title="Create function", runtimes=runtimes.SUPPORTED)


@bp.get("/functions/<name>")
def function(name: str) -> str:
    return _page("function.html", title=name, name=name, tab=request.args.get("tab") or "code")


@bp.get("/layers")
def layers() -> str:
    return _page("layers.html", title="Layers")


@bp.get("/queues")
def queues() -> str:
    return _page("queues.html", title="Queues")


@bp.get("/streams")
def streams() -> str:
    return _page("streams.html", title="Streams")


@bp.get("/usage")
def usage() -> str:
    return _page("usage.html", title="Usage")


@bp.get("/settings")
def settings() -> str:
    s = current_app.extensions["lamina"].settings
    return _page("settings.html", title="Account settings", log_retention_days=s.log_retention_days,
                 metrics_retention_days=s.metrics_retention_s // 86400, tracing=bool(s.otlp_endpoint))


# -- the console's own API: saved test events


def _redis() -> Any:
    return current_app.extensions["lamina"].redis


@bp.get("/api/functions/<name>/test-events")
def list_test_events(name: str) -> Response:
    return jsonify(saved_events.list_events(_redis(), g.account_id, name))


@bp.put("/api/functions/<name>/test-events/<event>")
def save_test_event(name: str, event: str) -> Response:
    saved_events.save_event(_redis(), g.account_id, name, event, request.get_data(as_text=True))
    return jsonify({"saved": event})


@bp.delete("/api/functions/<name>/test-events/<event>")
def delete_test_event(name: str, event: str) -> Response:
    saved_events.delete_event(_redis(), g.account_id, name, event)
    return jsonify({"deleted": event})
