"""Log groups in CloudWatch Logs' shape over the stream files of ``lamina.services.logs.streams``.

One log group per function (``/aws/lambda/NAME``), one stream per execution environment. Operations
return plain dicts with CloudWatch Logs' member names (FilterLogEvents, GetLogEvents, DescribeLogStreams,
DescribeLogGroups, PutRetentionPolicy, DeleteRetentionPolicy) so the API layer only serializes them.

Retention: ``retentionInDays`` per group, kept in a ``.retention`` file next to its streams (default
``Settings.log_retention_days``; 0 = keep forever). ``prune`` deletes stream files whose last write is
older than that; it runs whenever a group is described or read.
"""

from __future__ import annotations

import base64
import json
import os
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lamina.errors import InvalidParameterValueException, ResourceNotFoundException
from lamina.services.logs import filter_patterns
from lamina.services.logs import streams as logs

GROUP_PREFIX = logs.GROUP_PREFIX
RETENTION_FILE = ".retention"
# CloudWatch Logs' allowed retention values.
RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
                  3288, 3653)
MAX_FILTER_LIMIT = 10_000
MAX_STREAMS_LIMIT = 50


def function_of(group: str | None) -> str:
    """The directory key of a log group: NAME for ``/aws/lambda/NAME``, else the encoded group name."""
    if not group or not isinstance(group, str):
        raise ResourceNotFoundException(f"The specified log group does not exist: {group}")
    try:
        return logs.group_key(group)
    except InvalidParameterValueException:
        raise ResourceNotFoundException(f"The specified log group does not exist: {group}") from None


def compile_pattern(pattern: str | None) -> Callable[[str], bool] | None:
    """A matcher for a CloudWatch filter pattern (terms, JSON or space-delimited: ``filter_patterns``)."""
    try:
        return filter_patterns.compile_pattern(pattern)
    except filter_patterns.PatternError as err:
        raise InvalidParameterValueException(str(err)) from None


# -- retention


def retention_days(directory: Path, default: int) -> int:
    try:
        return int((directory / RETENTION_FILE).read_text().strip())
    except (OSError, ValueError):
        return default


def put_retention(data_dir: Path, account_id: str, group: str, days: int) -> None:
    if days not in RETENTION_DAYS:
        raise InvalidParameterValueException(
            f"1 validation error detected: Value '{days}' at 'retentionInDays' failed to satisfy constraint: "
            f"Member must satisfy enum value set: {list(RETENTION_DAYS)}"
        )
    directory = logs.function_log_dir(data_dir, account_id, function_of(group))
    directory.mkdir(parents=True, exist_ok=True)
    (directory / RETENTION_FILE).write_text(str(days))


def delete_retention(data_dir: Path, account_id: str, group: str) -> None:
    directory = logs.function_log_dir(data_dir, account_id, function_of(group))
    (directory / RETENTION_FILE).unlink(missing_ok=True)
    # "Never expire" must beat the platform default, so it is written down rather than removed.
    if directory.is_dir():
        (directory / RETENTION_FILE).write_text("0")


def prune(directory: Path, default_days: int, now: float | None = None) -> int:
    """Delete the stream files of ``directory`` last written more than its retention ago; return how many."""
    days = retention_days(directory, default_days)
    if days <= 0 or not directory.is_dir():
        return 0
    cutoff = (now if now is not None else time.time()) - days * 86400
    removed = 0
    for entry in os.scandir(directory):
        if logs.stream_of(entry.name) is None:
            continue
        try:
            if entry.stat().st_mtime < cutoff:
                os.unlink(entry.path)
                removed += 1
        except FileNotFoundError:
            continue
    return removed


def prune_all(data_dir: Path, default_days: int, now: float | None = None) -> int:
    """Apply retention to every function's streams (every account)."""
    root = data_dir / "logs"
    total = 0
    if root.is_dir():
        for account in os.scandir(root):
            if account.is_dir():
                for fn in os.scandir(account.path):
                    if fn.is_dir():
                        total += prune(Path(fn.path), default_days, now)
    return total


# -- operations


def _directory(data_dir: Path, account_id: str, group: str | None, default_days: int) -> tuple[str, Path]:
    name = function_of(group)
    directory = logs.function_log_dir(data_dir, account_id, name)
    if not directory.is_dir():
        raise ResourceNotFoundException(f"The specified log group does not exist: {group}")
    prune(directory, default_days)
    return name, directory


def _limit(value: Any, default: int, high: int) -> int:
    if value is None:
        return default
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= high:
        raise InvalidParameterValueException(f"limit must be between 1 and {high}")
    return value


def _ms(value: Any, name: str) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise InvalidParameterValueException(f"{name} must be a non-negative number of milliseconds since the epoch")
    return value


def filter_log_events(data_dir: Path, account_id: str, req: dict[str, Any], default_days: int) -> dict[str, Any]:
    """FilterLogEvents: matching events of the group (or of ``logStreamNames``), oldest first, paged."""
    name, _dir = _directory(data_dir, account_id, req.get("logGroupName"), default_days)
    streams = req.get("logStreamNames")
    prefix = req.get("logStreamNamePrefix")
    if streams is not None and prefix is not None:
        raise InvalidParameterValueException("logStreamNames and logStreamNamePrefix cannot both be specified")
    if prefix is not None:
        streams = [s.name for s in logs.list_streams(data_dir, account_id, name) if s.name.startswith(prefix)]
    limit = _limit(req.get("limit"), MAX_FILTER_LIMIT, MAX_FILTER_LIMIT)
    page = logs.read_events(
        data_dir, account_id, name,
        since_ms=_ms(req.get("startTime"), "startTime"),
        end_ms=_ms(req.get("endTime"), "endTime"),
        match=compile_pattern(req.get("filterPattern")),
        streams=streams,
        limit=limit,
        next_token=req.get("nextToken") or _START,
    )
    out: dict[str, Any] = {
        "events": [
            {"logStreamName": e.log_stream_name, "timestamp": e.timestamp, "message": e.message,
             "ingestionTime": e.timestamp, "eventId": _event_id(e)}
            for e in page.events
        ],
        "searchedLogStreams": [],
    }
    if page.more:
        out["nextToken"] = page.next_token
    return out


def get_log_events(data_dir: Path, account_id: str, req: dict[str, Any], default_days: int) -> dict[str, Any]:
    """GetLogEvents: one stream; the newest ``limit`` events, or from the head with ``startFromHead``."""
    name, _dir = _directory(data_dir, account_id, req.get("logGroupName"), default_days)
    stream = req.get("logStreamName")
    if not isinstance(stream, str) or not any(s.name == stream for s in logs.list_streams(data_dir, account_id, name)):
        raise ResourceNotFoundException("The specified log stream does not exist.")
    limit = _limit(req.get("limit"), MAX_FILTER_LIMIT, MAX_FILTER_LIMIT)
    token = req.get("nextToken")
    if isinstance(token, str) and token.startswith(("f/", "b/")):
        token = token[2:]
    elif token is not None:
        raise InvalidParameterValueException("The specified nextToken is invalid.")
    head = bool(req.get("startFromHead")) or token is not None
    page = logs.read_events(
        data_dir, account_id, name, stream=stream,
        since_ms=_ms(req.get("startTime"), "startTime"), end_ms=_ms(req.get("endTime"), "endTime"),
        limit=limit, next_token=(token or _START) if head else None,
    )
    return {
        "events": [{"timestamp": e.timestamp, "message": e.message, "ingestionTime": e.timestamp} for e in page.events],
        "nextForwardToken": "f/" + page.next_token,
        "nextBackwardToken": "b/" + _START,
    }


def describe_log_streams(data_dir: Path, account_id: str, req: dict[str, Any], region: str,
                         default_days: int) -> dict[str, Any]:
    name, _dir = _directory(data_dir, account_id, req.get("logGroupName"), default_days)
    order = req.get("orderBy") or "LogStreamName"
    if order not in ("LogStreamName", "LastEventTime"):
        raise InvalidParameterValueException("orderBy must be LogStreamName or LastEventTime")
    prefix = req.get("logStreamNamePrefix")
    if prefix is not None and order == "LastEventTime":
        raise InvalidParameterValueException("Cannot order by LastEventTime with a logStreamNamePrefix.")
    found = [s for s in logs.list_streams(data_dir, account_id, name) if not prefix or s.name.startswith(prefix)]
    descending = bool(req.get("descending"))
    if order == "LogStreamName":
        found.sort(key=lambda s: s.name, reverse=descending)
    else:
        found.sort(key=lambda s: (s.last_event_ms, s.name), reverse=descending)
    start = _index_token(req.get("nextToken"))
    limit = _limit(req.get("limit"), MAX_STREAMS_LIMIT, MAX_STREAMS_LIMIT)
    page = found[start:start + limit]
    group_arn = f"arn:aws:logs:{region}:{account_id}:log-group:{logs.group_of_key(name)}"
    out: dict[str, Any] = {"logStreams": [
        {"logStreamName": s.name, "creationTime": s.first_event_ms, "firstEventTimestamp": s.first_event_ms,
         "lastEventTimestamp": s.last_event_ms, "lastIngestionTime": s.last_event_ms,
         "arn": f"{group_arn}:log-stream:{s.name}", "storedBytes": s.stored_bytes}
        for s in page
    ]}
    if start + limit < len(found):
        out["nextToken"] = _encode_index(start + limit)
    return out


def describe_log_groups(data_dir: Path, account_id: str, req: dict[str, Any], region: str,
                        default_days: int) -> dict[str, Any]:
    root = data_dir / "logs" / account_id
    prefix = req.get("logGroupNamePrefix") or ""
    groups = []
    if root.is_dir():
        for entry in sorted(os.scandir(root), key=lambda e: logs.group_of_key(e.name)):
            group = logs.group_of_key(entry.name)
            if not entry.is_dir() or not group.startswith(prefix):
                continue
            directory = Path(entry.path)
            days = retention_days(directory, default_days)
            item: dict[str, Any] = {
                "logGroupName": group,
                "creationTime": int(entry.stat().st_mtime * 1000),
                "arn": f"arn:aws:logs:{region}:{account_id}:log-group:{group}:*",
                "storedBytes": sum(e.stat().st_size for e in os.scandir(directory) if logs.stream_of(e.name)),
            }
            if days > 0:
                item["retentionInDays"] = days
            groups.append(item)
    start = _index_token(req.get("nextToken"))
    limit = _limit(req.get("limit"), 50, 50)
    out: dict[str, Any] = {"logGroups": groups[start:start + limit]}
    if start + limit < len(groups):
        out["nextToken"] = _encode_index(start + limit)
    return out


_START = base64.urlsafe_b64encode(b"{}").decode()


def _event_id(e: logs.LogEvent) -> str:
    digest = zlib.crc32((e.log_stream_name + "\n" + e.message).encode())
    return f"{e.timestamp:020d}{digest:010d}"


def _encode_index(i: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"i": i}).encode()).decode()


def _index_token(token: Any) -> int:
    if token is None:
        return 0
    try:
        return int(json.loads(base64.urlsafe_b64decode(str(token).encode()))["i"])
    except (ValueError, KeyError, TypeError):
        raise InvalidParameterValueException("The specified nextToken is invalid.") from None

