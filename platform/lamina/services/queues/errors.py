"""SQS's errors: each a LambdaError (so lamina's own queue API renders it as before) carrying the
names SQS's clients look for: the JSON protocol's ``__type`` and the query protocol's code, which the
JSON protocol repeats in the ``x-amzn-query-error`` header (botocore and the JavaScript SDK read it)."""

from __future__ import annotations

from lamina.errors import (
    InvalidParameterValueException,
    LambdaError,
    ResourceConflictException,
    ResourceNotFoundException,
)


class QueueError(LambdaError):
    """Mixed into the LambdaError of lamina's own API (its status and type); the SQS protocol answers 400."""

    sqs_type = "InvalidParameterValue"  # the JSON protocol's __type (after com.amazonaws.sqs#)
    query_code = "InvalidParameterValue"  # the query protocol's Code


class InvalidParameterValue(QueueError, InvalidParameterValueException):
    pass


class MissingParameter(InvalidParameterValue):
    sqs_type = query_code = "MissingParameter"


class InvalidAttributeName(InvalidParameterValue):
    sqs_type = query_code = "InvalidAttributeName"


class InvalidAttributeValue(InvalidParameterValue):
    sqs_type = "InvalidAttributeValue"
    query_code = "InvalidAttributeValue"


class UnsupportedOperation(InvalidParameterValue):
    sqs_type = "UnsupportedOperation"
    query_code = "AWS.SimpleQueueService.UnsupportedOperation"


class QueueDoesNotExist(QueueError, ResourceNotFoundException):
    sqs_type = "QueueDoesNotExist"
    query_code = "AWS.SimpleQueueService.NonExistentQueue"


class QueueNameExists(QueueError, ResourceConflictException):
    sqs_type = "QueueNameExists"
    query_code = "QueueAlreadyExists"


class ReceiptHandleIsInvalid(InvalidParameterValue):
    sqs_type = query_code = "ReceiptHandleIsInvalid"


class MessageNotInflight(InvalidParameterValue):
    sqs_type = "MessageNotInflight"
    query_code = "AWS.SimpleQueueService.MessageNotInflight"


class EmptyBatchRequest(InvalidParameterValue):
    sqs_type = "EmptyBatchRequest"
    query_code = "AWS.SimpleQueueService.EmptyBatchRequest"


class TooManyEntriesInBatchRequest(InvalidParameterValue):
    sqs_type = "TooManyEntriesInBatchRequest"
    query_code = "AWS.SimpleQueueService.TooManyEntriesInBatchRequest"


class BatchEntryIdsNotDistinct(InvalidParameterValue):
    sqs_type = "BatchEntryIdsNotDistinct"
    query_code = "AWS.SimpleQueueService.BatchEntryIdsNotDistinct"


class InvalidBatchEntryId(InvalidParameterValue):
    sqs_type = "InvalidBatchEntryId"
    query_code = "AWS.SimpleQueueService.InvalidBatchEntryId"


class BatchRequestTooLong(InvalidParameterValue):
    sqs_type = "BatchRequestTooLong"
    query_code = "AWS.SimpleQueueService.BatchRequestTooLong"


class InvalidMessageContents(InvalidParameterValue):
    sqs_type = query_code = "InvalidMessageContents"

