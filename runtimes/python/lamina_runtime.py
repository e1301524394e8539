"""lamina's Python runtime client: loads the handler, then loops on the Runtime API 2018-06-01.

Installed at /var/runtime/lamina_runtime.py and started by /var/runtime/bootstrap. Standard library only.
It behaves like AWS's ``awslambdaric``: the handler is imported at init (failures go to
``/runtime/init/error`` and the process exits), events are JSON-decoded when the Content-Type is exactly
``application/json``, results are JSON-encoded (``bytes`` go out raw as ``application/unknown``), and
exceptions are reported as ``{errorMessage, errorType, requestId, stackTrace}``.
"""

import decimal
import importlib
import json
import logging
import os
import socket
import sys
import time
import traceback

RUNTIME_DIR = os.path.dirname(os.path.abspath(__file__))
TASK_ROOT = os.environ.get("LAMBDA_TASK_ROOT", "/var/task")
PY_DIR = f"python{sys.version_info.major}.{sys.version_info.minor}"


def _set_path():
    """Lambda's search order: the function code, then the layers, then the runtime and the standard library."""
    front = [TASK_ROOT, f"/opt/python/lib/{PY_DIR}/site-packages", "/opt/python"]
    rest = [p for p in sys.path if p not in front and p != RUNTIME_DIR and p != ""]
    sys.path[:] = front + rest + [RUNTIME_DIR]


class RuntimeAPI:
    """A minimal HTTP/1.1 keep-alive client for the Runtime API (loopback, our agent or AWS's)."""

    def __init__(self, address):
        host, _, port = address.rpartition(":")
        self.addr = (host or "127.0.0.1", int(port))
        self.sock = None
        self.rfile = None

    def _connect(self):
        self.sock = socket.create_connection(self.addr)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.rfile = self.sock.makefile("rb", buffering=65536)

    def request(self, method, path, body=b"", headers=()):
        """Send one request; return ``(status, headers dict with lower-case names, body)``."""
        head = [f"{method} {path} HTTP/1.1\r\nHost: {self.addr[0]}:{self.addr[1]}\r\n".encode()]
        for name, value in headers:
            head.append(f"{name}: {value}\r\n".encode())
        head.append(b"Content-Length: %d\r\n\r\n" % len(body))
        data = b"".join(head) + body
        for attempt in (0, 1):
            if self.sock is None:
                self._connect()
            try:
                self.sock.sendall(data)
                return self._read_response()
            except (ConnectionError, EOFError):
                # A keep-alive connection the server closed: reconnect once.
                self.close()
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def _read_response(self):
        rfile = self.rfile
        line = rfile.readline(65537)
        if not line:
            raise EOFError("Runtime API closed the connection")
        status = int(line.split(None, 2)[1])
        headers = {}
        while True:
            h = rfile.readline(1 << 21)
            if h in (b"\r\n", b"\n"):
                break
            if not h:
                raise EOFError("Runtime API closed the connection")
            name, _, value = h.partition(b":")
            headers[name.strip().decode("latin-1").lower()] = value.strip().decode("latin-1")
        if headers.get("transfer-encoding", "").lower() == "chunked":
            parts = []
            while True:
                size = int(rfile.readline().split(b";")[0], 16)
                if size == 0:
                    rfile.readline()
                    break
                parts.append(rfile.read(size))
                rfile.readline()
            body = b"".join(parts)
        else:
            n = int(headers.get("content-length", "0"))
            body = rfile.read(n) if n else b""
        if headers.get("connection", "").lower() == "close":
            self.close()
        return status, headers, body

    def close(self):
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass
        self.sock = None
        self.rfile = None


class FaultError(Exception):
    """A runtime-level failure with Lambda's errorType (Runtime.ImportModuleError, ...)."""

    def __init__(self, error_type, message, trace=None):
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.trace = trace or []


class CognitoIdentity:
    __slots__ = ("cognito_identity_id", "cognito_identity_pool_id")

    def __init__(self, data):
        self.cognito_identity_id = data.get("cognitoIdentityId")
        self.cognito_identity_pool_id = data.get("cognitoIdentityPoolId")


class Client:
    __slots__ = ("installation_id", "app_title", "app_version_name", "app_version_code", "app_package_name")

    def __init__(self, data):
        self.installation_id = data.get("installation_id")
        self.app_title = data.get("app_title")
        self.app_version_name = data.get("app_version_name")
        self.app_version_code = data.get("app_version_code")
        self.app_package_name = data.get("app_package_name")


class ClientContext:
    __slots__ = ("client", "custom", "env")

    def __init__(self, data):
        client = data.get("client")
        self.client = Client(client) if client else None
        self.custom = data.get("custom")
        self.env = data.get("env")


class LambdaContext:
    """The handler's ``context``, with the attributes and method names of AWS's."""

    def __init__(self, request_id, deadline_ms, invoked_function_arn, client_context, identity):
        self.aws_request_id = request_id
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
        # A string, as in AWS's runtime.
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.invoked_function_arn = invoked_function_arn
        self.client_context = ClientContext(client_context) if client_context else None
        self.identity = CognitoIdentity(identity or {})
        self.tenant_id = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self):
        return max(self._deadline_ms - int(time.time() * 1000), 0)

    def log(self, msg):
        sys.stdout.write(str(msg))

    def __repr__(self):
        return (
            f"LambdaContext([aws_request_id={self.aws_request_id},log_group_name={self.log_group_name},"
            f"log_stream_name={self.log_stream_name},function_name={self.function_name},"
            f"memory_limit_in_mb={self.memory_limit_in_mb},function_version={self.function_version},"
            f"invoked_function_arn={self.invoked_function_arn},client_context={self.client_context},"
            f"identity={self.identity}])"
        )


class _Encoder(json.JSONEncoder):
    def default(self, o):
        if isinstance(o, decimal.Decimal):
            return int(o) if o == o.to_integral_value() else float(o)
        return super().default(o)


_ENCODER = _Encoder()
_REQUEST_ID = ""


class _LambdaLogHandler(logging.Handler):
    """Root-logger handler printing AWS's text format: ``[LEVEL]\\t<time>\\t<request id>\\t<message>``."""

    def emit(self, record):
        try:
            msg = self.format(record)
        except Exception:
            self.handleError(record)
            return
        sys.stdout.write(msg.replace("\n", "\r") + "\n")


class _Formatter(logging.Formatter):
    converter = time.gmtime

    def format(self, record):
        record.aws_request_id = _REQUEST_ID
        return super().format(record)


# LoggingConfig JSON: Lambda's level names (WARN, FATAL, TRACE) onto Python's.
_LEVEL_NUMBERS = {"TRACE": 5, "DEBUG": logging.DEBUG, "INFO": logging.INFO, "WARN": logging.WARNING,
                  "ERROR": logging.ERROR, "FATAL": logging.CRITICAL}
_LEVEL_NAMES = {logging.WARNING: "WARN", logging.CRITICAL: "FATAL", 5: "TRACE"}
# LogRecord attributes that are not "extra" fields of a call.
_RECORD_FIELDS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime",
                                                                                   "aws_request_id"}


class _JsonFormatter(logging.Formatter):
    """AWS's JSON records: timestamp, level, message, logger, requestId, the call's extra fields, errors."""

    def format(self, record):
        doc = {
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": _LEVEL_NAMES.get(record.levelno, record.levelname),
            "message": record.msg if isinstance(record.msg, dict) and not record.args else record.getMessage(),
            "logger": record.name,
            "requestId": _REQUEST_ID,
        }
        if record.exc_info and record.exc_info[0] is not None:
            doc["errorType"] = record.exc_info[0].__name__
            doc["errorMessage"] = str(record.exc_info[1])
            doc["stackTrace"] = traceback.format_tb(record.exc_info[2])
        for key, value in vars(record).items():
            if key not in _RECORD_FIELDS and key not in doc:
                doc[key] = value
        return json.dumps(doc, default=str, ensure_ascii=False)


def _json_logging():
    return os.environ.get("AWS_LAMBDA_LOG_FORMAT") == "JSON"


def _setup_logging():
    handler = _LambdaLogHandler()
    root = logging.getLogger()
    if _json_logging():
        logging.addLevelName(5, "TRACE")
        handler.setFormatter(_JsonFormatter())
        root.setLevel(_LEVEL_NUMBERS.get((os.environ.get("AWS_LAMBDA_LOG_LEVEL") or "INFO").upper(), logging.INFO))
    else:
        handler.setFormatter(_Formatter("[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s\n",
                                        "%Y-%m-%dT%H:%M:%S"))
        level = os.environ.get("AWS_LAMBDA_LOG_LEVEL")
        if level:
            root.setLevel(_LEVEL_NUMBERS.get(level.upper(), logging.INFO))
    root.addHandler(handler)


def load_handler(handler):
    """Import the handler's module and return the function; raise FaultError as AWS's runtime would."""
    try:
        modname, fname = handler.rsplit(".", 1)
    except ValueError as exc:
        raise FaultError("Runtime.MalformedHandlerName", f"Bad handler '{handler}': {exc}") from None
    if modname.split(".")[0] in sys.builtin_module_names:
        raise FaultError("Runtime.BuiltInModuleConflict", f"Cannot use built-in module {modname} as a handler module")
    try:
        module = importlib.import_module(modname.replace("/", "."))
    except ImportError as exc:
        raise FaultError("Runtime.ImportModuleError", f"Unable to import module '{modname}': {exc}") from None
    except SyntaxError as exc:
        trace = [f'  File "{exc.filename}" Line {exc.lineno}\n    {exc.text}']
        raise FaultError("Runtime.UserCodeSyntaxError", f"Syntax error in module '{modname}': {exc}", trace) from None
    try:
        return getattr(module, fname)
    except AttributeError:
        raise FaultError("Runtime.HandlerNotFound", f"Handler '{fname}' missing on module '{modname}'") from None


def error_result(exc, request_id):
    """The error document AWS's Python runtime posts; the traceback starts at the user's code."""
    if isinstance(exc, FaultError):
        return {"errorMessage": exc.message, "errorType": exc.error_type, "requestId": request_id,
                "stackTrace": exc.trace}
    frames = traceback.extract_tb(exc.__traceback__)
    for i, frame in enumerate(frames):
        if frame.filename != __file__:
            frames = frames[i:]
            break
    return {
        "errorMessage": str(exc),
        "errorType": type(exc).__name__,
        "requestId": request_id,
        "stackTrace": traceback.format_list(frames),
    }


def log_error(result):
    """Print the error the way AWS's runtime does: one log record, lines joined with \\r."""
    if _json_logging():
        if logging.getLogger().isEnabledFor(logging.ERROR):
            sys.stdout.write(json.dumps({
                "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "level": "ERROR",
                "message": result["errorMessage"], "errorType": result["errorType"],
                "errorMessage": result["errorMessage"], "requestId": result.get("requestId", ""),
                "stackTrace": result["stackTrace"],
            }) + "\n")
        return
    parts = [f"[ERROR] {result['errorType']}: {result['errorMessage']}"]
    if result["stackTrace"]:
        parts.append("Traceback (most recent call last):")
        parts.extend(line.rstrip("\n") for line in result["stackTrace"])
    sys.stdout.write("\r".join(parts) + "\n")


def _json_header(value, name):
    try:
        return json.loads(value)
    except ValueError as exc:
        raise FaultError("Runtime.LambdaContextUnmarshalError", f"Unable to parse {name} JSON: {exc}") from None


def handle(api, handler, status, headers, body):
    global _REQUEST_ID
    request_id = headers.get("lambda-runtime-aws-request-id", "")
    _REQUEST_ID = request_id
    trace_id = headers.get("lambda-runtime-trace-id")
    if trace_id:
        os.environ["_X_AMZN_TRACE_ID"] = trace_id
    else:
        os.environ.pop("_X_AMZN_TRACE_ID", None)
    try:
        client_context = headers.get("lambda-runtime-client-context")
        identity = headers.get("lambda-runtime-cognito-identity")
        context = LambdaContext(
            request_id,
            int(headers.get("lambda-runtime-deadline-ms") or 0),
            headers.get("lambda-runtime-invoked-function-arn"),
            _json_header(client_context, "Client Context") if client_context else None,
            _json_header(identity, "Cognito Identity") if identity else None,
        )
        context.tenant_id = headers.get("lambda-runtime-aws-tenant-id")
        if headers.get("content-type") == "application/json":
            try:
                event = json.loads(body)
            except ValueError as exc:
                raise FaultError("Runtime.UnmarshalError", f"Unable to unmarshal input: {exc}") from None
        else:
            event = body
        result = handler(event, context)
        if isinstance(result, bytes | bytearray):
            payload, content_type = bytes(result), "application/unknown"
        else:
            try:
                payload, content_type = _ENCODER.encode(result).encode("utf-8"), "application/json"
            except (TypeError, ValueError) as exc:
                raise FaultError("Runtime.MarshalError", f"Unable to marshal response: {exc}") from None
    except Exception as exc:
        result = error_result(exc, request_id)
        log_error(result)
        error_body = json.dumps(result).encode("utf-8")
        api.request(
            "POST",
            f"/2018-06-01/runtime/invocation/{request_id}/error",
            error_body,
            (("Content-Type", "application/json"), ("Lambda-Runtime-Function-Error-Type", result["errorType"])),
        )
        return
    status, _, answer = api.request(
        "POST", f"/2018-06-01/runtime/invocation/{request_id}/response", payload, (("Content-Type", content_type),)
    )
    if status >= 300:
        sys.stdout.write(f"[ERROR] Failed to post handler success response. Http response code: {status}. "
                         f"{answer.decode('utf-8', 'replace')}\n")


def _await_claim(api):
    """Started ahead in a lamina stem cell: take the function's environment when the cell is claimed."""
    status, _headers, body = api.request("GET", "/2018-06-01/runtime/lamina/claim")
    if status != 200:
        sys.exit(1)
    env = json.loads(body)
    for name in [n for n in os.environ if n not in env]:
        del os.environ[name]
    os.environ.update(env)
    if hasattr(time, "tzset"):
        time.tzset()  # TZ came with the claim
    global TASK_ROOT
    TASK_ROOT = os.environ.get("LAMBDA_TASK_ROOT", "/var/task")


def main():
    api = RuntimeAPI(os.environ.get("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001"))
    if os.environ.get("LAMINA_PRESTARTED") == "1":
        _await_claim(api)
    _set_path()
    handler_name = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("_HANDLER", "")
    _setup_logging()
    try:
        handler = load_handler(handler_name)
    except Exception as exc:
        result = error_result(exc, "")
        log_error(result)
        api.request(
            "POST",
            "/2018-06-01/runtime/init/error",
            json.dumps(result).encode("utf-8"),
            (("Content-Type", "application/json"), ("Lambda-Runtime-Function-Error-Type", result["errorType"])),
        )
        sys.exit(1)
    while True:
        status, headers, body = api.request("GET", "/2018-06-01/runtime/invocation/next")
        if status != 200:
            sys.stdout.write(f"[ERROR] Runtime API /next answered {status}: {body.decode('utf-8', 'replace')}\n")
            sys.exit(1)
        handle(api, handler, status, headers, body)


if __name__ == "__main__":
    main()
