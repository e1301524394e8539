"""AWS's event-stream framing (``application/vnd.amazon.eventstream``), as botocore and the JavaScript SDK
decode it: InvokeWithResponseStream answers with these messages.

A message: total length (4 bytes, big-endian), headers length (4), the CRC32 of those 8 bytes, the headers
(name length (1), name, type 7 = string, value length (2), value), the payload, the CRC32 of all before it.
"""

from __future__ import annotations

import struct
import zlib

CONTENT_TYPE = "application/vnd.amazon.eventstream"
_STRING = 7


def _headers(headers: dict[str, str]) -> bytes:
    out = bytearray()
    for name, value in headers.items():
        raw_name, raw_value = name.encode(), value.encode()
        out += struct.pack(">B", len(raw_name)) + raw_name + struct.pack(">BH", _STRING, len(raw_value)) + raw_value
    return bytes(out)


def message(headers: dict[str, str], payload: bytes) -> bytes:
    head = _headers(headers)
    prelude = struct.pack(">II", 12 + len(head) + len(payload) + 4, len(head))
    body = prelude + struct.pack(">I", zlib.crc32(prelude)) + head + payload
    return body + struct.pack(">I", zlib.crc32(body))


def event(event_type: str, payload: bytes, content_type: str) -> bytes:
    """One event message (``:message-type`` event) of ``event_type``."""
    return message({":event-type": event_type, ":content-type": content_type, ":message-type": "event"}, payload)
