"""Content-addressed code store: archives kept by the hex SHA-256 of their bytes.

``CodeStore`` is the small interface the services use; ``LocalCodeStore`` keeps blobs under
``LAMINA_DATA_DIR/code``. An S3-compatible store only has to implement the same four methods.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Protocol


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
