"""Message attributes of SQS: their validation, their size and SQS's MD5 digest of them.

The digest is SQS's own (the SDKs check it: the JavaScript SDK v3 refuses a send or receive whose
``MD5OfMessageAttributes`` differs): for each attribute in name order, the name, the data type and the
value, each as a 4-byte big-endian length and its bytes, with a transport byte (1 for String and Number,
2 for Binary) before the value.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import struct
from decimal import Decimal, InvalidOperation
from typing import Any

from lamina.services.queues.errors import InvalidParameterValue

MAX_ATTRIBUTES = 10
_NAME_RE = re.compile(r"[A-Za-z0-9_.-]{1,256}")
_TYPE_RE = re.compile(r"(String|Number|Binary)(\.[A-Za-z0-9_.-]{1,246})?")
# The system attributes a sender may set.
SENDABLE_SYSTEM_ATTRIBUTES = {"AWSTraceHeader"}


def validate(attrs: Any, what: str = "MessageAttributes", system: bool = False) -> dict[str, dict[str, str]]:
    """``attrs`` as stored: {name: {"DataType", "StringValue" | "BinaryValue" (base64)}}; raises
    InvalidParameterValue naming what is wrong."""
    if attrs is None:
        return {}
    if not isinstance(attrs, dict):
        raise InvalidParameterValue(f"{what} must be a map of attribute name to value.")
    if len(attrs) > MAX_ATTRIBUTES:
        raise InvalidParameterValue(f"Number of message attributes [{len(attrs)}] exceeds the allowed maximum "
                                    f"[{MAX_ATTRIBUTES}].")
    out: dict[str, dict[str, str]] = {}
    for name, value in attrs.items():
        if system and name not in SENDABLE_SYSTEM_ATTRIBUTES:
            raise InvalidParameterValue(f"Message system attribute name '{name}' is invalid.")
        if not isinstance(name, str) or not _NAME_RE.fullmatch(name) or name.startswith((".", "AWS.", "Amazon.")) \
                or name.endswith(".") or ".." in name:
            if not system:
                raise InvalidParameterValue(f"Message attribute name '{name}' is invalid.")
        if not isinstance(value, dict):
            raise InvalidParameterValue(f"Message attribute '{name}' must be an object.")
        unknown = set(value) - {"DataType", "StringValue", "BinaryValue"}
        if unknown:
            raise InvalidParameterValue(f"Message attribute '{name}' has unsupported members: "
                                        f"{', '.join(sorted(unknown))} (lists of values are not supported).")
        dtype = value.get("DataType")
        if not isinstance(dtype, str) or not _TYPE_RE.fullmatch(dtype):
            raise InvalidParameterValue(f"The message attribute '{name}' has an invalid message attribute type, "
                                        "the set of supported type prefixes is Binary, Number, and String.")
        binary = dtype.startswith("Binary")
        key = "BinaryValue" if binary else "StringValue"
        other = "StringValue" if binary else "BinaryValue"
        raw = value.get(key)
        if other in value or not isinstance(raw, str) or raw == "":
            raise InvalidParameterValue(f"The message attribute '{name}' with type '{dtype}' must use field "
                                        f"'{key[:-5]}'.")
        if binary:
            try:
                base64.b64decode(raw, validate=True)
            except (binascii.Error, ValueError):
                raise InvalidParameterValue(f"The message attribute '{name}' is not valid base64.") from None
        elif dtype.startswith("Number"):
            try:
                Decimal(raw)
            except InvalidOperation:
                raise InvalidParameterValue(f"Can't cast the value of message (user) attribute '{name}' to a "
                                            "number.") from None
        out[name] = {"DataType": dtype, key: raw}
    return out


def _value_bytes(value: dict[str, str]) -> bytes:
    if "BinaryValue" in value:
        return base64.b64decode(value["BinaryValue"])
    return value["StringValue"].encode()


def size_of(attrs: dict[str, dict[str, str]]) -> int:
    """What the attributes count towards MaximumMessageSize: names, types and values."""
    return sum(len(n.encode()) + len(v["DataType"].encode()) + len(_value_bytes(v)) for n, v in attrs.items())


def md5_of(attrs: dict[str, dict[str, str]]) -> str | None:
    if not attrs:
        return None
    digest = hashlib.md5()  # noqa: S324 - SQS's MD5OfMessageAttributes, not security

    def field(data: bytes) -> None:
        digest.update(struct.pack(">I", len(data)) + data)

    for name in sorted(attrs):
        value = attrs[name]
        field(name.encode())
        field(value["DataType"].encode())
        digest.update(b"\x02" if "BinaryValue" in value else b"\x01")
        field(_value_bytes(value))
    return digest.hexdigest()


def select(attrs: dict[str, dict[str, str]], wanted: list[str]) -> dict[str, dict[str, str]]:
    """The attributes ReceiveMessage's MessageAttributeNames ask for: names, ``All``, ``.*`` or ``prefix.*``."""
    if not wanted or not attrs:
        return {}
    if "All" in wanted or ".*" in wanted:
        return dict(attrs)
    prefixes = tuple(w[:-1] for w in wanted if w.endswith(".*"))
    return {n: v for n, v in attrs.items() if n in wanted or (prefixes and n.startswith(prefixes))}
