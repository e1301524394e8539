"""TagResource, UntagResource, ListTags."""

from __future__ import annotations

from urllib.parse import quote

from support.lambda_api import assert_error, create, fn_arn

T = "/2017-03-31/tags/"


def tags_url(arn: str) -> str:
    return T + quote(arn, safe="")


def test_tag_list_untag(client):
    create(client, "tagged", Tags={"team": "a"})
    url = tags_url(fn_arn("tagged"))
    resp = client.post(url, json={"Tags": {"env": "prod", "team": "b"}})
    assert resp.status_code == 204
    assert client.get(url).get_json() == {"Tags": {"team": "b", "env": "prod"}}
    assert client.delete(url + "?tagKeys=team&tagKeys=absent").status_code == 204
    assert client.get(url).get_json() == {"Tags": {"env": "prod"}}
    assert client.get("/2015-03-31/functions/tagged").get_json()["Tags"] == {"env": "prod"}


def test_tag_errors(client):
    create(client, "t")
    url = tags_url(fn_arn("t"))
    assert_error(client.post(tags_url(fn_arn("t", "1")), json={"Tags": {"a": "b"}}), 400,
                 "InvalidParameterValueException", "unqualified")
    assert_error(client.post(tags_url(fn_arn("nope")), json={"Tags": {"a": "b"}}), 404, "ResourceNotFoundException")
    assert_error(client.get(tags_url(fn_arn("nope"))), 404, "ResourceNotFoundException")
    assert_error(client.post(T + "t", json={"Tags": {"a": "b"}}), 400, "InvalidParameterValueException")
    assert_error(client.post(url, json={}), 400, "InvalidParameterValueException", "Tags is required")
    assert_error(client.post(url, json={"Tags": {"a": 1}}), 400, "InvalidParameterValueException")
    assert_error(client.post(url, json={"Tags": {"aws:own": "x"}}), 400, "InvalidParameterValueException")
    assert_error(client.post(url, json={"Tags": {"k" * 129: "x"}}), 400, "InvalidParameterValueException")
    assert_error(client.post(url, json={"Tags": {"k": "v" * 257}}), 400, "InvalidParameterValueException")
    assert client.post(url, json={"Tags": {f"k{i}": "v" for i in range(50)}}).status_code == 204
    assert_error(client.post(url, json={"Tags": {"one-more": "v"}}), 400, "InvalidParameterValueException", "50")
    assert_error(client.delete(url), 400, "InvalidParameterValueException", "tagKeys")
    assert len(client.get(url).get_json()["Tags"]) == 50
