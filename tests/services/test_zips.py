"""Upload validation against hostile archives made in the test with zipfile."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import stat
import struct
import zipfile

import pytest
from lamina.errors import InvalidParameterValueException, RequestTooLargeException
from lamina.services.functions import zips
from support.lambda_api import assert_error, create_body

LIMITS = zips.Limits(max_zip_bytes=50 * 1024 * 1024, max_unzipped_bytes=250 * 1024 * 1024, max_ratio=200)


def build(entries: list[tuple[str, bytes, int | None]], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    """A zip of (name, content, unix mode or None) entries."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as zf:
        for name, content, mode in entries:
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.compress_type = compression
            if mode is not None:
                info.create_system = 3
                info.external_attr = (mode & 0xFFFF) << 16
            zf.writestr(info, content)
    return buf.getvalue()


def link(name: str, target: str) -> tuple[str, bytes, int]:
    return name, target.encode(), stat.S_IFLNK | 0o777


def test_a_good_zip_is_described_exactly():
    data = build([("app.py", b"print(1)\n", 0o100644), ("lib/", b"", stat.S_IFDIR | 0o755),
                  ("lib/x.py", b"x = 1\n", None), ("lib/same", b"", None), link("lib/self", "x.py"),
                  ("a/../b.py", b"", None)])
    archive = zips.inspect(data, LIMITS)
    assert archive.key == hashlib.sha256(data).hexdigest()
    assert archive.sha256 == base64.b64encode(hashlib.sha256(data).digest()).decode()
    assert archive.size == len(data)
    assert archive.unzipped_size == len(b"print(1)\n") + len(b"x = 1\n") + len(b"x.py")


@pytest.mark.parametrize("entries", [
    [("../evil.py", b"x", None)],
    [("a/../../evil.py", b"x", None)],
    [("/etc/passwd", b"x", None)],
    [("C:\\Windows\\evil.dll", b"x", None)],
    [("..\\evil.py", b"x", None)],
    [link("out", "../../etc/passwd")],
    [link("abs", "/etc/passwd")],
    [link("dot", "."), ("dot/../escape.py", b"x", None)],
    [link("deep", "a/b"), link("a/b", "../../..")],
    [link("hop1", "hop2"), link("hop2", "hop1"), ("hop1/x", b"", None)],
    [("dev", b"", stat.S_IFCHR | 0o644)],
    [("fifo", b"", stat.S_IFIFO | 0o644)],
], ids=["dotdot", "nested-dotdot", "absolute", "drive", "backslash", "symlink-out", "symlink-absolute",
        "symlink-dot-then-dotdot", "symlink-chain", "symlink-loop", "char-device", "fifo"])
def test_entries_escaping_the_root_are_refused(entries):
    with pytest.raises(InvalidParameterValueException):
        zips.inspect(build(entries), LIMITS)


def test_encrypted_entries_are_refused():
    data = bytearray(build([("secret.py", b"x", None)], zipfile.ZIP_STORED))
    # Set the "encrypted" bit in the local header and the central directory entry.
    data[6] |= 1
    cd = data.rfind(b"PK\x01\x02")
    data[cd + 8] |= 1
    with pytest.raises(InvalidParameterValueException, match="encrypted"):
        zips.inspect(bytes(data), LIMITS)


@pytest.mark.parametrize("data", [b"", b"not a zip at all", os.urandom(2048),
                                  build([("a.py", b"x" * 1000, None)])[:-30]],
                         ids=["empty", "text", "random", "truncated"])
def test_not_a_zip(data):
    with pytest.raises(InvalidParameterValueException, match="unzip"):
        zips.inspect(data, LIMITS)


def test_a_zip_whose_sizes_lie_is_refused():
    content = b"A" * 1000
    data = bytearray(build([("lie.txt", content, None)], zipfile.ZIP_STORED))
    small = struct.pack("<I", 10)
    # Local header: uncompressed size at offset 22; central directory entry: at offset 24.
    data[22:26] = small
    cd = data.rfind(b"PK\x01\x02")
    data[cd + 24:cd + 28] = small
    with pytest.raises(InvalidParameterValueException):
        zips.inspect(bytes(data), LIMITS)


def test_a_corrupt_stream_is_refused():
    data = bytearray(build([("x.txt", os.urandom(4096), None)]))
    data[100:140] = b"\0" * 40
    with pytest.raises(InvalidParameterValueException):
        zips.inspect(bytes(data), LIMITS)


def test_compression_ratio_bomb_is_refused():
    bomb = build([("zeros.bin", b"\0" * (20 * 1024 * 1024), None)])
    assert len(bomb) < 100 * 1024
    with pytest.raises(InvalidParameterValueException, match="ratio"):
        zips.inspect(bomb, LIMITS)


def test_many_small_highly_compressed_entries_are_a_bomb_too():
    bomb = build([(f"z{i}.bin", b"\0" * (512 * 1024), None) for i in range(8)])
    with pytest.raises(InvalidParameterValueException, match="ratio"):
        zips.inspect(bomb, LIMITS)


def test_small_repetitive_files_are_not_a_bomb():
    assert zips.inspect(build([("pad.txt", b" " * 500_000, None)]), LIMITS).unzipped_size == 500_000


def test_unzipped_size_over_the_limit_is_refused():
    data = build([("blob.bin", os.urandom(300_000), None)], zipfile.ZIP_STORED)
    small = zips.Limits(max_zip_bytes=10**7, max_unzipped_bytes=200_000, max_ratio=200)
    with pytest.raises(InvalidParameterValueException, match="Unzipped size must be smaller than 200000"):
        zips.inspect(data, small)


def test_zipped_size_over_the_limit_is_413():
    data = build([("blob.bin", os.urandom(5000), None)], zipfile.ZIP_STORED)
    with pytest.raises(RequestTooLargeException) as err:
        zips.inspect(data, zips.Limits(max_zip_bytes=4096, max_unzipped_bytes=10**9, max_ratio=200))
    assert err.value.status == 413


@pytest.mark.parametrize("entries", [
    [("../evil.py", b"x", None)],
    [link("out", "../../etc/passwd")],
    [("zeros.bin", b"\0" * (20 * 1024 * 1024), None)],
], ids=["traversal", "symlink", "bomb"])
def test_hostile_uploads_leave_nothing_behind(client, components, entries):
    data = build(entries)
    body = create_body("hostile", data)
    assert_error(client.post("/2015-03-31/functions", json=body), 400, "InvalidParameterValueException")
    assert not components.code_store.exists(hashlib.sha256(data).hexdigest())
    assert client.get("/2015-03-31/functions/hostile").status_code == 404
    assert_error(client.post("/2018-10-31/layers/hostile/versions",
                             json={"Content": {"ZipFile": body["Code"]["ZipFile"]}}),
                 400, "InvalidParameterValueException")
