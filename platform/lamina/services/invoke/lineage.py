"""Recursive loop detection: how many invocations a chain of events has run so far.

Lambda counts a chain in the X-Ray trace header that AWS's SDKs copy from a function's ``_X_AMZN_TRACE_ID``
onto every call it makes (botocore's ``add_recursion_detection_header``): ``...;Lineage=<hash>:<count>``.
lamina does the same. An invocation started by an event (an async invoke, a destination, a queue message)
whose header carries a count gets count + 1 in its own header; a function whose RecursionConfig is
``Terminate`` (the default) does not run the 17th invocation of a chain (``MAX_CHAIN``). Synchronous
invokes are not counted, as on Lambda.
"""

from __future__ import annotations

import re
import secrets
import zlib

MAX_CHAIN = 16
_LINEAGE_RE = re.compile(r"(?:^|;)\s*Lineage=([0-9a-f]{8}):(\d{1,6})(?=;|$)")


def count(trace_header: str | None) -> int:
    """Invocations the chain of ``trace_header`` has run (0: none counted, a request from outside)."""
    m = _LINEAGE_RE.search(trace_header or "")
    return int(m.group(2)) if m else 0


def next_hop(trace_header: str | None, function_arn: str) -> str:
    """The trace header of the invocation an event with ``trace_header`` starts (its count one higher)."""
    header = (trace_header or "").strip().strip(";")
    m = _LINEAGE_RE.search(header)
    if m:
        tag, n = m.group(1), int(m.group(2)) + 1
        header = (header[:m.start()] + header[m.end():]).strip(";")
    else:
        tag, n = f"{zlib.crc32(function_arn.encode()):08x}", 1
    if "Root=" not in header:
        header = f"Root=1-{secrets.token_hex(4)}-{secrets.token_hex(12)};Sampled=0" + (f";{header}" if header else "")
    return f"{header};Lineage={tag}:{n}"


def stops(trace_header: str | None, recursive_loop: str | None) -> bool:
    """Whether an invocation with ``trace_header`` is one too many for a function with that setting."""
    return (recursive_loop or "Terminate") == "Terminate" and count(trace_header) > MAX_CHAIN
