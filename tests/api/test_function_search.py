"""GET /lamina/v1/functions: the console's server-side search over function names, a page at a time."""

from __future__ import annotations

from typing import Any

from support.lambda_api import assert_error, create

SEARCH = "/lamina/v1/functions"


def test_search_pages_through_matching_names(client: Any) -> None:
    for i in range(25):
        create(client, f"orders-{i:02d}")
    for name in ("Billing_Run", "billing-report", "0_first"):
        create(client, name)
    first = client.get(f"{SEARCH}?PageSize=10").get_json()
    assert first["Total"] == 28 and first["Page"] == 1 and len(first["Functions"]) == 10
    assert [f["FunctionName"] for f in first["Functions"]][:2] == ["0_first", "Billing_Run"]
    third = client.get(f"{SEARCH}?PageSize=10&Page=3").get_json()
    assert [f["FunctionName"] for f in third["Functions"]] == [f"orders-{i:02d}" for i in range(17, 25)]
    assert set(third["Functions"][0]) >= {"FunctionName", "Runtime", "MemorySize", "LastModified"}
    billing = client.get(f"{SEARCH}?Search=BILLING").get_json()  # any case
    assert [f["FunctionName"] for f in billing["Functions"]] == ["Billing_Run", "billing-report"]
    assert billing["Total"] == 2
    # LIKE's wildcards are plain characters here.
    assert client.get(f"{SEARCH}?Search=%25").get_json()["Total"] == 0
    assert client.get(f"{SEARCH}?Search=_").get_json()["Total"] == 2
    assert client.get(f"{SEARCH}?Search=orders-1&PageSize=100").get_json()["Total"] == 10
    assert client.get(f"{SEARCH}?Search=nothing").get_json() == {"Functions": [], "Total": 0, "Page": 1,
                                                                 "PageSize": 20}


def test_bad_search_parameters_are_refused(client: Any) -> None:
    for query in ("PageSize=0", "PageSize=101", "Page=0", "Page=x", "PageSize=-1", "Search=" + "x" * 141):
        assert_error(client.get(f"{SEARCH}?{query}"), 400, "InvalidParameterValueException")
