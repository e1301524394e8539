"""Function logs in PostgreSQL (``LAMINA_LOG_STORE=postgres``), for a control plane on several hosts.

Every process that runs invocations (API and worker processes, on any host) writes each invocation's
lines as one row of ``log_chunks`` (the JSON lines a stream file would get). Before it reads, an API host
mirrors its account's new rows into the ordinary stream files under its data directory, so every read
(FilterLogEvents, GetLogEvents, DescribeLogStreams/Groups, ``lamina logs``, the console) sees every host's
lines through the same code that serves one host. A group's retention is a row too (``log_group_settings``),
mirrored into its ``.retention`` file; rows older than their group's retention are deleted at the mirror.

Rows are read by id. A row's id is taken when it is inserted but seen only once its transaction commits,
so an id below one already mirrored may still appear: the mirror keeps the ids it copied in the last
``SETTLE_S`` and reads again from there, copying each row once.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lamina.services.common import Deps, now
from lamina.services.logs import streams as logs
from lamina.store import queries

STATE = ".mirror"  # under logs/<account>/: {"settled": id, "recent": [ids copied above it]}
BATCH = 2000
SETTLE_S = 30.0  # a transaction that has not committed this long after its insert is not waited for

PRUNE_EVERY_S = 60.0  # rows past their retention are deleted at most this often per account and process
_next_prune: dict[str, float] = {}  # account -> when this process next applies them

LogSink = Callable[[str, str, str, bytes], None]


def writer(sessions: queries.SessionFactory) -> LogSink:
    """A sink for ``Environments``: one row per invocation's lines."""

    def write(account_id: str, group_key: str, stream: str, data: bytes) -> None:
        with sessions.begin() as session:
            queries.add_log_chunk(session, account_id, group_key, stream, data, now())

    return write


def _state(root: Path) -> tuple[int, set[int]]:
    try:
        doc = json.loads((root / STATE).read_text())
        return int(doc.get("settled", 0)), {int(i) for i in doc.get("recent", ())}
    except (OSError, ValueError, TypeError):
        return 0, set()


def _save(root: Path, settled: int, recent: set[int]) -> None:
    tmp = root / f"{STATE}.{os.getpid()}"
    tmp.write_text(json.dumps({"settled": settled, "recent": sorted(recent)}))
    os.replace(tmp, root / STATE)


def sync(deps: Deps, account_id: str) -> int:
    """Mirror ``account_id``'s new log rows into this host's stream files; return how many were copied."""
    settings = deps.settings
    if settings.log_store != "postgres":
        return 0
    root = settings.data_dir / "logs" / account_id
    root.mkdir(parents=True, exist_ok=True)
    copied = 0
    with open(root / ".mirror.lock", "a+") as lock:  # the API processes of one host share the files
        fcntl.flock(lock, fcntl.LOCK_EX)
        settled, recent = _state(root)
        horizon = now() - dt.timedelta(seconds=SETTLE_S)
        with deps.sessions.begin() as session:
            after, settling = settled, True
            while True:
                chunks = queries.log_chunks_after(session, account_id, after, BATCH)
                for chunk in chunks:
                    after = chunk.id
                    if chunk.id not in recent:
                        _append(settings.data_dir, account_id, chunk.group_key, chunk.stream, chunk.data)
                        recent.add(chunk.id)
                        copied += 1
                    # Settled: every row up to here is older than the horizon (no commit can still come
                    # below it); from the first younger one on, the next read starts again.
                    settling = settling and _aware(chunk.created) < horizon
                    if settling:
                        settled = chunk.id
                if len(chunks) < BATCH:
                    break
            retentions = queries.log_retentions(session, account_id)
            prune = time.monotonic() >= _next_prune.get(account_id, 0.0)
            if prune:
                _next_prune[account_id] = time.monotonic() + PRUNE_EVERY_S
            _apply_retention(session, settings.data_dir, account_id, retentions, settings.log_retention_days, prune)
        recent = {i for i in recent if i > settled}
        _save(root, settled, recent)
    return copied


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def _append(data_dir: Path, account_id: str, group_key: str, stream: str, data: bytes) -> None:
    if "/" in stream or stream.startswith(".") or logs.stream_of(stream) is None:
        return  # never a path: the writer named it (…[version]<env id>)
    directory = logs.function_log_dir(data_dir, account_id, group_key)
    directory.mkdir(parents=True, exist_ok=True)
    fd = os.open(directory / stream, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o640)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def _apply_retention(session: Any, data_dir: Path, account_id: str, retentions: dict[str, int],
                     default_days: int, prune: bool) -> None:
    """Write each group's retention setting here; with ``prune``, delete the rows it no longer keeps."""
    from lamina.services.logs import log_groups

    for group_key, days in retentions.items():
        directory = logs.function_log_dir(data_dir, account_id, group_key)
        directory.mkdir(parents=True, exist_ok=True)
        retention_file = directory / log_groups.RETENTION_FILE
        if not retention_file.is_file() or retention_file.read_text().strip() != str(days):
            retention_file.write_text(str(days))
    if not prune:
        return
    root = data_dir / "logs" / account_id
    for entry in os.scandir(root):
        if not entry.is_dir():
            continue
        days = retentions.get(entry.name, default_days)
        if days > 0:
            queries.delete_log_chunks_before(session, account_id, entry.name,
                                             now() - dt.timedelta(days=days))


def put_retention(deps: Deps, account_id: str, group: str, days: int | None) -> None:
    """PutRetentionPolicy (``days`` None: DeleteRetentionPolicy, "never expire") here, and for every host."""
    from lamina.services.logs import log_groups

    if days is not None:
        log_groups.put_retention(deps.settings.data_dir, account_id, group, days)  # refuses what CloudWatch does
    else:
        log_groups.delete_retention(deps.settings.data_dir, account_id, group)
    if deps.settings.log_store == "postgres":
        with deps.sessions.begin() as session:
            queries.set_log_retention(session, account_id, log_groups.function_of(group), days or 0)
