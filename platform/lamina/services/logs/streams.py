"""Function logs: the streams the agents write under ``LAMINA_DATA_DIR/logs/<account>/<group key>/``.

A function's own group ``/aws/lambda/NAME`` has the key NAME; any other group (a LoggingConfig's LogGroup,
which several functions may share) has ``%`` and the percent-encoded group name (no function name has a
``%``, so the two never meet).

Each environment appends JSON lines ``{"ts": <epoch ms>, "msg": "<line>"}`` to its own file, named after
its stream (``YYYY/MM/DD/[<version>]<32 hex>`` with ``/`` replaced by ``-``). Reading merges the streams
by time. A ``next_token`` records how far each file was read (byte offsets), so a follower asks only
for what was appended since, without duplicates or gaps.
"""

from __future__ import annotations

import base64
import json
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from lamina.errors import InvalidParameterValueException, ResourceNotFoundException

MAX_LIMIT = 10_000
_FILE_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})-(\[[^\]]+\][0-9a-f]{32})$")


@dataclass(frozen=True)
class LogEvent:
    timestamp: int
    message: str
    log_stream_name: str


@dataclass(frozen=True)
class LogStream:
    name: str
    first_event_ms: int
    last_event_ms: int
    stored_bytes: int


@dataclass(frozen=True)
class LogPage:
    events: list[LogEvent]
    next_token: str
    more: bool = False  # with a next_token in: events matched but were left for the next call


def stream_of(file_name: str) -> str | None:
    """The stream name of a log file name, or None for a file that is not a stream."""
    m = _FILE_RE.match(file_name)
    return f"{m.group(1)}/{m.group(2)}/{m.group(3)}/{m.group(4)}" if m else None


GROUP_PREFIX = "/aws/lambda/"
_FUNCTION_NAME_RE = re.compile(r"[a-zA-Z0-9_-]{1,64}")
_GROUP_RE = re.compile(r"[.\-_/#A-Za-z0-9]{1,512}")


def group_key(group: str) -> str:
    """The directory name (under logs/<account>/) of log group ``group``."""
    name = group[len(GROUP_PREFIX):] if group.startswith(GROUP_PREFIX) else None
    if name is not None and _FUNCTION_NAME_RE.fullmatch(name):
        return name
    if not _GROUP_RE.fullmatch(group):
        raise InvalidParameterValueException(f"Invalid log group name: {group}")
    return "%" + quote(group, safe="")


def group_of_key(key: str) -> str:
    """The log group of directory name ``key`` (``group_key``'s inverse)."""
    return unquote(key[1:]) if key.startswith("%") else GROUP_PREFIX + key


def function_log_dir(data_dir: Path, account_id: str, function_name: str) -> Path:
    """The directory of a group key: a function's name, or ``%`` and a percent-encoded group name."""
    if not _FUNCTION_NAME_RE.fullmatch(function_name) and not (
        function_name.startswith("%") and group_key(group_of_key(function_name)) == function_name
    ):
        raise InvalidParameterValueException(f"Invalid function name: {function_name}")
    return data_dir / "logs" / account_id / function_name


def _files(directory: Path, stream: str | None) -> dict[str, Path]:
    if not directory.is_dir():
        return {}
    found: dict[str, Path] = {}
    for entry in os.scandir(directory):
        name = stream_of(entry.name)
        if name is not None and entry.is_file() and (stream is None or name == stream):
            found[entry.name] = Path(entry.path)
    return found


def _read(path: Path, offset: int) -> list[tuple[int, str, int]]:
    """Complete JSON lines of ``path`` from ``offset``: (ts, message, offset just after the line)."""
    with path.open("rb") as fh:
        fh.seek(offset)
        data = fh.read()
    out: list[tuple[int, str, int]] = []
    pos = offset
    for line in data.splitlines(keepends=True):
        if not line.endswith(b"\n"):
            break  # being written: leave it for the next read
        pos += len(line)
        try:
            doc = json.loads(line)
            out.append((int(doc["ts"]), str(doc["msg"]), pos))
        except (ValueError, KeyError, TypeError):
            continue  # a line some runtime wrote around the agent: skip it, do not fail the read
    return out


def _decode_token(token: str | None) -> dict[str, int]:
    if not token:
        return {}
    try:
        doc = json.loads(base64.urlsafe_b64decode(token.encode()))
        return {str(k): int(v) for k, v in doc.items()}
    except (ValueError, TypeError, AttributeError):
        raise InvalidParameterValueException("The nextToken is not valid") from None


def _encode_token(offsets: dict[str, int]) -> str:
    return base64.urlsafe_b64encode(json.dumps(offsets, separators=(",", ":")).encode()).decode()


def read_events(
    data_dir: Path,
    account_id: str,
    function_name: str,
    *,
    stream: str | None = None,
    since_ms: int | None = None,
    limit: int = 100,
    next_token: str | None = None,
    end_ms: int | None = None,
    match: Callable[[str], bool] | None = None,
    streams: Sequence[str] | None = None,
) -> LogPage:
    """Return log events of a function, oldest first.

    Without ``next_token``: the newest ``limit`` events at or after ``since_ms``. With it: the events
    appended since the call that returned it (up to ``limit``; the returned token continues from there).
    Raises ResourceNotFoundException when the function has never logged anything.
    """
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidParameterValueException(f"limit must be between 1 and {MAX_LIMIT}")
    directory = function_log_dir(data_dir, account_id, function_name)
    if not directory.is_dir():
        raise ResourceNotFoundException(f"The specified log group does not exist: {group_of_key(function_name)}")
    files = _files(directory, stream)
    if streams is not None:
        wanted = set(streams)
        files = {f: p for f, p in files.items() if stream_of(f) in wanted}
    offsets = _decode_token(next_token)
    # (ts, stream, index in file, message, file name, offset after the line)
    merged: list[tuple[int, str, int, str, str, int]] = []
    for fname, path in files.items():
        name = stream_of(fname) or fname
        for i, (ts, msg, end) in enumerate(_read(path, offsets.get(fname, 0))):
            if (since_ms is None or ts >= since_ms) and (end_ms is None or ts < end_ms) and (
                match is None or match(msg)
            ):
                merged.append((ts, name, i, msg, fname, end))
    merged.sort()
    rest: list[tuple[int, str, int, str, str, int]] = []
    if next_token is None:
        returned = merged[-limit:]
        # A line being written is not complete yet: a follower starts right after the last complete one.
        new_offsets = {fname: _complete_end(path) for fname, path in files.items()}
    else:
        returned, rest = merged[:limit], merged[limit:]
        new_offsets = dict(offsets)
        for fname, path in files.items():
            new_offsets[fname] = _complete_end(path, offsets.get(fname, 0))
        # Events left for the next call: rewind their file to just before the first of them.
        first_left: dict[str, tuple[int, int]] = {}
        for e in rest:
            if e[4] not in first_left or e[2] < first_left[e[4]][0]:
                first_left[e[4]] = (e[2], e[5])
        for fname, (_idx, _end) in first_left.items():
            kept = [e[5] for e in returned if e[4] == fname and e[2] < _idx]
            new_offsets[fname] = max(kept) if kept else offsets.get(fname, 0)
    events = [LogEvent(ts, msg, name) for ts, name, _i, msg, _f, _e in returned]
    return LogPage(events, _encode_token(new_offsets), more=next_token is not None and bool(rest))


def _complete_end(path: Path, offset: int = 0) -> int:
    """Offset just after the last complete line of ``path`` (at least ``offset``)."""
    with path.open("rb") as fh:
        fh.seek(offset)
        data = fh.read()
    return offset + data.rfind(b"\n") + 1


def list_streams(data_dir: Path, account_id: str, function_name: str) -> list[LogStream]:
    """Every stream of a function, newest last event first."""
    directory = function_log_dir(data_dir, account_id, function_name)
    if not directory.is_dir():
        raise ResourceNotFoundException(f"The specified log group does not exist: {group_of_key(function_name)}")
    streams: list[LogStream] = []
    for fname, path in _files(directory, None).items():
        first = last = 0
        with path.open("rb") as fh:
            head = fh.readline()
            size = fh.seek(0, os.SEEK_END)
            fh.seek(max(0, size - 65536))
            tail = fh.read().splitlines()
        first = _ts(head)
        for raw in reversed(tail):
            last = _ts(raw)
            if last:
                break
        streams.append(LogStream(stream_of(fname) or fname, first, last or first, size))
    streams.sort(key=lambda s: (s.last_event_ms, s.name), reverse=True)
    return streams


def _ts(raw: bytes) -> int:
    try:
        doc: Any = json.loads(raw)
        return int(doc["ts"])
    except (ValueError, KeyError, TypeError):
        return 0
