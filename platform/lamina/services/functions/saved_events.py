"""Saved test events of the console's Test tab: named JSON documents per function, kept in Redis.

One hash per function, ``lamina:console:test-events:<account>:<function>``: event name -> JSON text.
"""

from __future__ import annotations

import json
import re
from typing import Any

from lamina.errors import InvalidParameterValueException, ResourceNotFoundException

MAX_EVENTS = 10  # Lambda's console keeps ten saved events per function
MAX_BYTES = 256 * 1024
_NAME = re.compile(r"[A-Za-z0-9._-]{1,25}")


def _key(account_id: str, function_name: str) -> str:
    return f"lamina:console:test-events:{account_id}:{function_name}"


def list_events(redis_client: Any, account_id: str, function_name: str) -> dict[str, Any]:
    """Every saved event of a function: ``{name: parsed JSON}``, by name."""
    raw = redis_client.hgetall(_key(account_id, function_name))
    out = {}
    for k, v in sorted(raw.items()):
        out[k.decode() if isinstance(k, bytes) else k] = json.loads(v)
    return out


def save_event(redis_client: Any, account_id: str, function_name: str, name: str, text: str) -> None:
    """Save (or replace) event ``name``; raises InvalidParameterValueException for a bad name or JSON."""
    if not _NAME.fullmatch(name):
        raise InvalidParameterValueException("Event names are 1-25 letters, digits, '.', '_' or '-'")
    if len(text.encode()) > MAX_BYTES:
        raise InvalidParameterValueException(f"A test event must be at most {MAX_BYTES} bytes")
    try:
        json.loads(text)
    except ValueError as err:
        raise InvalidParameterValueException(f"The event is not valid JSON: {err}") from None
    key = _key(account_id, function_name)
    if not redis_client.hexists(key, name) and redis_client.hlen(key) >= MAX_EVENTS:
        raise InvalidParameterValueException(f"A function keeps at most {MAX_EVENTS} saved test events")
    redis_client.hset(key, name, text)


def delete_event(redis_client: Any, account_id: str, function_name: str, name: str) -> None:
    if not redis_client.hdel(_key(account_id, function_name), name):
        raise ResourceNotFoundException(f"No saved test event {name}")
