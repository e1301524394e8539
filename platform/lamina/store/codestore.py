"""Content-addressed code store: archives kept by the hex SHA-256 of their bytes.

``CodeStore`` is the small interface the services use; ``LocalCodeStore`` keeps blobs under
``LAMINA_DATA_DIR/code``; ``DatabaseCodeStore`` keeps them in PostgreSQL (table ``code_blobs``), so every
host of a fleet reads them with no shared file system, and caches each one it uses under its own data
directory. An S3-compatible store only has to implement the same four methods.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Protocol

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from lamina.store.models import CodeBlob


class CodeStore(Protocol):
    def put(self, data: bytes) -> str:
        """Store ``data``; return its key (hex SHA-256). Storing the same bytes twice is a no-op."""

    def path(self, key: str) -> Path:
        """Return a local file path holding the blob (downloading it first for remote stores)."""

    def exists(self, key: str) -> bool: ...

    def delete(self, key: str) -> None: ...


class LocalCodeStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def _file(self, key: str) -> Path:
        if len(key) != 64 or any(c not in "0123456789abcdef" for c in key):
            raise ValueError(f"bad code key {key!r}")
        return self.root / key[:2] / f"{key}.zip"

    def put(self, data: bytes) -> str:
        key = hashlib.sha256(data).hexdigest()
        target = self._file(key)
        if target.exists():
            return key
        target.parent.mkdir(parents=True, exist_ok=True)
        # Write to a temp file and rename so a crash never leaves a truncated blob under its key.
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return key

    def path(self, key: str) -> Path:
        return self._file(key)

    def exists(self, key: str) -> bool:
        return self._file(key).exists()

    def delete(self, key: str) -> None:
        self._file(key).unlink(missing_ok=True)


class DatabaseCodeStore:
    """Blobs in the database, cached on this host on first use (a cached blob never changes: its name is
    its hash)."""

    def __init__(self, sessions: sessionmaker[Session], cache_root: Path) -> None:
        self.sessions = sessions
        self.cache = LocalCodeStore(cache_root)

    def put(self, data: bytes) -> str:
        key = hashlib.sha256(data).hexdigest()
        if self.exists(key):
            return key
        try:
            with self.sessions.begin() as session:
                session.add(CodeBlob(key=key, size=len(data), data=data))
        except IntegrityError:
            pass  # stored meanwhile by another process: the same bytes
        return key

    def path(self, key: str) -> Path:
        local = self.cache.path(key)  # validates the key
        if local.exists():
            return local
        with self.sessions() as session:
            data = session.scalar(select(CodeBlob.data).where(CodeBlob.key == key))
        if data is None:
            return local  # absent: the caller's open fails as for a local store
        self.cache.put(bytes(data))
        return local

    def exists(self, key: str) -> bool:
        with self.sessions() as session:
            return session.scalar(select(CodeBlob.key).where(CodeBlob.key == key)) is not None

    def delete(self, key: str) -> None:
        with self.sessions.begin() as session:
            session.execute(delete(CodeBlob).where(CodeBlob.key == key))
        self.cache.delete(key)
