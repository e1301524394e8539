"""Upload validation: decides whether bytes are a deployment package lamina will store.

``inspect`` refuses (InvalidParameterValueException unless noted) anything that is not a readable zip,
entries that would land outside the extraction root (``../``, absolute paths, drive letters, symlinks
whose target resolves outside, device files), encrypted entries, zip bombs (declared unzipped size past
the limit, or a compression ratio past the limit), and archives over the zipped limit
(RequestTooLargeException). Every entry is read through once, so sizes and CRCs are what they claim.
"""

from __future__ import annotations

import base64
import hashlib
import io
import stat
import zipfile
from dataclasses import dataclass

from lamina.config import Settings
from lamina.errors import InvalidParameterValueException, RequestTooLargeException

BAD_ZIP = "Could not unzip uploaded file. Please check your file, then try to upload again."
# Below this many unzipped bytes the ratio check does not apply: small, repetitive files compress
# far better than real code, and they cannot hurt anyone.
RATIO_FLOOR_BYTES = 1024 * 1024
MAX_SYMLINK_TARGET = 4096
MAX_LINK_HOPS = 40
_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    max_zip_bytes: int
    max_unzipped_bytes: int
    max_ratio: int

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        return cls(settings.max_zip_bytes, settings.max_unzipped_bytes, settings.max_zip_ratio)


@dataclass(frozen=True)
class Archive:
    """A validated zip: its bytes, code-store key (hex SHA-256), CodeSha256 (base64), sizes."""

    data: bytes
    key: str
    sha256: str
    size: int
    unzipped_size: int


def digest(data: bytes) -> tuple[str, str]:
    """(hex SHA-256, base64 SHA-256) of ``data``: the code-store key and Lambda's CodeSha256."""
    d = hashlib.sha256(data)
    return d.hexdigest(), base64.b64encode(d.digest()).decode()


def inspect(data: bytes, limits: Limits) -> Archive:
    """Validate ``data`` as a deployment package; return its Archive or raise a LambdaError."""
    if len(data) > limits.max_zip_bytes:
        raise RequestTooLargeException(
            f"Zipped size must be smaller than {limits.max_zip_bytes} bytes (got {len(data)})"
        )
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, OSError, NotImplementedError):
        raise InvalidParameterValueException(BAD_ZIP) from None
    with zf:
        infos = zf.infolist()
        total = _check_sizes(infos, len(data), limits)
        links = _check_entries(zf, infos)
        for info in infos:
            if _resolve(_parts(info.filename), links, 0) is None:
                raise InvalidParameterValueException(f"Zip entry escapes the archive root: {info.filename!r}")
        _read_through(zf, infos)
    key, sha = digest(data)
    return Archive(data=data, key=key, sha256=sha, size=len(data), unzipped_size=total)


def _check_sizes(infos: list[zipfile.ZipInfo], zipped: int, limits: Limits) -> int:
    total = sum(i.file_size for i in infos)
    if total > limits.max_unzipped_bytes:
        raise InvalidParameterValueException(
            f"Unzipped size must be smaller than {limits.max_unzipped_bytes} bytes"
        )
    if total > RATIO_FLOOR_BYTES and total > limits.max_ratio * max(zipped, 1):
        raise InvalidParameterValueException(
            f"Zip compression ratio exceeds {limits.max_ratio}:1; refusing a possible zip bomb"
        )
    for info in infos:
        if info.file_size > RATIO_FLOOR_BYTES and info.file_size > limits.max_ratio * max(info.compress_size, 1):
            raise InvalidParameterValueException(
                f"Zip entry {info.filename!r} exceeds a compression ratio of {limits.max_ratio}:1; "
                "refusing a possible zip bomb"
            )
    return total


def _parts(name: str) -> list[str]:
    return name.replace("\\", "/").split("/")


def _check_entries(zf: zipfile.ZipFile, infos: list[zipfile.ZipInfo]) -> dict[str, str]:
    """Check each entry's name and type; return the symlinks as {normalised path: target}."""
    links: dict[str, str] = {}
    for info in infos:
        name = info.filename.replace("\\", "/")
        if not name or "\x00" in name:
            raise InvalidParameterValueException(BAD_ZIP)
        if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
            raise InvalidParameterValueException(f"Zip entry has an absolute path: {info.filename!r}")
        if info.flag_bits & 0x1:
            raise InvalidParameterValueException(f"Zip entry is encrypted: {info.filename!r}")
        mode = info.external_attr >> 16
        kind = stat.S_IFMT(mode)
        if kind and kind not in (stat.S_IFREG, stat.S_IFDIR, stat.S_IFLNK):
            raise InvalidParameterValueException(f"Zip entry is not a file, directory or symlink: {info.filename!r}")
        if kind == stat.S_IFLNK:
            if info.file_size > MAX_SYMLINK_TARGET:
                raise InvalidParameterValueException(f"Zip symlink target too long: {info.filename!r}")
            try:
                target = zf.read(info).decode()
            except (zipfile.BadZipFile, UnicodeDecodeError, NotImplementedError, EOFError, ValueError):
                raise InvalidParameterValueException(BAD_ZIP) from None
            if not target or target.startswith("/") or "\x00" in target or (len(target) > 1 and target[1] == ":"):
                raise InvalidParameterValueException(f"Zip symlink points outside the archive: {info.filename!r}")
            links["/".join(p for p in _parts(name) if p not in ("", "."))] = target
    return links


def _resolve(parts: list[str], links: dict[str, str], hops: int) -> list[str] | None:
    """Resolve ``parts`` as an extractor would, following the archive's own symlinks; None if it escapes."""
    out: list[str] = []
    for part in parts:
        if part in ("", "."):
            continue
        if part == "..":
            if not out:
                return None
            out.pop()
            continue
        out.append(part)
        target = links.get("/".join(out))
        if target is not None:
            if hops >= MAX_LINK_HOPS:
                return None
            resolved = _resolve(out[:-1] + _parts(target), links, hops + 1)
            if resolved is None:
                return None
            out = resolved
    return out


def _read_through(zf: zipfile.ZipFile, infos: list[zipfile.ZipInfo]) -> None:
    """Decompress every entry (bounded by its declared size) so a CRC or size lie is caught now."""
    try:
        for info in infos:
            if info.is_dir():
                continue
            with zf.open(info) as fh:
                while fh.read(_CHUNK):
                    pass
    # BadZipFile (CRC), zlib.error, EOFError, NotImplementedError (unknown method): all one answer.
    except Exception:
        raise InvalidParameterValueException(BAD_ZIP) from None
