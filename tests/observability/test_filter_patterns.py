"""CloudWatch Logs filter patterns (lamina.services.logs.filter_patterns): terms, JSON and space-delimited."""

from __future__ import annotations

import json

import pytest
from lamina.services.logs.filter_patterns import PatternError, compile_pattern

ORDER = json.dumps({"level": "ERROR", "latency": 250, "user": {"id": "u-7", "admin": True}, "tags": ["a", "b"],
                    "note": None, "path": "/api/orders/17"})
SLOW = json.dumps({"level": "INFO", "latency": 40.5, "user": {"admin": False}, "path": "/health"})
ACCESS = '127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 404 2326'
OK = '10.0.0.9 - - [10/Oct/2000:13:56:01 -0700] "POST /login HTTP/1.1" 200 512'


def matches(pattern: str, *messages: str) -> list[bool]:
    m = compile_pattern(pattern)
    assert m is not None
    return [m(x) for x in messages]


def test_terms_phrases_exclusions_and_alternatives() -> None:
    assert compile_pattern("") is None and compile_pattern("   ") is None
    assert matches("ERROR latency", ORDER, SLOW) == [True, False]
    assert matches('"task timed out"', "Task timed out", "2020 task timed out after 3") == [False, True]
    assert matches("latency -ERROR", ORDER, SLOW) == [False, True]
    assert matches("?ERROR ?health", ORDER, SLOW, "nothing") == [True, True, False]


def test_json_comparisons() -> None:
    assert matches('{ $.level = "ERROR" }', ORDER, SLOW) == [True, False]
    assert matches("{ $.level = ERR* }", ORDER, SLOW) == [True, False]
    assert matches('{ $.level != "ERROR" }', ORDER, SLOW) == [False, True]
    assert matches("{ $.latency > 100 }", ORDER, SLOW) == [True, False]
    assert matches("{ $.latency <= 40.5 }", ORDER, SLOW) == [False, True]
    assert matches("{ $.latency = 250 }", ORDER, SLOW) == [True, False]
    assert matches('{ $.user.id = "u-7" }', ORDER, SLOW) == [True, False]
    assert matches('{ $.tags[1] = "b" }', ORDER, SLOW) == [True, False]
    assert matches('{ $.path = "/api/*" }', ORDER, SLOW) == [True, False]


def test_json_existence_booleans_and_null() -> None:
    assert matches("{ $.user.admin IS TRUE }", ORDER, SLOW) == [True, False]
    assert matches("{ $.user.admin IS FALSE }", ORDER, SLOW) == [False, True]
    assert matches("{ $.note IS NULL }", ORDER, SLOW) == [True, False]
    assert matches("{ $.user.id NOT EXISTS }", ORDER, SLOW) == [False, True]
    assert matches("{ $.user.id EXISTS }", ORDER, SLOW) == [True, False]


def test_json_and_or_parentheses() -> None:
    assert matches('{ $.level = "ERROR" && $.latency > 100 }', ORDER, SLOW) == [True, False]
    assert matches('{ $.level = "ERROR" || $.latency < 50 }', ORDER, SLOW) == [True, True]
    assert matches('{ ($.level = "INFO" || $.latency > 1000) && $.path = "/health" }', ORDER, SLOW) == [False, True]


def test_json_patterns_skip_messages_that_are_not_json() -> None:
    assert matches('{ $.level = "ERROR" }', "ERROR not json", '[INFO] 2020 {"level": "ERROR"}') == [False, True]


def test_space_delimited() -> None:
    common = "[ip, identity, user, timestamp, request, status, bytes]"
    assert matches(common, ACCESS, OK, "too few fields") == [True, True, False]
    assert matches("[ip, identity, user, timestamp, request, status = 404, bytes]", ACCESS, OK) == [True, False]
    assert matches("[ip, identity, user, timestamp, request, status = 4* || status = 5*, bytes > 1000]",
                   ACCESS, OK) == [True, False]
    assert matches('[ip, identity, user, timestamp, request = "POST *", ...]', ACCESS, OK) == [False, True]
    assert matches("[..., status = 200, bytes]", ACCESS, OK) == [False, True]
    assert matches("[ip = 10.*, ...]", ACCESS, OK) == [False, True]
    assert matches("[ip, ..., bytes < 1000]", ACCESS, OK) == [False, True]


@pytest.mark.parametrize("bad", [
    "{ $.level = }", "{ $.level", "{ level = 1 }", "{ $.a > abc }", "{ $.a IS MAYBE }", "{ ($.a = 1 }",
    "{ $.a = 1 $.b = 2 }", "{ }", "[a, , b]", "[a, a]", "[a = ]", "[1x, b]", "[a", '"unbalanced',
    "{ $.a NOT HERE }",
])
def test_malformed_patterns_are_refused(bad: str) -> None:
    with pytest.raises(PatternError):
        compile_pattern(bad)
