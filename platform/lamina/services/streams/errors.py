"""Kinesis Data Streams' errors, each a LambdaError carrying the name Kinesis's clients look for (the JSON
protocol's ``__type``)."""

from __future__ import annotations

from lamina.errors import InvalidParameterValueException, ResourceConflictException, ResourceNotFoundException


class StreamNotFound(ResourceNotFoundException):
    kinesis_type = "ResourceNotFoundException"


class StreamInUse(ResourceConflictException):
    kinesis_type = "ResourceInUseException"


class InvalidArgument(InvalidParameterValueException):
    kinesis_type = "InvalidArgumentException"


class ExpiredIterator(InvalidParameterValueException):
    kinesis_type = "ExpiredIteratorException"


class LimitExceeded(InvalidParameterValueException):
    kinesis_type = "LimitExceededException"
