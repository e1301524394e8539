"""lamina's in-container agent: PID 1 of every execution environment (see docs/execution.md).

Started as ``python3 -S /var/lamina/agent.py`` in a container with a read-only root, no capabilities and
user 993:990. It starts the runtime (``LAMINA_RUNTIME_CMD`` or the ``bootstrap`` it finds) at once, serves
the Runtime API 2018-06-01 to it on 127.0.0.1:9001 and the invoke front door on 0.0.0.0:8080, keeps the
function's log lines (JSON lines) in memory and hands them to the platform with each invoke's answer (the
platform writes the log stream: no file the function's code could open is involved), reaps zombies and
forwards SIGTERM. The agent makes itself non-dumpable, so the runtime (same user) cannot open its /proc
files or descriptors.

Standard library only, one file, Python 3.11: it runs inside images lamina did not build.

Hot path (a warm invoke), with no thread hand-off beyond the kernel's:
  front-door thread  POST /invoke -> writes the ``/next`` answer straight onto the runtime's parked socket
  runtime-API thread POST /response -> writes the front-door answer straight onto the caller's socket, then 202
Each connection has one persistent thread (HTTP/1.1 keep-alive), so a warm invoke creates no thread.

Threads: main (spawns the runtime, then reaps children as PID 1), one accept loop per listener, one per
connection, the log pump, and the init watchdog.
"""

import base64
import json
import os
import select
import signal
import socket
import sys
import threading
import time
import uuid

RUNTIME_API_ADDR = ("127.0.0.1", 9001)
MAX_PAYLOAD = 6291556  # 6 MiB + 100 bytes, the RIE's MaxPayloadSize, for events and responses alike
# AWS's Python client sends an X-Ray cause header of up to 1 MiB on every post.
MAX_LINE = (1 << 20) + 4096
MAX_HEADERS = 256
TAIL_BYTES = 4096
# Log lines kept for the next answer; beyond this, lines are dropped (and the drop is logged): a function
# that floods its log cannot exhaust the agent's memory or the platform's disk.
LOG_BUFFER_BYTES = 1 << 20
DEFAULT_TIMEOUT_S = 3.0
BOOTSTRAP_PATHS = ("/var/task/bootstrap", "/opt/bootstrap")
CGROUP_PEAK_FILES = (
    "/sys/fs/cgroup/memory/memory.max_usage_in_bytes",  # cgroup v1
    "/sys/fs/cgroup/memory.peak",  # cgroup v2, kernel >= 5.19
    "/sys/fs/cgroup/memory.current",  # cgroup v2 fallback: current, not peak
)
CGROUP_LIMIT_FILES = ("/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory.max")

REASONS = {
    200: b"OK",
    202: b"Accepted",
    400: b"Bad Request",
    403: b"Forbidden",
    404: b"Not Found",
    405: b"Method Not Allowed",
    409: b"Conflict",
    413: b"Request Entity Too Large",
    431: b"Request Header Fields Too Large",
    500: b"Internal Server Error",
}
# Go's ProcessState strings, which is what the RIE (and so Lambda) prints after "Runtime exited with error:".
SIGNAL_WORDS = {
    signal.SIGKILL: "killed",
    signal.SIGTERM: "terminated",
    signal.SIGSEGV: "segmentation fault",
    signal.SIGABRT: "aborted",
    signal.SIGINT: "interrupt",
    signal.SIGBUS: "bus error",
    signal.SIGFPE: "floating point exception",
    signal.SIGILL: "illegal instruction",
    signal.SIGPIPE: "broken pipe",
    signal.SIGHUP: "hangup",
    signal.SIGQUIT: "quit",
}

ACCEPTED = b'{"status":"OK"}'
SYSTEM_LEVELS = {"DEBUG": 0, "INFO": 1, "WARN": 2}
# finish()'s outcome -> the status of Lambda's platform.runtimeDone / platform.report events
EVENT_STATUS = {"success": "success", "error": "error", "timeout": "timeout"}
NEXT_HEADER_MAP = (
    # (front-door request header, /next response header); each only sent on when non-empty.
    (b"lambda-runtime-invoked-function-arn", b"Lambda-Runtime-Invoked-Function-Arn"),
    (b"lambda-runtime-trace-id", b"Lambda-Runtime-Trace-Id"),
    (b"lambda-runtime-client-context", b"Lambda-Runtime-Client-Context"),
    (b"lambda-runtime-cognito-identity", b"Lambda-Runtime-Cognito-Identity"),
    (b"lambda-runtime-aws-tenant-id", b"Lambda-Runtime-Aws-Tenant-Id"),
)


def _api_error(error_type, message):
    return json.dumps({"errorMessage": message, "errorType": error_type}).encode()


INVALID_REQUEST_ID = _api_error("InvalidRequestID", "Invalid request ID")


def _invalid_state(current, target):
    """403 body of the RIE for a call the runtime's state does not allow (same state names and wording)."""
    message = f"State transition from {current} to {target} failed for runtime. Error: State transition is not allowed"
    return _api_error("InvalidStateTransition", message)


TOO_LARGE = _api_error("RequestEntityTooLarge", f"Exceeded maximum allowed payload size ({MAX_PAYLOAD} bytes).")
BAD_RESPONSE_MODE = _api_error("InvalidFunctionResponseMode", "Invalid function response mode")
NOT_FOUND = _api_error("NotFound", "Not found")
# Extensions API 2020-01-01: external extensions are the executables in EXTENSIONS_DIR (from layers or the
# image), started before the runtime as the runtime's user; at most MAX_EXTENSIONS register.
EXTENSIONS_DIR = "/opt/extensions"
MAX_EXTENSIONS = 10
EXTENSION_EVENTS = ("INVOKE", "SHUTDOWN")
SHUTDOWN_GRACE_S = 2.0  # Lambda's limit with external extensions (the runtime gets SIGTERM with it)


class BadRequest(Exception):
    """The peer sent something that is not HTTP/1.x we accept; the connection is answered and closed."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


class Conn:
    """One accepted connection: its socket, buffered reader and keep-alive flag for the current request."""

    __slots__ = ("sock", "rfile", "keep_alive")

    def __init__(self, sock):
        self.sock = sock
        self.rfile = sock.makefile("rb", buffering=65536)
        self.keep_alive = True

    def send(self, status, headers, body, close=False):
        """Write one response. ``headers`` is pre-encoded ``Name: value\\r\\n`` lines."""
        close = close or not self.keep_alive
        head = b"HTTP/1.1 %d %s\r\n%sContent-Length: %d\r\n%s\r\n" % (
            status,
            REASONS.get(status, b"Unknown"),
            headers,
            len(body),
            b"Connection: close\r\n" if close else b"",
        )
        if len(body) < 65536:
            self.sock.sendall(head + body)
        else:
            self.sock.sendall(head)
            self.sock.sendall(body)
        if close:
            try:
                self.sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass

    def read_request(self):
        """Read one request; return ``(method, target, headers, body, too_large)`` or None at end of stream.

        Header names are lower-cased bytes. A body over MAX_PAYLOAD is read and thrown away (so the connection
        stays usable, as curl-based clients expect) and ``too_large`` is set.
        """
        rfile = self.rfile
        line = rfile.readline(MAX_LINE)
        while line in (b"\r\n", b"\n"):  # tolerate stray blank lines between requests (RFC 9112 2.2)
            line = rfile.readline(MAX_LINE)
        if not line:
            return None
        if len(line) >= MAX_LINE:
            raise BadRequest(431, "request line too long")
        parts = line.split()
        if len(parts) != 3:
            raise BadRequest(400, "bad request line")
        method, target, version = parts
        headers = {}
        while True:
            h = rfile.readline(MAX_LINE)
            if len(h) >= MAX_LINE:
                raise BadRequest(431, "header line too long")
            if h in (b"\r\n", b"\n"):
                break
            if not h:
                return None
            name, sep, value = h.partition(b":")
            if not sep:
                raise BadRequest(400, "bad header line")
            headers[name.strip().lower()] = value.strip()
            if len(headers) > MAX_HEADERS:
                raise BadRequest(431, "too many headers")
        conn_hdr = headers.get(b"connection", b"").lower()
        if version == b"HTTP/1.1":
            self.keep_alive = conn_hdr != b"close"
        else:
            self.keep_alive = conn_hdr == b"keep-alive"
        if headers.get(b"expect", b"").lower() == b"100-continue":
            self.sock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        too_large = False
        te = headers.get(b"transfer-encoding")
        if te is not None and te.lower() != b"identity":
            body, too_large = self._read_chunked()
        else:
            length = headers.get(b"content-length")
            if length is None or length == b"0":
                body = b""
            else:
                try:
                    n = int(length)
                except ValueError:
                    raise BadRequest(400, "bad content-length") from None
                if n < 0:
                    raise BadRequest(400, "bad content-length")
                if n > MAX_PAYLOAD:
                    too_large = True
                    while n > 0:
                        chunk = rfile.read(min(n, 1 << 20))
                        if not chunk:
                            return None
                        n -= len(chunk)
                    body = b""
                else:
                    body = rfile.read(n)
                    if len(body) != n:
                        return None
        return method, target, headers, body, too_large

    def _read_chunked(self):
        rfile = self.rfile
        parts = []
        total = 0
        while True:
            line = rfile.readline(MAX_LINE)
            if not line:
                raise BadRequest(400, "truncated chunked body")
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise BadRequest(400, "bad chunk size") from None
            if size == 0:
                break
            data = rfile.read(size)
            if len(data) != size:
                raise BadRequest(400, "truncated chunked body")
            total += size
            if total <= MAX_PAYLOAD:
                parts.append(data)
            rfile.readline(MAX_LINE)  # CRLF after the chunk
        while True:  # trailers (streaming error trailers are ignored)
            line = rfile.readline(MAX_LINE)
            if line in (b"\r\n", b"\n", b""):
                break
        if total > MAX_PAYLOAD:
            return b"", True
        return b"".join(parts), False


def _xray_part(headers):
    """Lambda's tail of a traced invocation's REPORT line, from its X-Ray trace header
    (``Root=1-...;Parent=...;Sampled=0``): ``\tXRAY TraceId: 1-...\tSegmentId: ...\tSampled: false``."""
    raw = headers.get(b"lambda-runtime-trace-id")
    if not raw:
        return ""
    fields = dict(p.partition("=")[::2] for p in raw.decode("latin-1").split(";"))
    root = fields.get("Root", "").strip()
    if not root:
        return ""
    sampled = "true" if fields.get("Sampled", "").strip() == "1" else "false"
    return f"\tXRAY TraceId: {root}\tSegmentId: {fields.get('Parent', '').strip()}\tSampled: {sampled}"


class Invocation:
    """One front-door /invoke from receipt to answer. Fields are guarded by ``Agent.lock`` until claimed."""

    __slots__ = (
        "request_id",
        "body",
        "headers",
        "conn",
        "version",
        "timeout_s",
        "budget_s",
        "given_deadline_ms",
        "received",
        "deadline",
        "dispatched",
        "claimed",
        "want_tail",
        "done",
        "deferred",
    )

    def __init__(self, conn, headers, body, now):
        self.conn = conn
        self.headers = headers
        self.body = body
        self.received = now
        rid = headers.get(b"lambda-runtime-aws-request-id")
        self.request_id = rid.decode("latin-1") if rid else str(uuid.uuid4())
        version = headers.get(b"x-lamina-version")
        self.version = version.decode("latin-1") if version else "$LATEST"
        timeout = headers.get(b"x-lamina-timeout-s")
        self.timeout_s = float(timeout) if timeout else None
        deadline = headers.get(b"lambda-runtime-deadline-ms")
        if deadline:
            self.given_deadline_ms = int(deadline)
            self.budget_s = max(0.0, self.given_deadline_ms / 1000.0 - time.time())
        else:
            self.budget_s = self.timeout_s if self.timeout_s is not None else DEFAULT_TIMEOUT_S
            self.given_deadline_ms = None
        if self.timeout_s is None:
            self.timeout_s = self.budget_s
        self.deadline = None  # monotonic; set at receipt or, when init is still running, at dispatch
        self.dispatched = None
        self.claimed = False
        self.want_tail = headers.get(b"x-lamina-log-tail") == b"1"
        self.deferred = None  # (outcome, body, content type) posted while extensions still work on it
        self.done = threading.Lock()
        self.done.acquire()


def _now_ms():
    return int(time.time() * 1000)


def _rfc3339(ts):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int(ts * 1000) % 1000:03d}Z"


def _tree_peak_kb(root_pid):
    """The summed peak RSS (VmHWM, kB) of process ``root_pid`` and its descendants; None if unreadable.

    What the function's processes held at most: not the page cache, not the agent (``Max Memory Used``
    counts this, so users size memory from it as on Lambda).
    """
    total, seen, todo = 0, set(), [root_pid]
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        try:
            with open(f"/proc/{pid}/status", "rb") as f:
                for line in f:
                    if line.startswith(b"VmHWM:"):
                        total += int(line.split()[1])
                        break
            for tid in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{tid}/children", "rb") as f:
                    todo.extend(int(c) for c in f.read().split())
        except (OSError, ValueError):
            if pid == root_pid:
                return None
    return total


def _read_int_file(path):
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        raw = os.read(fd, 64).strip()
    except OSError:
        return None
    finally:
        os.close(fd)
    try:
        return int(raw)
    except ValueError:
        return None  # "max" in cgroup v2


# Telemetry API (2022-07-01 and later schemas): what a subscription may ask for, and its buffering limits.
TELEMETRY_SCHEMAS = ("2022-07-01", "2022-12-13", "2025-01-29")
TELEMETRY_TYPES = ("platform", "function", "extension")
TELEMETRY_LIMITS = {"maxItems": (1000, 10000, 10000), "maxBytes": (262144, 1048576, 262144),
                    "timeoutMs": (25, 30000, 1000)}
TELEMETRY_BACKLOG = 1000  # events kept from the start of the environment for a subscription made later


class TelemetrySubscription:
    """One extension's subscription: its events are buffered and POSTed (a JSON array) to its listener
    when maxItems or maxBytes is reached or timeoutMs has passed, on a thread of its own."""

    def __init__(self, name, types, limits, host, port, path):
        self.name, self.types, self.limits = name, types, limits
        self.host, self.port, self.path = host, port, path
        self.cond = threading.Condition()
        self.items, self.size, self.first = [], 0, None
        threading.Thread(target=self.loop, name=f"telemetry-{name}", daemon=True).start()

    def add(self, event):
        if event["type"].split(".")[0] not in self.types:
            return
        raw = len(json.dumps(event))
        with self.cond:
            self.items.append(event)
            self.size += raw
            if self.first is None:  # the first of a batch starts its timeoutMs
                self.first = time.monotonic()
                self.cond.notify()
            elif len(self.items) >= self.limits["maxItems"] or self.size >= self.limits["maxBytes"]:
                self.cond.notify()

    def loop(self):
        import http.client

        while True:
            with self.cond:
                while not self.items:
                    self.cond.wait()
                due = self.first + self.limits["timeoutMs"] / 1000.0
                while (len(self.items) < self.limits["maxItems"] and self.size < self.limits["maxBytes"]
                       and time.monotonic() < due):
                    self.cond.wait(max(0.0, due - time.monotonic()))
                batch, self.items, self.size, self.first = self.items, [], 0, None
            try:
                conn = http.client.HTTPConnection(self.host, self.port, timeout=5)
                conn.request("POST", self.path, json.dumps(batch), {"Content-Type": "application/json"})
                conn.getresponse().read()
                conn.close()
            except OSError:
                pass  # the listener is not there (yet, or any more): as on Lambda, the batch is dropped


def _telemetry_subscription(name, body):
    """A TelemetrySubscription for PUT /2022-07-01/telemetry, or (errorType, message) of a bad request."""
    from urllib.parse import urlsplit

    try:
        doc = json.loads(body or b"null")
    except ValueError:
        return ("ValidationError", "The request body is not JSON")
    if not isinstance(doc, dict):
        return ("ValidationError", "The request body must be an object")
    if doc.get("schemaVersion") not in TELEMETRY_SCHEMAS:
        return ("ValidationError", f"schemaVersion must be one of {', '.join(TELEMETRY_SCHEMAS)}")
    types = doc.get("types")
    if not isinstance(types, list) or not types or any(t not in TELEMETRY_TYPES for t in types):
        return ("ValidationError", f"types must be a non-empty list of {', '.join(TELEMETRY_TYPES)}")
    buffering = doc.get("buffering") or {}
    limits = {}
    for key, (low, high, default) in TELEMETRY_LIMITS.items():
        value = buffering.get(key, default) if isinstance(buffering, dict) else None
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            return ("ValidationError", f"buffering.{key} must be an integer from {low} to {high}")
        limits[key] = value
    dest = doc.get("destination")
    if not isinstance(dest, dict) or dest.get("protocol") != "HTTP" or not isinstance(dest.get("URI"), str):
        return ("ValidationError", "destination must be {\"protocol\": \"HTTP\", \"URI\": \"http://sandbox.localdomain:PORT/...\"}")
    uri = urlsplit(dest["URI"])
    if uri.scheme != "http" or uri.hostname not in ("sandbox.localdomain", "sandbox", "localhost", "127.0.0.1"):
        return ("ValidationError", "destination.URI must be http://sandbox.localdomain:PORT/...: listeners run "
                "inside the execution environment")
    try:
        port = uri.port or 80
    except ValueError:
        return ("ValidationError", "destination.URI has a bad port")
    return TelemetrySubscription(name, frozenset(types), limits, "127.0.0.1", port,
                                 (uri.path or "/") + (f"?{uri.query}" if uri.query else ""))


class Extension:
    """One registered extension. Fields are guarded by ``Agent.lock``."""

    __slots__ = ("ident", "name", "events", "conn", "queue", "busy")

    def __init__(self, ident, name, events):
        self.ident = ident
        self.name = name
        self.events = events
        self.conn = None  # its parked GET /event/next
        self.queue = []  # event bodies not yet handed to it
        self.busy = True  # it has not called /event/next since its registration or its last event


class Agent:
    """The whole agent's state. ``lock`` guards the phase and invocation fields; ``log_lock`` the log stream."""

    def __init__(self, env):
        self.lock = threading.Lock()
        self.log_lock = threading.Lock()
        # init -> ready, or init -> failed (init error / crash / init timeout); ready -> dead (exit, timeout)
        self.phase = "init"
        self.init_end = None
        self.init_reported = False
        self.init_fail = None  # ("posted", body bytes) | ("exit", desc) | ("timeout", secs) | ("entrypoint", msg)
        self.exit_desc = None
        self.waiter = None  # runtime Conn parked in GET /next
        self.pending = None  # Invocation received, not yet handed to the runtime
        self.active = None  # Invocation handed to the runtime, not yet answered by it
        self.inflight = None  # Invocation whose caller is not yet answered
        self.runtime_pid = None
        self.runtime_gone = threading.Event()
        self.log_buf = []  # encoded JSON lines not yet handed to the platform
        self.log_len = 0
        self.log_dropped = 0
        self.peak_file = next((p for p in CGROUP_PEAK_FILES if os.path.exists(p)), None)
        self.max_rss_kb = 0
        self.log_r = None
        self.log_partial = b""
        self.log_eof = False
        self.tail = None  # list of log lines of the current invocation when the caller asked for the tail
        # A stem cell (LAMINA_CELL=1) waits, function-less, for the platform's claim (its environment).
        self.claim_env = None
        self.claimed = threading.Event()
        self.claim_done = threading.Event()
        self.prestarted = False  # the runtime was started before the claim (it waits in await_claim)
        self.env_ready = threading.Event()
        # Extensions: registered ones by identifier, the executables started (pid -> name), whether
        # registration is still open (until init completes), and the runtime's first /next held back
        # while an extension has not called its own.
        self.exts = {}
        self.ext_procs = {}
        self._ext_popens = []
        self.ext_cond = threading.Condition(self.lock)
        self.registration_open = True
        self.init_waiter = None
        self.reset_reason = "failure"
        self.telemetry = {}  # extension identifier -> TelemetrySubscription
        self.telemetry_backlog = []  # events before the first subscription (bounded)
        if env.get("LAMINA_CELL") == "1":
            self.phase = "cell"
        self._configure(env)

    def _configure(self, env):
        """Read the function's settings from ``env`` (at start, or at a stem cell's claim)."""
        self.env = env
        self.started = time.monotonic()
        # The stream's file name on the platform (its date and environment id), as the platform named it.
        self.log_stream = (env.get("AWS_LAMBDA_LOG_STREAM_NAME") or "").replace("/", "-").encode("latin-1", "replace")
        self.memory_size = env.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE") or ""
        if not self.memory_size:
            limit = next((v for v in map(_read_int_file, CGROUP_LIMIT_FILES) if v), None)
            self.memory_size = str(limit // 1048576) if limit and limit < 1 << 50 else "0"
        self.init_timeout_s = float(env.get("LAMINA_INIT_TIMEOUT_S") or 10)
        # LoggingConfig JSON: the platform's lines become Lambda's JSON events, those under the system level
        # dropped (the runtime reads AWS_LAMBDA_LOG_FORMAT / AWS_LAMBDA_LOG_LEVEL for its own records).
        self.log_json = env.get("AWS_LAMBDA_LOG_FORMAT") == "JSON"
        self.system_level = SYSTEM_LEVELS.get(env.get("LAMINA_SYSTEM_LOG_LEVEL") or "INFO", 1)
        arn = env.get("AWS_LAMBDA_FUNCTION_NAME")
        self.default_arn = (
            f"arn:aws:lambda:{env.get('AWS_REGION', 'us-east-1')}:000000000000:function:{arn}".encode() if arn else b""
        )

    def claim(self, conn, body):
        """POST /claim {"env": {...}}: a stem cell becomes the function's environment. The main thread
        starts the runtime (it holds the capabilities to start it as the runtime's user)."""
        try:
            doc = json.loads(body)
            env = doc["env"]
            if not isinstance(env, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in env.items()):
                raise ValueError("env must map strings to strings")
        except (ValueError, KeyError, TypeError) as exc:
            conn.send(400, b"Content-Type: application/json\r\n", _api_error("InvalidRequest", f"bad claim: {exc}"))
            return
        with self.lock:
            # The cell id guards against a reused address: a claim meant for a cell that is gone must not
            # land on another one that got its IP.
            if self.phase != "cell" or doc.get("cell") != self.env.get("LAMINA_CELL_ID"):
                conn.send(409, b"Content-Type: application/json\r\n",
                          _api_error("ResourceConflictException", "This environment is not that free cell"))
                return
            self.phase = "claiming"
            self.claim_env = env
        self.claimed.set()
        self.claim_done.wait(10)
        conn.send(200, b"Content-Type: application/json\r\n", b'{"claimed": true}')

    # ---------------------------------------------------------------- logs

    def _emit(self, lines, ts=None, platform=False, source="function"):
        """Keep log lines (str, no newline) as JSON objects for the next answer. Caller holds ``log_lock``.

        The platform's own lines (START, END, REPORT, timeouts, init errors) carry ``"src": "platform"``: a
        function may print text that looks like a REPORT line, but it is stored as the function's output.
        """
        ts = _now_ms() if ts is None else ts
        if self.ext_procs and not platform:  # subscribed extensions get the function's (and their) lines
            for line in lines:
                record = line
                if self.log_json and line.startswith("{"):
                    try:
                        record = json.loads(line)
                    except ValueError:
                        pass
                self.telemetry_event(source, record, ts)
        dumps = json.dumps
        src = ', "src": "platform"' if platform else ""
        out = "".join(f'{{"ts": {ts}, "msg": {dumps(line)}{src}}}\n' for line in lines).encode()
        if self.log_len + len(out) > LOG_BUFFER_BYTES and not platform:
            self.log_dropped += len(out)
        else:
            self.log_buf.append(out)
            self.log_len += len(out)
        if self.tail is not None:
            self.tail.extend(lines)

    def take_logs(self):
        """The log lines kept since the last answer, as bytes (and a note of any dropped). Holds ``log_lock``."""
        if self.log_dropped:
            dropped, self.log_dropped = self.log_dropped, 0
            note = (f"lamina: {dropped} bytes of log output were dropped: at most {LOG_BUFFER_BYTES} bytes are "
                    "kept between two invocations")
            self.log_buf.append(f'{{"ts": {_now_ms()}, "msg": {json.dumps(note)}, "src": "platform"}}\n'.encode())
        data = b"".join(self.log_buf)
        self.log_buf, self.log_len = [], 0
        return data

    def _pump(self, final=False):
        """Move what the runtime printed into the log. Caller holds ``log_lock``. Returns False at EOF."""
        if self.log_eof:
            return False
        chunks = []
        alive = True
        while True:
            try:
                data = os.read(self.log_r, 65536)
            except BlockingIOError:
                break
            except OSError:
                data = b""
            if not data:
                alive = False
                self.log_eof = True
                break
            chunks.append(data)
        if chunks or final or not alive:
            data = self.log_partial + b"".join(chunks)
            lines = data.split(b"\n")
            self.log_partial = lines.pop()
            if (final or not alive) and self.log_partial:
                lines.append(self.log_partial)
                self.log_partial = b""
            if lines:
                self._emit([ln.rstrip(b"\r").decode("utf-8", "replace") for ln in lines])
        return alive

    def log_loop(self):
        poller = select.poll()
        poller.register(self.log_r, select.POLLIN | select.POLLHUP | select.POLLERR)
        while True:
            poller.poll()
            with self.log_lock:
                if not self._pump():
                    return

    # ---------------------------------------------------------------- runtime process

    def runtime_argv(self):
        raw = self.env.get("LAMINA_RUNTIME_CMD")
        if raw:
            argv = json.loads(raw)
            if not isinstance(argv, list) or not argv or not all(isinstance(a, str) for a in argv):
                raise ValueError("LAMINA_RUNTIME_CMD must be a non-empty JSON list of strings")
            wrapper = self.env.get("AWS_LAMBDA_EXEC_WRAPPER")
            if wrapper and self.env.get("AWS_EXECUTION_ENV"):
                # Internal extensions (a managed runtime's wrapper script): it gets the runtime's command.
                return [wrapper, *argv]
            return argv
        for path in BOOTSTRAP_PATHS:
            if os.path.isfile(path):
                return [path]
        return None

    def runtime_env(self):
        """The runtime's environment: the container's (or the claim's) without the agent's own settings."""
        env = {k: v for k, v in self.env.items() if not k.startswith("LAMINA_")}
        env["AWS_LAMBDA_RUNTIME_API"] = f"{RUNTIME_API_ADDR[0]}:{RUNTIME_API_ADDR[1]}"
        return env

    def await_claim(self, conn):
        """GET /2018-06-01/runtime/lamina/claim: a runtime started ahead in a stem cell (lamina's own
        clients, LAMINA_PRESTARTED=1) waits here, its interpreter loaded, for the function's environment."""
        if not self.prestarted:
            conn.send(404, b"Content-Type: application/json\r\n", NOT_FOUND)
            return
        self.env_ready.wait()
        conn.send(200, b"Content-Type: application/json\r\n", json.dumps(self.runtime_env()).encode())

    def spawn(self):
        """Start the runtime (the Init phase begins now). Failures become the environment's init error."""
        import subprocess  # only here: spawning is the one use

        try:
            argv = self.runtime_argv()
        except ValueError as exc:
            self.fail_entrypoint(str(exc))
            return
        if argv is None:
            self.fail_entrypoint(f"Couldn't find valid bootstrap(s): [{' '.join(BOOTSTRAP_PATHS)}]")
            return
        env = self.runtime_env()
        if self.phase == "cell":  # started ahead in a stem cell: it asks for its environment at the claim
            env["LAMINA_PRESTARTED"] = "1"
        r, w = os.pipe()
        users = {}
        if RUNTIME_USER is not None:  # started as root: the runtime runs as a user other than the agent's
            users = {"user": RUNTIME_USER[0], "group": RUNTIME_USER[1], "extra_groups": []}
        try:
            proc = subprocess.Popen(
                argv,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=w,
                stderr=w,
                start_new_session=True,  # its own process group, killed as a whole on timeout
                close_fds=True,
                **users,
            )
        except OSError as exc:
            os.close(r)
            os.close(w)
            reason = (exc.strerror or str(exc)).lower()
            self.fail_entrypoint(f"fork/exec {argv[0]}: {reason}")
            return
        os.close(w)
        os.set_blocking(r, False)
        self.log_r = r
        self.runtime_pid = proc.pid
        if self.ext_procs:
            self.telemetry_event("platform.initStart", {
                "initializationType": self.env.get("AWS_LAMBDA_INITIALIZATION_TYPE") or "on-demand",
                "phase": "init", "runtimeVersion": self.env.get("AWS_EXECUTION_ENV", ""),
                "functionName": self.env.get("AWS_LAMBDA_FUNCTION_NAME", ""),
                "functionVersion": self.env.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")})
        self._proc = proc  # keep the object alive; PID 1 reaps it, never Popen.wait
        threading.Thread(target=self.log_loop, name="log", daemon=True).start()

    def fail_entrypoint(self, reason):
        """No runtime could be started. The front door already listens, so an invoke may be waiting
        for init: answer it now instead of leaving it to the platform's timeout."""
        with self.lock:
            self.init_fail = ("entrypoint", reason)
            self.phase = "failed"
            self.init_end = time.monotonic()
            inv = self._claim_inflight()
        if inv is not None:
            self.finish_init_error(inv)

    def kill_runtime(self, sig=signal.SIGKILL):
        pid = self.runtime_pid
        if pid is None:
            return
        try:
            os.killpg(pid, sig)
        except OSError:
            try:
                os.kill(pid, sig)
            except OSError:
                pass

    def reap_forever(self):
        """PID 1's duty: reap every child; the runtime's own exit ends or fails the environment."""
        while True:
            try:
                pid, status = os.waitpid(-1, 0)
            except ChildProcessError:
                # No child left: nothing can be orphaned onto us any more. Sleep until a signal ends us.
                while True:
                    signal.pause()
            if pid == self.runtime_pid:
                self.on_runtime_exit(status)
            elif pid in self.ext_procs:
                self.on_extension_exit(pid)

    def on_runtime_exit(self, status):
        if os.WIFSIGNALED(status):
            sig = os.WTERMSIG(status)
            try:
                word = SIGNAL_WORDS.get(signal.Signals(sig)) or signal.Signals(sig).name.lower()
            except ValueError:
                word = f"signal {sig}"
            desc = f"signal: {word}"
        else:
            desc = f"exit status {os.WEXITSTATUS(status)}"
        self.runtime_gone.set()
        with self.lock:
            self.exit_desc = desc
            if self.phase == "init":
                self.phase = "failed"
                self.init_fail = ("exit", desc)
                self.init_end = time.monotonic()
            elif self.phase == "ready":
                self.phase = "dead"
            inv = self._claim_inflight()
            phase = self.phase
        if inv is not None:
            if phase == "failed":
                self.finish_init_error(inv)
            else:
                self.finish(inv, "exit", self._exit_body(inv), b"application/json", reset=True)

    def init_watchdog(self):
        time.sleep(self.init_timeout_s)
        with self.lock:
            if self.phase != "init":
                return
            self.phase = "failed"
            self.init_fail = ("timeout", self.init_timeout_s)
            self.init_end = time.monotonic()
            inv = self._claim_inflight()
        self.kill_runtime()
        if inv is not None:
            self.finish_init_error(inv)

    # ---------------------------------------------------------------- invocation life cycle

    def _activate(self, inv, now):
        """Hand ``inv`` to the runtime now (the lock is held): its deadline starts at dispatch."""
        self.active = inv
        inv.dispatched = now
        inv.deadline = now + inv.budget_s

    def _claim_inflight(self):
        """Take the unanswered invocation for answering (caller holds ``lock``)."""
        inv = self.inflight
        if inv is None or inv.claimed:
            return None
        inv.claimed = True
        self.inflight = None
        if self.pending is inv:
            self.pending = None
        if self.active is inv:
            self.active = None
        return inv

    def _next_response(self, inv, now):
        """Bytes of the GET /next answer for ``inv``: AWS's headers, Content-Type exactly application/json."""
        h = inv.headers
        deadline_ms = inv.given_deadline_ms
        if deadline_ms is None:
            deadline_ms = int((time.time() + (inv.deadline - now)) * 1000)
        elif now - inv.received > 0.001:
            deadline_ms += int((now - inv.received) * 1000)  # the clock started at dispatch (init wait)
        parts = [
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nLambda-Runtime-Aws-Request-Id: ",
            inv.request_id.encode("latin-1"),
            b"\r\nLambda-Runtime-Deadline-Ms: %d\r\n" % deadline_ms,
        ]
        for src, dst in NEXT_HEADER_MAP:
            value = h.get(src)
            if value:
                parts += (dst, b": ", value, b"\r\n")
            elif src == b"lambda-runtime-invoked-function-arn" and self.default_arn:
                parts += (dst, b": ", self.default_arn, b"\r\n")
        parts.append(b"Content-Length: %d\r\n\r\n" % len(inv.body))
        return b"".join(parts)

    def dispatch(self, inv, runtime_conn, now):
        """Hand ``inv`` to the runtime over its /next connection (``inv`` is already ``active``)."""
        with self.log_lock:
            self._pump()
            self.tail = [] if inv.want_tail else None
            self._emit(self._start_lines(inv), platform=True)
        head = self._next_response(inv, now)
        if self.exts:
            self._invoke_event(inv, head)
            self.telemetry_event("platform.start", {"requestId": inv.request_id, "version": inv.version})
        body = inv.body
        try:
            if len(body) < 65536:
                runtime_conn.sock.sendall(head + body)
            else:
                runtime_conn.sock.sendall(head)
                runtime_conn.sock.sendall(body)
            if not runtime_conn.keep_alive:
                runtime_conn.sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the runtime went away; its exit is reported by the reaper or the deadline

    def finish(self, inv, outcome, body, content_type, reset=False, extra_lines=()):
        """Answer the caller of a claimed invocation: log END/REPORT, send, and end the agent on a reset."""
        now = time.monotonic()
        started = inv.dispatched if inv.dispatched is not None else inv.received
        duration_ms = (now - started) * 1000.0
        init_ms = None
        if not self.init_reported:
            self.init_reported = True
            end = self.init_end if self.init_end is not None else now
            init_ms = (end - self.started) * 1000.0
        tree_kb = _tree_peak_kb(self.runtime_pid) if self.runtime_pid else None
        if tree_kb:
            self.max_rss_kb = max(self.max_rss_kb, tree_kb)  # children that exited keep their peak here
            max_mb = (self.max_rss_kb + 1023) // 1024
        else:  # no /proc view of the runtime (gone, or a sandbox without it): the cgroup's peak
            peak = _read_int_file(self.peak_file) if self.peak_file else None
            max_mb = (peak + 1048575) // 1048576 if peak else 0
        billed = max(1, -int(-duration_ms // 1))
        if self.ext_procs:
            status = EVENT_STATUS.get(outcome, "failure")
            metrics = {"durationMs": round(duration_ms, 3), "billedDurationMs": billed,
                       "memorySizeMB": int(self.memory_size or 0), "maxMemoryUsedMB": max_mb}
            if init_ms is not None:
                metrics["initDurationMs"] = round(init_ms, 3)
            self.telemetry_event("platform.runtimeDone", {"requestId": inv.request_id, "status": status,
                                                          "metrics": {"durationMs": round(duration_ms, 3)}})
            self.telemetry_event("platform.report", {"requestId": inv.request_id, "status": status,
                                                     "metrics": metrics})
        if self.log_json:
            end_lines = self._json_end_lines(inv, outcome, extra_lines, duration_ms, billed, init_ms, max_mb)
        else:
            rid = inv.request_id
            init_part = f"Init Duration: {init_ms:.2f} ms\t" if init_ms is not None else ""
            report = (
                f"REPORT RequestId: {rid}\t{init_part}Duration: {duration_ms:.2f} ms\tBilled Duration: {billed} ms\t"
                f"Memory Size: {self.memory_size} MB\tMax Memory Used: {max_mb} MB{_xray_part(inv.headers)}"
            )
            end_lines = [*extra_lines, f"END RequestId: {rid}", report]
        with self.log_lock:
            if self.log_r is not None:
                self._pump(final=reset)
            if inv.dispatched is None:
                self.tail = [] if inv.want_tail else None
                self._emit(self._start_lines(inv), platform=True)
            self._emit(end_lines, platform=True)
            tail = self.tail
            self.tail = None
            logs = self.take_logs()
        headers = [
            b"Content-Type: ",
            content_type,
            b"\r\nX-Lamina-Outcome: ",
            outcome.encode(),
            b"\r\nX-Lamina-Duration-Ms: %.3f\r\nX-Lamina-Max-Memory-Mb: %d\r\n" % (duration_ms, max_mb),
        ]
        if outcome != "success":
            headers.append(b"X-Lamina-Function-Error: Unhandled\r\n")
        if reset:
            headers.append(b"X-Lamina-Reset: 1\r\n")
            self.reset_reason = "timeout" if outcome == "timeout" else "failure"
        if self.ext_procs:  # the platform sends SIGTERM before removing it, so they get SHUTDOWN
            headers.append(b"X-Lamina-Extensions: %d\r\n" % len(self.ext_procs))
        # 0: the event never reached the runtime (it was dead or died before its /next), so the platform
        # may run it elsewhere without running it twice.
        headers.append(b"X-Lamina-Dispatched: 0\r\n" if inv.dispatched is None else b"X-Lamina-Dispatched: 1\r\n")
        if init_ms is not None:
            headers.append(b"X-Lamina-Init-Duration-Ms: %.3f\r\n" % init_ms)
        if tail is not None:
            text = ("\n".join(tail) + "\n").encode("utf-8", "replace")[-TAIL_BYTES:]
            headers += (b"X-Lamina-Log-Result: ", base64.b64encode(text), b"\r\n")
        # The log lines ride after the response payload; the platform splits them off and writes the stream.
        headers.append(b"X-Lamina-Log-Length: %d\r\nX-Lamina-Log-Stream: %s\r\n" % (len(logs), self.log_stream))
        conn = inv.conn
        try:
            conn.send(200, b"".join(headers), body + logs if logs else body, close=reset)
        except OSError:
            pass
        if reset:
            self.shutdown(conn)
        inv.done.release()

    def _start_lines(self, inv):
        if not self.log_json:
            return [f"START RequestId: {inv.request_id} Version: {inv.version}"]
        record = {"requestId": inv.request_id, "version": inv.version}
        tenant = inv.headers.get(b"lambda-runtime-aws-tenant-id")
        if tenant:
            record["tenantId"] = tenant.decode("utf-8", "replace")
        return self._json_events([("platform.start", 1, record)])

    def _json_end_lines(self, inv, outcome, extra_lines, duration_ms, billed, init_ms, max_mb):
        """Lambda's platform.runtimeDone and platform.report events (JSON LogFormat) of a finished invoke."""
        status = EVENT_STATUS.get(outcome, "failure")
        done = {"requestId": inv.request_id, "status": status, "metrics": {"durationMs": round(duration_ms, 3)}}
        metrics = {"durationMs": round(duration_ms, 3), "billedDurationMs": billed,
                   "memorySizeMB": int(self.memory_size or 0), "maxMemoryUsedMB": max_mb}
        if init_ms is not None:
            metrics["initDurationMs"] = round(init_ms, 3)
        report = {"requestId": inv.request_id, "metrics": metrics, "status": status}
        if status != "success":
            kind = "Sandbox.Timedout" if status == "timeout" else ("Runtime.ExitError" if outcome == "exit" else None)
            if kind:
                done["errorType"] = report["errorType"] = kind
            if extra_lines:
                done["errorMessage"] = " ".join(extra_lines)
        level = 1 if status == "success" else 2
        return self._json_events([("platform.runtimeDone", level, done), ("platform.report", level, report)])

    def _json_events(self, events):
        """JSON lines of (type, level, record) at or above the system log level."""
        now = _rfc3339(time.time())
        return [json.dumps({"time": now, "type": kind, "record": record}, separators=(",", ":"))
                for kind, level, record in events if level >= self.system_level]

    def finish_init_error(self, inv):
        kind, data = self.init_fail
        if kind == "posted":
            # A runtime exits right after posting its init error: give it a moment so what it printed on
            # the way out is in the log before the environment ends.
            self.runtime_gone.wait(0.5)
            body = data
        elif kind == "exit":
            body = self._exit_body(inv)
        elif kind == "timeout":
            body = self._timeout_body(inv, data)
        else:
            body = json.dumps(
                {"errorType": "Runtime.InvalidEntrypoint", "errorMessage": f"RequestId: {inv.request_id} Error: {data}"}
            ).encode()
        self.finish(inv, "init_error", body, b"application/json", reset=True)

    def _exit_body(self, inv):
        desc = self.exit_desc or "exit status 1"
        return json.dumps(
            {
                "errorType": "Runtime.ExitError",
                "errorMessage": f"RequestId: {inv.request_id} Error: Runtime exited with error: {desc}",
            }
        ).encode()

    @staticmethod
    def _timeout_message(inv, secs):
        return f"{_rfc3339(time.time())} {inv.request_id} Task timed out after {secs:.2f} seconds"

    def _timeout_body(self, inv, secs):
        return json.dumps({"errorType": "Sandbox.Timedout", "errorMessage": self._timeout_message(inv, secs)}).encode()

    def shutdown(self, conn):
        """End the environment after a reset answer: let the caller read it, kill the runtime, exit."""
        try:
            conn.sock.settimeout(1.0)
            while conn.sock.recv(65536):
                pass
        except OSError:
            pass
        self.kill_runtime()
        self.shutdown_extensions(self.reset_reason)
        with self.log_lock:
            if self.log_r is not None and not self.log_eof:
                self._pump(final=True)
            self._spill_logs()
        os._exit(0)

    def _spill_logs(self):
        """Lines no answer will carry any more go to the container's own log (Docker's), not lost. Holds
        ``log_lock``."""
        data = self.take_logs()
        if data:
            try:
                os.write(2, data)
            except OSError:
                pass

    # ---------------------------------------------------------------- front door (0.0.0.0:8080)

    def front_door(self, conn, method, target, headers, body, too_large):
        if target == b"/invoke" and method == b"POST":
            if too_large:
                conn.send(
                    413,
                    b"Content-Type: application/json\r\n",
                    _api_error("RequestEntityTooLargeException", "Request must be smaller than 6291556 bytes"),
                )
                return
            self.invoke(conn, headers, body)
        elif target == b"/claim" and method == b"POST":
            self.claim(conn, body)
        elif target == b"/ready":  # the platform waits on "phase" for provisioned concurrency's init
            conn.send(200, b"Content-Type: application/json\r\n",
                      b'{"ready": true, "phase": "%s"}' % self.phase.encode())
        else:
            conn.send(404, b"Content-Type: application/json\r\n", NOT_FOUND)

    def invoke(self, conn, headers, body):
        now = time.monotonic()
        try:
            inv = Invocation(conn, headers, body, now)
        except ValueError:
            conn.send(400, b"Content-Type: application/json\r\n", _api_error("InvalidRequest", "bad header value"))
            return
        runtime_conn = None
        with self.lock:
            if self.inflight is not None:
                busy = True
            else:
                busy = False
                self.inflight = inv
                phase = self.phase
                if phase == "ready" or phase == "init":
                    if phase == "ready":
                        inv.deadline = now + inv.budget_s
                    runtime_conn = self.waiter
                    if runtime_conn is not None and self.exts and self._extensions_busy():
                        runtime_conn = None  # extensions still on the last invoke: dispatched after them
                    if runtime_conn is not None:
                        self.waiter = None
                        self._activate(inv, now)
                    else:
                        self.pending = inv
                else:
                    inv = self._claim_inflight()
        if busy:
            conn.send(
                409,
                b"Content-Type: application/json\r\n",
                _api_error("ResourceConflictException", "An invocation is already in progress in this environment"),
            )
            return
        if runtime_conn is None and inv.claimed:
            if phase == "failed":
                self.finish_init_error(inv)
            else:
                self.finish(inv, "exit", self._exit_body(inv), b"application/json", reset=True)
            return
        if runtime_conn is not None:
            self.dispatch(inv, runtime_conn, now)
        self.await_answer(inv)

    def await_answer(self, inv):
        """Block this connection's thread until ``inv`` is answered; enforce the function timeout."""
        done = inv.done
        while True:
            deadline = inv.deadline
            if deadline is None:
                # Still waiting for init (the watchdog bounds that); the clock starts at dispatch, which
                # happens on the runtime's thread, so look again shortly.
                wait = 0.02
            else:
                wait = deadline - time.monotonic()
            if wait > 0 and done.acquire(timeout=wait):
                return
            with self.lock:
                if inv.claimed:
                    claimed_by_us = False
                elif inv.deadline is not None and time.monotonic() >= inv.deadline:
                    claimed_by_us = True
                    inv.claimed = True
                    self.inflight = None
                    self.pending = None if self.pending is inv else self.pending
                    self.active = None if self.active is inv else self.active
                    self.phase = "dead" if self.phase in ("ready", "init") else self.phase
                else:
                    continue
            if not claimed_by_us:
                done.acquire()
                return
            self.kill_runtime()
            message = self._timeout_message(inv, inv.timeout_s)
            body = json.dumps({"errorType": "Sandbox.Timedout", "errorMessage": message}).encode()
            self.finish(inv, "timeout", body, b"application/json", reset=True, extra_lines=(message,))
            return

    # ---------------------------------------------------------------- Runtime API (127.0.0.1:9001)

    def runtime_api(self, conn, method, target, headers, body, too_large):
        path = target.decode("latin-1")
        if path.startswith("/2020-01-01/extension/"):
            self.extension_api(conn, method, path, headers, body)
            return
        if path == "/2022-07-01/telemetry" and method == b"PUT":
            self.telemetry_subscribe(conn, headers, body)
            return
        if path == "/2020-08-15/logs" and method == b"PUT":
            # The Logs API was replaced by the Telemetry API: say so in the API's own shape, as the RIE does.
            conn.send(202, b"Content-Type: application/json\r\n",
                      _api_error("Logs.NotSupported", "The Logs API is not supported; use the Telemetry API"))
            return
        if not path.startswith("/2018-06-01/runtime/"):
            conn.send(404, b"Content-Type: application/json\r\n", NOT_FOUND)
            return
        rest = path[20:]
        if rest == "invocation/next":
            if method != b"GET":
                conn.send(405, b"Content-Type: application/json\r\n", NOT_FOUND)
                return
            self.next(conn)
        elif rest.startswith("invocation/") and method == b"POST":
            rid, _, kind = rest[11:].rpartition("/")
            if kind == "response":
                self.post_result(conn, rid, headers, body, too_large, error=False)
            elif kind == "error":
                self.post_result(conn, rid, headers, body, too_large, error=True)
            else:
                conn.send(404, b"Content-Type: application/json\r\n", NOT_FOUND)
        elif rest == "lamina/claim" and method == b"GET":
            self.await_claim(conn)
        elif rest == "init/error" and method == b"POST":
            self.post_init_error(conn, headers, body)
        else:
            conn.send(404, b"Content-Type: application/json\r\n", NOT_FOUND)

    def next(self, conn):
        now = time.monotonic()
        with self.lock:
            phase = self.phase
            if phase == "init" and self.exts and self._extensions_busy() and self.init_waiter is None:
                # Init completes when every extension has called /event/next too (_extensions_advanced).
                self.init_waiter = conn
                return
            if phase == "init":
                self.phase = phase = "ready"
                self.init_end = now
                self.registration_open = False
                if self.ext_procs:
                    self._init_events(now)
            if phase != "ready" or self.active is not None or self.waiter is not None:
                forbidden = self._state_name()
            else:
                forbidden = None
                inv = self.pending
                if inv is not None and self.exts and self._extensions_busy():
                    inv = None  # the extensions are still on the last invoke: it is dispatched after them
                    self.waiter = conn
                elif inv is not None:
                    self.pending = None
                    self._activate(inv, now)
                else:
                    self.waiter = conn  # parked: the next /invoke writes the answer on this socket
        if forbidden:
            conn.send(403, b"Content-Type: application/json\r\n", _invalid_state(forbidden, "Ready"))
        elif inv is not None:
            self.dispatch(inv, conn, now)

    def unpark(self, conn):
        """The runtime's (or an extension's) connection closed: forget it if it was a parked /next."""
        with self.lock:
            if self.waiter is conn:
                self.waiter = None
            if self.init_waiter is conn:
                self.init_waiter = None
            for ext in self.exts.values():
                if ext.conn is conn:
                    ext.conn = None

    def _parked_extension(self, conn):
        return conn is self.init_waiter or any(e.conn is conn for e in self.exts.values())

    def _state_name(self):
        """The RIE's name for the runtime's state (caller holds ``lock``), for 403 messages."""
        if self.phase == "init":
            return "Started"
        if self.phase == "failed":
            return "InitError"
        if self.active is not None:
            return "Running"
        if self.waiter is not None:
            return "Ready"
        return "RuntimeResponseSentState"

    def post_result(self, conn, rid, headers, body, too_large, error):
        # As the RIE: the runtime's state first (403 unless an invocation is running, so a second answer
        # is 403 too), then the request id (400).
        with self.lock:
            inv = self.active
            state = None
            if inv is None or inv.claimed:
                status = 403
                state = self._state_name()
            elif inv.request_id != rid:
                status = 400
            elif not too_large and headers.get(b"lambda-runtime-function-response-mode", b"streaming") != b"streaming":
                status = 0
            else:
                status = 413 if too_large else 202
                self.active = None
                if self.exts and self._extensions_busy() and not too_large:
                    # The invoke completes when the extensions have called /event/next too; until then
                    # the function's timeout still runs (await_answer) and the answer waits.
                    status = 1
                else:
                    inv.claimed = True
                    self.inflight = None
        if status == 403:
            target = "InvocationErrorResponse" if error else "InvocationResponse"
            conn.send(403, b"Content-Type: application/json\r\n", _invalid_state(state, target))
            return
        if status == 0:
            conn.send(400, b"Content-Type: application/json\r\n", BAD_RESPONSE_MODE)
            return
        if status == 400:
            conn.send(400, b"Content-Type: application/json\r\n", INVALID_REQUEST_ID)
            return
        if too_large:
            # The caller learns the size it would have got; the environment lives on.
            size = int(headers.get(b"content-length") or 0)
            size_text = f"Response payload size ({size} bytes)" if size else "Response payload size"
            out = json.dumps(
                {
                    "errorType": "Function.ResponseSizeTooLarge",
                    "errorMessage": f"{size_text} exceeded maximum allowed payload size ({MAX_PAYLOAD} bytes).",
                }
            ).encode()
            self.finish(inv, "error", out, b"application/json")
            conn.send(413, b"Content-Type: application/json\r\n", TOO_LARGE)
            return
        if error:
            outcome = ("error", _error_body(body, headers), b"application/json")
        else:
            outcome = ("success", body, headers.get(b"content-type") or b"application/json")
        if status == 1:
            inv.deferred = outcome
            conn.send(202, b"Content-Type: application/json\r\n", ACCEPTED)
            self._extensions_advanced()  # they may have finished meanwhile
            return
        self.finish(inv, *outcome)
        conn.send(202, b"Content-Type: application/json\r\n", ACCEPTED)

    def post_init_error(self, conn, headers, body):
        with self.lock:
            if self.phase != "init":
                allowed = False
                state = self._state_name()
            else:
                allowed = True
                self.phase = "failed"
                self.init_fail = ("posted", _error_body(body, headers))
                self.init_end = time.monotonic()
                inv = self._claim_inflight()
        if not allowed:
            conn.send(403, b"Content-Type: application/json\r\n", _invalid_state(state, "InitError"))
            return
        # Exactly 202 first (the Python RIC checks), then answer a waiting caller, which ends the agent.
        conn.send(202, b"Content-Type: application/json\r\n", ACCEPTED)
        if inv is not None:
            self.finish_init_error(inv)

    # ---------------------------------------------------------------- Extensions API (2020-01-01)

    def start_extensions(self):
        """Start the executables of /opt/extensions (Extension init), then wait until each registered, exited
        or the init timeout passed. Runs on the main thread, which can still start processes as the
        runtime's user; the Runtime API listener is already up."""
        import subprocess

        try:
            names = sorted(n for n in os.listdir(EXTENSIONS_DIR)
                           if os.path.isfile(os.path.join(EXTENSIONS_DIR, n))
                           and os.access(os.path.join(EXTENSIONS_DIR, n), os.X_OK))
        except OSError:
            return
        if not names:
            return
        r, w = os.pipe()
        users = {}
        if RUNTIME_USER is not None:
            users = {"user": RUNTIME_USER[0], "group": RUNTIME_USER[1], "extra_groups": []}
        env = self.runtime_env()
        for name in names[:MAX_EXTENSIONS]:
            try:
                proc = subprocess.Popen([os.path.join(EXTENSIONS_DIR, name)], env=env, stdin=subprocess.DEVNULL,
                                        stdout=w, stderr=w, start_new_session=True, close_fds=True, **users)
            except OSError as exc:
                with self.log_lock:
                    self._emit([f"lamina: extension {name} could not be started: {exc.strerror or exc}"],
                               platform=True)
                continue
            self.ext_procs[proc.pid] = name
            self._ext_popens.append(proc)  # PID 1 reaps them (never Popen.wait); keep the objects alive
        os.close(w)
        os.set_blocking(r, False)
        threading.Thread(target=self._ext_log_loop, args=(r,), name="ext-log", daemon=True).start()
        deadline = time.monotonic() + self.init_timeout_s
        with self.ext_cond:
            while time.monotonic() < deadline:
                registered = {e.name for e in self.exts.values()}
                if all(n in registered for n in self.ext_procs.values()):
                    break
                self.ext_cond.wait(max(0.0, deadline - time.monotonic()))

    def _ext_log_loop(self, fd):
        """Extensions' output goes to the function's log stream, like the runtime's."""
        partial = b""
        poller = select.poll()
        poller.register(fd, select.POLLIN | select.POLLHUP | select.POLLERR)
        while True:
            poller.poll()
            try:
                data = os.read(fd, 65536)
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            if data:
                *lines, partial = (partial + data).split(b"\n")
            else:  # every extension closed its output: the last unterminated line, then done
                lines, partial = ([partial] if partial else []), b""
            if lines:
                with self.log_lock:
                    self._emit([ln.rstrip(b"\r").decode("utf-8", "replace") for ln in lines], source="extension")
            if not data:
                os.close(fd)
                return

    def on_extension_exit(self, pid):
        """An extension process ended: it no longer holds back init or an invoke."""
        name = self.ext_procs.pop(pid, None)
        with self.lock:
            for ident, ext in list(self.exts.items()):
                if ext.name == name:
                    del self.exts[ident]
            self.ext_cond.notify_all()
        if name is not None and self.phase in ("init", "ready"):
            self._extensions_advanced()

    def extension_api(self, conn, method, path, headers, body):
        rest = path[len("/2020-01-01/extension/"):]
        if rest == "register" and method == b"POST":
            self.ext_register(conn, headers, body)
        elif rest == "event/next" and method == b"GET":
            self.ext_next(conn, headers)
        elif rest in ("init/error", "exit/error") and method == b"POST":
            self.ext_error(conn, rest, headers, body)
        else:
            conn.send(404, b"Content-Type: application/json\r\n", NOT_FOUND)

    def ext_register(self, conn, headers, body):
        name = (headers.get(b"lambda-extension-name") or b"").decode("utf-8", "replace")
        try:
            doc = json.loads(body) if body else {}
            events = doc.get("events") if isinstance(doc, dict) else None
            if not isinstance(events, list) or not all(isinstance(e, str) for e in events):
                raise ValueError("events must be a list of strings")
        except ValueError as exc:
            conn.send(400, b"Content-Type: application/json\r\n", _api_error("InvalidRequestFormat", str(exc)))
            return
        error = None
        if not name:
            error = (403, "Extension.MissingExtensionName", "Empty extension name")
        elif "configurationKeys" in doc:
            error = (403, "Extension.UnsupportedConfigurationKeys", "configurationKeys are not supported")
        elif any(e not in EXTENSION_EVENTS for e in events):
            error = (403, "Extension.InvalidEventType", f"Invalid event types: {events}")
        with self.lock:
            if error is None and not self.registration_open:
                error = (403, "Extension.RegistrationClosed", "Registration is closed: init has completed")
            elif error is None and any(e.name == name for e in self.exts.values()):
                error = (409, "Extension.AlreadyRegistered", f"Extension {name} is already registered")
            elif error is None and len(self.exts) >= MAX_EXTENSIONS:
                error = (403, "Extension.TooManyExtensions", f"At most {MAX_EXTENSIONS} extensions can register")
            if error is None:
                ext = Extension(str(uuid.uuid4()), name, frozenset(events))
                self.exts[ext.ident] = ext
                self.ext_cond.notify_all()
        if error is not None:
            conn.send(error[0], b"Content-Type: application/json\r\n", _api_error(error[1], error[2]))
            return
        self.telemetry_event("platform.extension", {"name": name, "state": "Ready", "events": sorted(events)})
        out = {"functionName": self.env.get("AWS_LAMBDA_FUNCTION_NAME", ""),
               "functionVersion": self.env.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
               "handler": self.env.get("_HANDLER", "")}
        if b"accountId" in (headers.get(b"lambda-extension-accept-feature") or b""):
            out["accountId"] = self.default_arn.decode().split(":")[4] if self.default_arn else ""
        conn.send(200, b"Content-Type: application/json\r\nLambda-Extension-Identifier: %s\r\n"
                  % ext.ident.encode(), json.dumps(out).encode())

    def _ext_of(self, conn, headers):
        """The registered extension a request names, or None (after answering 403)."""
        raw = headers.get(b"lambda-extension-identifier")
        if not raw:
            conn.send(403, b"Content-Type: application/json\r\n", _api_error(
                "Extension.MissingExtensionIdentifier", "Missing Lambda-Extension-Identifier header"))
            return None
        ext = self.exts.get(raw.decode("latin-1"))
        if ext is None:
            conn.send(403, b"Content-Type: application/json\r\n", _api_error(
                "Extension.InvalidExtensionIdentifier", "Invalid Lambda-Extension-Identifier"))
        return ext

    def ext_next(self, conn, headers):
        ext = self._ext_of(conn, headers)
        if ext is None:
            return
        with self.lock:
            if ext.queue:
                event = ext.queue.pop(0)
            else:
                event = None
                ext.busy = False
                ext.conn = conn
        if event is not None:
            self._send_event(conn, event)
        else:
            self._extensions_advanced()

    def ext_error(self, conn, kind, headers, body):
        ext = self._ext_of(conn, headers)
        if ext is None:
            return
        error_type = (headers.get(b"lambda-extension-function-error-type") or b"Extension.Unknown").decode(
            "latin-1", "replace")
        if kind == "init/error":
            self.post_init_error(conn, {b"lambda-runtime-function-error-type": error_type.encode()}, body)
            return
        # exit/error: the extension is going away; it holds nothing back any more.
        with self.lock:
            self.exts.pop(ext.ident, None)
        with self.log_lock:
            self._emit([f"Extension {ext.name} reported an exit error: {error_type}"], platform=True)
        conn.send(202, b"Content-Type: application/json\r\n", ACCEPTED)
        self._extensions_advanced()

    def _send_event(self, conn, event):
        try:
            conn.send(200, b"Content-Type: application/json\r\nLambda-Extension-Event-Identifier: %s\r\n"
                      % str(uuid.uuid4()).encode(), event)
        except OSError:
            pass

    def _invoke_event(self, inv, next_head):
        """INVOKE to the subscribed extensions, with the deadline the runtime was given."""
        marker = b"Lambda-Runtime-Deadline-Ms: "
        start = next_head.index(marker) + len(marker)
        deadline_ms = int(next_head[start:next_head.index(b"\r\n", start)])
        h = inv.headers
        arn = (h.get(b"lambda-runtime-invoked-function-arn") or self.default_arn or b"").decode("latin-1")
        trace = (h.get(b"lambda-runtime-trace-id") or b"").decode("latin-1")
        self._deliver("INVOKE", json.dumps({
            "eventType": "INVOKE", "deadlineMs": deadline_ms, "requestId": inv.request_id,
            "invokedFunctionArn": arn, "tracing": {"type": "X-Amzn-Trace-Id", "value": trace},
        }).encode())

    def _deliver(self, kind, event):
        """Hand ``event`` (bytes) to every extension subscribed to ``kind``; each is busy until its next."""
        ready = []
        with self.lock:
            for ext in self.exts.values():
                if kind not in ext.events:
                    continue
                ext.busy = True
                if ext.conn is not None:
                    ready.append(ext.conn)
                    ext.conn = None
                else:
                    ext.queue.append(event)
        for conn in ready:
            self._send_event(conn, event)

    def _extensions_busy(self):
        """Caller holds ``lock``."""
        return any(e.busy for e in self.exts.values())

    def _extensions_advanced(self):
        """An extension called /event/next or went away: complete init, an invoke held for the extensions,
        or dispatch the next invocation, whichever waited on them."""
        now = time.monotonic()
        finish = dispatch = None
        runtime_conn = None
        with self.lock:
            if self._extensions_busy():
                return
            if self.phase == "init" and self.init_waiter is not None:
                runtime_conn, self.init_waiter = self.init_waiter, None
                self.phase = "ready"
                self.init_end = now
                self.registration_open = False
                self._init_events(now)
                inv = self.pending
                if inv is not None:
                    self.pending = None
                    self._activate(inv, now)
                    dispatch = inv
                else:
                    self.waiter = runtime_conn
            elif self.phase == "ready":
                inv = self.inflight
                if inv is not None and inv.deferred is not None and not inv.claimed:
                    inv.claimed = True
                    self.inflight = None
                    finish = inv
                elif self.pending is not None and self.waiter is not None and self.active is None:
                    inv, self.pending = self.pending, None
                    runtime_conn, self.waiter = self.waiter, None
                    self._activate(inv, now)
                    dispatch = inv
        if finish is not None:
            self.finish(finish, *finish.deferred)
        if dispatch is not None:
            self.dispatch(dispatch, runtime_conn, now)

    def telemetry_subscribe(self, conn, headers, body):
        ext = self._ext_of(conn, headers)
        if ext is None:
            return
        got = _telemetry_subscription(ext.name, body)
        if isinstance(got, tuple):
            conn.send(400, b"Content-Type: application/json\r\n", _api_error(*got))
            return
        self.telemetry_event("platform.telemetrySubscription", {"name": ext.name, "state": "Subscribed",
                                                                "types": sorted(got.types)})
        with self.lock:
            self.telemetry[ext.ident] = got
            backlog = list(self.telemetry_backlog)
        for event in backlog:
            got.add(event)
        conn.send(200, b"Content-Type: text/plain\r\n", b"OK")

    def _init_events(self, now):
        kind = self.env.get("AWS_LAMBDA_INITIALIZATION_TYPE") or "on-demand"
        self.telemetry_event("platform.initRuntimeDone", {"initializationType": kind, "phase": "init",
                                                          "status": "success"})
        self.telemetry_event("platform.initReport", {
            "initializationType": kind, "phase": "init", "status": "success",
            "metrics": {"durationMs": round((now - self.started) * 1000.0, 3)}})

    def telemetry_event(self, kind, record, ts=None):
        """One Telemetry API event (``platform.*``, ``function``, ``extension``) to the subscriptions."""
        event = {"time": _rfc3339(time.time() if ts is None else ts / 1000.0), "type": kind, "record": record}
        subs = list(self.telemetry.values())
        if len(self.telemetry_backlog) < TELEMETRY_BACKLOG:
            self.telemetry_backlog.append(event)
        for sub in subs:
            sub.add(event)

    def shutdown_extensions(self, reason):
        """SHUTDOWN to the subscribed extensions; wait (within Lambda's limit) for their processes to exit."""
        if not self.ext_procs:
            return
        deadline = time.time() + SHUTDOWN_GRACE_S
        event = json.dumps({"eventType": "SHUTDOWN", "shutdownReason": reason,
                            "deadlineMs": int(deadline * 1000)}).encode()
        self._deliver("SHUTDOWN", event)
        limit = time.monotonic() + SHUTDOWN_GRACE_S
        left = set(self.ext_procs)
        while left and time.monotonic() < limit:
            for pid in list(left):
                try:
                    done, _ = os.waitpid(pid, os.WNOHANG)
                except ChildProcessError:  # reaped by PID 1's loop meanwhile
                    done = pid
                if done:
                    left.discard(pid)
            time.sleep(0.01)
        for pid in left:
            try:
                os.killpg(pid, signal.SIGKILL)
            except OSError:
                pass

    # ---------------------------------------------------------------- servers

    def serve(self, addr, handler, name):
        """Serve ``handler`` on a TCP ``(host, port)``, or on a unix socket path (``str``): an environment
        without a network (VpcConfig ``none``) is reached through a socket in a directory its host
        bind-mounts."""
        if isinstance(addr, str):
            try:
                os.unlink(addr)
            except FileNotFoundError:
                pass
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.bind(addr)
            os.chmod(addr, 0o666)  # the platform may run as another user; the directory is this environment's
            sock.listen(1024)
        else:
            sock = socket.create_server(addr, backlog=1024)
        threading.Thread(target=self.accept_loop, args=(sock, handler, name), name=name, daemon=True).start()

    def accept_loop(self, listener, handler, name):
        while True:
            try:
                sock, _ = listener.accept()
            except OSError:
                time.sleep(0.01)
                continue
            if sock.family != socket.AF_UNIX:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            threading.Thread(target=self.connection, args=(sock, handler), name=name, daemon=True).start()

    def connection(self, sock, handler):
        conn = Conn(sock)
        try:
            while True:
                try:
                    req = conn.read_request()
                except BadRequest as exc:
                    body = _api_error("BadRequest", str(exc))
                    conn.send(exc.status, b"Content-Type: application/json\r\n", body, True)
                    break
                if req is None:
                    break
                handler(conn, *req)
                # A parked /next of a non-keep-alive client is answered (and shut) by the dispatcher.
                if not conn.keep_alive and self.waiter is not conn and not self._parked_extension(conn):
                    break
        except OSError:
            pass
        finally:
            if handler == self.runtime_api:
                self.unpark(conn)
            try:
                sock.close()
            except OSError:
                pass

    def on_sigterm(self, signum, frame):
        """Forward SIGTERM to the runtime (and SHUTDOWN to extensions), give them a moment, end the environment."""
        self.kill_runtime(signal.SIGTERM)
        self.shutdown_extensions("spindown")
        pid = self.runtime_pid
        limit = time.monotonic() + 2.0
        while pid is not None and time.monotonic() < limit:
            try:
                done, _ = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                break
            if done:
                break
            time.sleep(0.01)
        self.kill_runtime()
        # What the runtime printed on its way out belongs in the log. The main thread may itself hold
        # the lock (a signal landed inside finish()), hence the bounded wait.
        if self.log_lock.acquire(timeout=0.5):
            try:
                if self.log_r is not None:
                    self._pump(final=True)
                self._spill_logs()
            finally:
                self.log_lock.release()
        os._exit(0)


def _error_body(body, headers):
    """The error as the caller sees it: errorCause (X-Ray) stripped, errorType from the header if absent."""
    header_type = headers.get(b"lambda-runtime-function-error-type")
    header_type = header_type.decode("latin-1") if header_type else None
    try:
        obj = json.loads(body) if body else None
    except ValueError:
        obj = None
    if not isinstance(obj, dict):
        return json.dumps(
            {
                "errorType": header_type or "Runtime.Unknown",
                "errorMessage": body.decode("utf-8", "replace") if body else "",
            }
        ).encode()
    obj.pop("errorCause", None)
    if not obj.get("errorType") and header_type:
        obj["errorType"] = header_type
    return json.dumps(obj).encode()


def _users(env):
    """(runtime user, agent user) as (uid, gid) pairs when the agent starts as root, else (None, None)."""
    if os.getuid() != 0:
        return None, None
    pairs = []
    for key, default in (("LAMINA_RUNTIME_USER", "993:990"), ("LAMINA_AGENT_USER", "994:994")):
        uid, _, gid = (env.get(key) or default).partition(":")
        pairs.append((int(uid), int(gid or uid)))
    return pairs[0], pairs[1]


RUNTIME_USER, AGENT_USER = _users(os.environ)
PR_SET_KEEPCAPS, PR_CAPBSET_DROP, CAP_KILL = 8, 24, 5


def _drop_bounding_set():
    """Empty the bounding set, so nothing the runtime executes can ever hold a capability."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    for cap in range(64):
        if libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 and ctypes.get_errno() == 22:  # EINVAL: past the last
            break


def _become_agent_user():
    """Give up root for the agent's own user, keeping only CAP_KILL (to signal the runtime, which runs as
    another user): the runtime then cannot open the agent's /proc entries, its memory or descriptors, nor
    signal or trace it, under runc and gVisor alike (gVisor does not honour PR_SET_DUMPABLE)."""
    import ctypes

    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    class Data(ctypes.Structure):
        _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]

    libc = ctypes.CDLL(None, use_errno=True)
    uid, gid = AGENT_USER
    libc.prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0)
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
    data = (Data * 2)()
    data[0].effective = data[0].permitted = 1 << CAP_KILL
    if libc.capset(ctypes.byref(Header(0x20080522, 0)), data) != 0:  # _LINUX_CAPABILITY_VERSION_3
        os.write(2, b"lamina agent: cannot keep CAP_KILL; a timed-out runtime ends with its container\n")
    libc.prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0)


def _not_dumpable():
    """PR_SET_DUMPABLE 0: the runtime runs as the agent's user, but may not open the agent's /proc entries
    (its memory, its descriptors: the front door's sockets) nor ptrace it."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE = 4
    except (OSError, AttributeError):
        os.write(2, b"lamina agent: cannot make itself non-dumpable\n")


def main():
    # Short GIL slices: the hot path hops between a few threads that mostly sleep in the kernel.
    sys.setswitchinterval(0.0005)
    agent = Agent(dict(os.environ))
    signal.signal(signal.SIGTERM, agent.on_sigterm)
    signal.signal(signal.SIGINT, agent.on_sigterm)
    _not_dumpable()
    if RUNTIME_USER is not None:
        _drop_bounding_set()
    # Listen before the runtime starts so its first /next never meets a closed port.
    agent.serve(RUNTIME_API_ADDR, agent.runtime_api, "runtime-api")
    front = agent.env.get("LAMINA_AGENT_SOCKET") or ("0.0.0.0", int(agent.env.get("LAMINA_AGENT_PORT") or 8080))
    agent.serve(front, agent.front_door, "front-door")
    if agent.phase == "cell":
        prestart = agent.env.get("LAMINA_CELL_PRESTART") == "1" and agent.env.get("LAMINA_RUNTIME_CMD")
        if prestart:  # lamina's own runtime client loads its interpreter now and waits for the claim
            agent.spawn()
            agent.prestarted = agent.runtime_pid is not None
        agent.claimed.wait()  # the function's environment arrives with the claim; its Init begins then
        cell_env = dict(os.environ)
        cell_env.update(agent.claim_env or {})
        cell_env.pop("LAMINA_CELL", None)
        same = (cell_env.get("LAMINA_RUNTIME_CMD") == agent.env.get("LAMINA_RUNTIME_CMD")
                and not cell_env.get("AWS_LAMBDA_EXEC_WRAPPER"))  # a wrapper starts the runtime itself
        with agent.lock:
            agent._configure(cell_env)
            agent.phase = "init"
        alive = agent.prestarted and os.waitpid(agent.runtime_pid, os.WNOHANG) == (0, 0)
        if not (alive and same):
            if alive:  # another runtime than the one started ahead (not sent by the platform): replace it
                agent.kill_runtime()
                os.waitpid(agent.runtime_pid, 0)
            agent.prestarted = False
        # Extension init comes before runtime init (a runtime started ahead waits for its environment).
        agent.start_extensions()
        agent.env_ready.set()  # a waiter left behind gets 404-equivalent closure with its process
        if not (alive and same):
            agent.spawn()
    else:
        agent.start_extensions()
        agent.spawn()
    if AGENT_USER is not None:
        _become_agent_user()
        _not_dumpable()  # a change of user resets it
    agent.claim_done.set()
    if agent.phase == "init":
        threading.Thread(target=agent.init_watchdog, name="init-watchdog", daemon=True).start()
    agent.reap_forever()


if __name__ == "__main__":
    main()
