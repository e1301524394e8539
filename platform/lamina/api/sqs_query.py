"""SQS's older query protocol (form-encoded ``Action=...`` requests, XML answers), for the SDKs that still
speak it: boto3/botocore before 1.31, the AWS SDK for JavaScript v2, the Java SDK v1.

A request is translated into the JSON protocol's body (``lamina.api.sqs`` does the work) and the answer
back into XML. The query protocol flattens lists and maps into numbered parameters whose names differ
from the JSON members (``Attribute.1.Name`` / ``Attribute.1.Value`` for ``Attributes``); the tables below
give those names, as SQS's query model did. A request sent to a queue's URL (``/<account>/<name>``) names
that queue without a QueueUrl parameter.
"""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import escape

from flask import Request, Response

from lamina.errors import AccessDeniedException, LambdaError
from lamina.services.queues.errors import QueueError

XMLNS = "http://queue.amazonaws.com/doc/2012-11-05/"
# JSON member -> (query name, map key name, map value name); lists have no key or value names.
_MAPS = {"Attributes": ("Attribute", "Name", "Value"), "MessageAttributes": ("MessageAttribute", "Name", "Value"),
         "MessageSystemAttributes": ("MessageSystemAttribute", "Name", "Value"), "Tags": ("Tag", "Key", "Value"),
         "tags": ("Tag", "Key", "Value")}
_LISTS = {"AttributeNames": "AttributeName", "MessageAttributeNames": "MessageAttributeName",
          "MessageSystemAttributeNames": "MessageSystemAttributeName", "TagKeys": "TagKey",
          "AWSAccountIds": "AWSAccountId", "Actions": "ActionName"}
_ENTRIES = {"SendMessageBatch": "SendMessageBatchRequestEntry", "DeleteMessageBatch": "DeleteMessageBatchRequestEntry",
            "ChangeMessageVisibilityBatch": "ChangeMessageVisibilityBatchRequestEntry"}
# Answer members -> the XML element each item is written as.
_RESULT_LISTS = {"QueueUrls": "QueueUrl", "queueUrls": "QueueUrl", "Messages": "Message",
                 "Failed": "BatchResultErrorEntry"}
_SUCCESS_ENTRY = {"SendMessageBatch": "SendMessageBatchResultEntry",
                  "DeleteMessageBatch": "DeleteMessageBatchResultEntry",
                  "ChangeMessageVisibilityBatch": "ChangeMessageVisibilityBatchResultEntry"}
_RESULT_MAPS = {"Attributes": ("Attribute", "Name", "Value"), "Tags": ("Tag", "Key", "Value")}


def speaks_query(req: Request) -> bool:
    """Whether ``req`` is an SQS query-protocol request."""
    if req.headers.get("X-Amz-Target") or req.method not in ("POST", "GET"):
        return False
    if "Action" in req.args:
        return True
    if req.method != "POST" or not (req.content_type or "").startswith("application/x-www-form-urlencoded"):
        return False
    req.get_data(cache=True)  # keep the body for the signature check: the form is then parsed from the cache
    return "Action" in req.form


def _params(req: Request) -> dict[str, str]:
    params = dict(req.args.items())
    if req.method == "POST":
        params.update(req.form.items())
    return params


def _tree(params: dict[str, str], prefix: str) -> dict[int, dict[str, str]]:
    """Numbered parameters ``<prefix>.<n>.<rest>`` as {n: {rest: value}} (``rest`` "" for a bare list item)."""
    out: dict[int, dict[str, str]] = {}
    for key, value in params.items():
        if not key.startswith(prefix + "."):
            continue
        index, _, rest = key[len(prefix) + 1:].partition(".")
        if index.isdigit():
            out.setdefault(int(index), {})[rest] = value
    return dict(sorted(out.items()))


def _attribute_value(item: dict[str, str]) -> dict[str, str]:
    return {k.split(".", 1)[1]: v for k, v in item.items() if k.startswith("Value.")}


def to_json(action: str, params: dict[str, str], path_queue: str | None) -> dict[str, Any]:
    """The JSON protocol's body of a query request."""
    body: dict[str, Any] = {k: v for k, v in params.items()
                            if "." not in k and k not in ("Action", "Version", "AWSAccessKeyId", "Signature",
                                                          "SignatureMethod", "SignatureVersion", "Timestamp")}
    for member, query in _LISTS.items():
        items = _tree(params, query)
        if items:
            body[member] = [i.get("", "") for i in items.values()]
    for member, (query, key, value) in _MAPS.items():
        items = _tree(params, query)
        # "Tag.N" is CreateQueue's ``tags`` but TagQueue's ``Tags``.
        if not items or (member in ("tags", "Tags") and (member == "tags") != (action == "CreateQueue")):
            continue
        if member in ("MessageAttributes", "MessageSystemAttributes"):
            body[member] = {i.get(key, ""): _attribute_value(i) for i in items.values()}
        else:
            body[member] = {i.get(key, ""): i.get(value, "") for i in items.values()}
    entry = _ENTRIES.get(action)
    if entry:
        # Each entry's own parameters (Id, MessageBody, MessageAttribute.1.Name, ...) read as a request's.
        body["Entries"] = [to_json("SendMessage", item, None) for item in _tree(params, entry).values()]
    for number in ("MaxNumberOfMessages", "WaitTimeSeconds", "VisibilityTimeout", "DelaySeconds", "MaxResults"):
        if isinstance(body.get(number), str) and body[number].lstrip("-").isdigit():
            body[number] = int(body[number])
    if path_queue and "QueueUrl" not in body:
        body["QueueUrl"] = path_queue
    return body


def _xml(value: Any, name: str, action: str) -> str:
    if name == "MessageAttributes" and isinstance(value, dict):
        return "".join(f"<MessageAttribute><Name>{escape(k)}</Name><Value>"
                       + "".join(f"<{f}>{escape(str(x))}</{f}>" for f, x in v.items())
                       + "</Value></MessageAttribute>" for k, v in value.items())
    if name in _RESULT_MAPS and isinstance(value, dict):
        query, key, val = _RESULT_MAPS[name]
        return "".join(f"<{query}><{key}>{escape(str(k))}</{key}><{val}>{escape(str(v))}</{val}></{query}>"
                       for k, v in value.items())
    if isinstance(value, dict):
        return f"<{name}>" + "".join(_xml(v, k, action) for k, v in value.items()) + f"</{name}>"
    if isinstance(value, list):
        item = _SUCCESS_ENTRY.get(action, "member") if name == "Successful" else _RESULT_LISTS.get(name, name)
        return "".join(_xml(v, item, action) for v in value)
    if isinstance(value, bool):
        value = "true" if value else "false"
    return f"<{name}>{escape(str(value))}</{name}>"


def answer(action: str, result: dict[str, Any], request_id: str) -> Response:
    inner = "".join(_xml(v, k, action) for k, v in result.items())
    body = (f'<?xml version="1.0"?><{action}Response xmlns="{XMLNS}"><{action}Result>{inner}</{action}Result>'
            f"<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata></{action}Response>")
    return Response(body, status=200, content_type="text/xml")


def error(err: LambdaError, request_id: str) -> Response:
    if isinstance(err, QueueError):
        code, kind, status = err.query_code, "Sender", 400
    elif isinstance(err, AccessDeniedException):
        code, kind, status = "AccessDenied", "Sender", 403
    elif err.status < 500:
        code = "InvalidParameterValue" if err.status == 400 else err.error_type
        kind, status = "Sender", (403 if err.status == 403 else 400)
    else:
        code, kind, status = "InternalError", "Receiver", 500
    body = (f'<?xml version="1.0"?><ErrorResponse xmlns="{XMLNS}"><Error><Type>{kind}</Type><Code>{escape(code)}</Code>'
            f"<Message>{escape(err.message)}</Message><Detail/></Error><RequestId>{request_id}</RequestId>"
            "</ErrorResponse>")
    return Response(body, status=status, content_type="text/xml")


def handle(req: Request, path_queue: str | None, request_id: str) -> Response:
    from lamina.api import sqs

    params = _params(req)
    action = params.get("Action", "")
    try:
        return answer(action, sqs.handle(action, to_json(action, params, path_queue)), request_id)
    except LambdaError as err:
        return error(err, request_id)
