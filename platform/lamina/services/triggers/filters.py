"""Lambda's event filtering (FilterCriteria): EventBridge-style patterns matched against each record.

A record passes when any filter's pattern matches it. A pattern is an object whose keys name fields of
the record (nested objects descend); a list of matchers matches when any matches the value (or any
element of a list value): a literal, ``{"prefix"}``, ``{"suffix"}``, ``{"equals-ignore-case"}``,
``{"anything-but": value | [values] | {"prefix"}}``, ``{"numeric": [op, n, ...]}`` and ``{"exists": bool}``.
A message body or record data that is JSON is matched as JSON (``body`` / ``data``), as Lambda does.
"""

from __future__ import annotations

import json
import operator
from collections.abc import Callable
from typing import Any

from lamina.errors import InvalidParameterValueException

MAX_FILTERS = 5
_MISSING = object()
_NUMERIC: dict[str, Callable[[float, float], bool]] = {
    "=": operator.eq, "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
}


def parse(criteria: Any) -> list[dict[str, Any]]:
    """The patterns of a FilterCriteria member, validated; InvalidParameterValueException naming the fault."""
    if criteria is None:
        return []
    if not isinstance(criteria, dict) or set(criteria) - {"Filters"}:
        raise InvalidParameterValueException("FilterCriteria must be an object with a Filters list.")
    filters = criteria.get("Filters") or []
    if not isinstance(filters, list) or len(filters) > MAX_FILTERS:
        raise InvalidParameterValueException(f"FilterCriteria.Filters must be a list of at most {MAX_FILTERS}.")
    patterns = []
    for i, f in enumerate(filters):
        raw = f.get("Pattern") if isinstance(f, dict) else None
        try:
            pattern = json.loads(raw) if isinstance(raw, str) else None
        except ValueError:
            pattern = None
        if not isinstance(pattern, dict) or not pattern:
            raise InvalidParameterValueException(f"Invalid filter pattern definition: Filters[{i}].Pattern must be "
                                                 "a JSON object.")
        _check(pattern, f"Filters[{i}].Pattern")
        patterns.append(pattern)
    return patterns


def _check(pattern: dict[str, Any], where: str) -> None:
    for key, value in pattern.items():
        if isinstance(value, dict):
            _check(value, f"{where}.{key}")
        elif isinstance(value, list):
            for m in value:
                if isinstance(m, dict) and (len(m) != 1 or next(iter(m)) not in (
                        "prefix", "suffix", "equals-ignore-case", "anything-but", "numeric", "exists")):
                    raise InvalidParameterValueException(f"Invalid filter pattern definition at {where}.{key}: "
                                                         f"unsupported matcher {json.dumps(m)}.")
        else:
            raise InvalidParameterValueException(f"Invalid filter pattern definition at {where}.{key}: a value must "
                                                 "be an object or a list of matchers.")


def _as_json(text: Any) -> Any:
    if isinstance(text, str):
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text


def sqs_view(record: dict[str, Any]) -> dict[str, Any]:
    return {**record, "body": _as_json(record.get("body"))}


def kinesis_view(record: dict[str, Any], data: bytes) -> dict[str, Any]:
    try:
        decoded: Any = json.loads(data)
    except ValueError:
        decoded = data.decode(errors="replace")
    return {**record["kinesis"], "data": decoded}


def matches(patterns: list[dict[str, Any]], view: dict[str, Any]) -> bool:
    return not patterns or any(_match_object(p, view) for p in patterns)


def _match_object(pattern: dict[str, Any], value: Any) -> bool:
    if not isinstance(value, dict):
        return False
    for key, want in pattern.items():
        got = value.get(key, _MISSING)
        if isinstance(want, dict):
            if not _match_object(want, got):
                return False
        elif not _match_list(want, got):
            return False
    return True


def _match_list(matchers: list[Any], value: Any) -> bool:
    values = value if isinstance(value, list) else [value]
    return any(_match_one(m, v) for m in matchers for v in values)


def _match_one(m: Any, value: Any) -> bool:
    if not isinstance(m, dict):
        if value is _MISSING:
            return False
        if isinstance(m, bool) or isinstance(value, bool):
            return m is value
        if isinstance(m, int | float) and isinstance(value, int | float):
            return float(m) == float(value)
        return bool(value == m)
    kind, arg = next(iter(m.items()))
    if kind == "exists":
        return (value is not _MISSING) == bool(arg)
    if value is _MISSING:
        return False
    if kind == "prefix":
        return isinstance(value, str) and value.startswith(str(arg))
    if kind == "suffix":
        return isinstance(value, str) and value.endswith(str(arg))
    if kind == "equals-ignore-case":
        return isinstance(value, str) and value.lower() == str(arg).lower()
    if kind == "anything-but":
        if isinstance(arg, dict) and "prefix" in arg:
            return not (isinstance(value, str) and value.startswith(str(arg["prefix"])))
        banned = arg if isinstance(arg, list) else [arg]
        return value not in banned
    if kind == "numeric":
        if not isinstance(value, int | float) or isinstance(value, bool) or not isinstance(arg, list):
            return False
        pairs = zip(arg[::2], arg[1::2], strict=False)
        return all(op in _NUMERIC and _NUMERIC[op](float(value), float(n)) for op, n in pairs)
    return False
