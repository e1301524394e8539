"""CloudWatch Logs (JSON 1.1 protocol, ``POST /`` with ``X-Amz-Target: Logs_20140328.<Operation>``).

Enough of the Logs API for Lambda's log groups, so boto3's ``logs`` client and ``aws logs tail
[--follow]`` work unchanged: FilterLogEvents, GetLogEvents, DescribeLogStreams, DescribeLogGroups,
PutRetentionPolicy, DeleteRetentionPolicy. Requests are signed for service ``logs``; a role session
is authorized as ``logs:<Operation>`` on the log group's ARN. Errors use the Logs API's names in the
``__type`` member.
"""

from __future__ import annotations

from typing import Any

from flask import Response, g

from lamina.api import aws_json, context
from lamina.api.auth import authorize
from lamina.errors import InvalidParameterValueException, LambdaError
from lamina.services.logs import log_groups, shared

# Lambda error names -> the Logs API's.
_LOGS_ERRORS = {
    "InvalidParameterValueException": "InvalidParameterException",
    "InvalidRequestContentException": "InvalidParameterException",
    "ResourceNotFoundException": "ResourceNotFoundException",
}


def error(err: LambdaError) -> Response:
    name = _LOGS_ERRORS.get(err.error_type, err.error_type)
    return aws_json.answer(aws_json.LOGS, {"__type": name, "message": err.message}, err.status)


def _group_arn(req: dict[str, Any]) -> str:
    group = req.get("logGroupName") or req.get("logGroupIdentifier") or "*"
    s = context.deps().settings
    return f"arn:aws:logs:{s.region}:{g.account_id}:log-group:{group}:*"


def handle(operation: str, req: dict[str, Any]) -> dict[str, Any]:
    s = context.deps().settings
    account_id = g.account_id
    days = s.log_retention_days
    authorize(f"logs:{operation}", _group_arn(req))
    shared.sync(context.deps(), account_id)  # LAMINA_LOG_STORE=postgres: every host's lines, first
    if operation == "FilterLogEvents":
        return log_groups.filter_log_events(s.data_dir, account_id, req, days)
    if operation == "GetLogEvents":
        return log_groups.get_log_events(s.data_dir, account_id, req, days)
    if operation == "DescribeLogStreams":
        return log_groups.describe_log_streams(s.data_dir, account_id, req, s.region, days)
    if operation == "DescribeLogGroups":
        return log_groups.describe_log_groups(s.data_dir, account_id, req, s.region, days)
    if operation == "PutRetentionPolicy":
        days_wanted = req.get("retentionInDays")
        if not isinstance(days_wanted, int):
            raise InvalidParameterValueException("retentionInDays must be an integer")
        shared.put_retention(context.deps(), account_id, str(req.get("logGroupName")), days_wanted)
        return {}
    if operation == "DeleteRetentionPolicy":
        shared.put_retention(context.deps(), account_id, str(req.get("logGroupName")), None)
        return {}
    raise UnknownOperation(f"Unsupported operation: {operation}")


class UnknownOperation(LambdaError):
    status = 400
    error_type = "UnknownOperationException"
