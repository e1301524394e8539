"""CloudWatch Logs (JSON 1.1 protocol, ``POST /`` with ``X-Amz-Target: Logs_20140328.<Operation>``).

Enough of the Logs API for Lambda's log groups: FilterLogEvents, GetLogEvents, DescribeLogStreams,
DescribeLogGroups, PutRetentionPolicy, DeleteRetentionPolicy. Errors use the Logs API's names in the
``__type`` member. boto3's ``logs`` client speaks this protocol but signs for service ``logs``: SigV4
authentication has to accept that scope on this endpoint for it to work; bearer tokens (the console) do.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, current_app, g, request

from lamina.errors import InvalidParameterValueException, LambdaError
from lamina.services.logs import log_groups

bp = Blueprint("cloudwatch_logs", __name__)

TARGET_PREFIX = "Logs_20140328."
CONTENT_TYPE = "application/x-amz-json-1.1"
# Lambda error names -> the Logs API's.
_LOGS_ERRORS = {
    "InvalidParameterValueException": "InvalidParameterException",
    "ResourceNotFoundException": "ResourceNotFoundException",
}


def _answer(body: dict[str, Any], status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, content_type=CONTENT_TYPE)


@bp.post("/")
def logs_api() -> Response:
    target = request.headers.get("X-Amz-Target", "")
    if not target.startswith(TARGET_PREFIX):
        return _answer({"__type": "UnknownOperationException", "message": f"Unknown target: {target}"}, 400)
    operation = target[len(TARGET_PREFIX):]
    comps = current_app.extensions["lamina"]
    s = comps.settings
    account_id = g.get("account_id") or s.account_id
    try:
        try:
            req = json.loads(request.get_data(cache=False) or b"{}")
        except (ValueError, RecursionError):
            raise InvalidParameterValueException("The request body is not valid JSON") from None
        if not isinstance(req, dict):
            raise InvalidParameterValueException("The request body must be a JSON object")
        days = s.log_retention_days
        if operation == "FilterLogEvents":
            return _answer(log_groups.filter_log_events(s.data_dir, account_id, req, days))
        if operation == "GetLogEvents":
            return _answer(log_groups.get_log_events(s.data_dir, account_id, req, days))
        if operation == "DescribeLogStreams":
            return _answer(log_groups.describe_log_streams(s.data_dir, account_id, req, s.region, days))
        if operation == "DescribeLogGroups":
            return _answer(log_groups.describe_log_groups(s.data_dir, account_id, req, s.region, days))
        if operation == "PutRetentionPolicy":
            days_wanted = req.get("retentionInDays")
            if not isinstance(days_wanted, int):
                raise InvalidParameterValueException("retentionInDays must be an integer")
            log_groups.put_retention(s.data_dir, account_id, str(req.get("logGroupName")), days_wanted)
            return _answer({})
        if operation == "DeleteRetentionPolicy":
            log_groups.delete_retention(s.data_dir, account_id, str(req.get("logGroupName")))
            return _answer({})
    except LambdaError as err:
        name = _LOGS_ERRORS.get(err.error_type, err.error_type)
        return _answer({"__type": name, "message": str(err)}, err.status)
    return _answer({"__type": "UnknownOperationException", "message": f"Unsupported operation: {operation}"}, 400)
