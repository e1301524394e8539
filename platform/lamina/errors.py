"""The LambdaError tree: every error a caller can see, with Lambda's exact names and statuses.

    LambdaError (status, error_type, message, extra body fields)
    ├── InvalidParameterValueException        400
    │   └── CodeStorageExceededException      400
    ├── InvalidRequestContentException        400
    ├── UnrecognizedClientException           403
    ├── InvalidSignatureException             403
    ├── AccessDeniedException                 403
    ├── ResourceNotFoundException             404
    ├── ResourceConflictException             409
    ├── PreconditionFailedException           412
    ├── RequestTooLargeException              413
    ├── UnsupportedMediaTypeException         415
    ├── TooManyRequestsException              429  (carries Reason, Retry-After)
    ├── ServiceException                      500
    └── ResourceNotReadyException             502

The HTTP layer renders them in one place (``lamina.api.errors``); nothing below it knows HTTP.
"""

from __future__ import annotations

from typing import Any


class LambdaError(Exception):
    status: int = 500
    error_type: str = "ServiceException"
    kind: str = "User"

    def __init__(self, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra

    def body(self) -> dict[str, Any]:
        return {"Type": self.kind, "Message": self.message, "message": self.message, **self.extra}


class InvalidParameterValueException(LambdaError):
    status = 400
    error_type = "InvalidParameterValueException"


class CodeStorageExceededException(LambdaError):
    status = 400
    error_type = "CodeStorageExceededException"


class InvalidRequestContentException(LambdaError):
    status = 400
    error_type = "InvalidRequestContentException"


class UnrecognizedClientException(LambdaError):
    status = 403
    error_type = "UnrecognizedClientException"


class InvalidSignatureException(LambdaError):
    status = 403
    error_type = "InvalidSignatureException"


class AccessDeniedException(LambdaError):
    status = 403
    error_type = "AccessDeniedException"


class ResourceNotFoundException(LambdaError):
    status = 404
    error_type = "ResourceNotFoundException"


class ProvisionedConcurrencyConfigNotFoundException(LambdaError):
    status = 404
    error_type = "ProvisionedConcurrencyConfigNotFoundException"


class ResourceConflictException(LambdaError):
    status = 409
    error_type = "ResourceConflictException"


class PreconditionFailedException(LambdaError):
    status = 412
    error_type = "PreconditionFailedException"


class RequestTooLargeException(LambdaError):
    status = 413
    error_type = "RequestTooLargeException"


class UnsupportedMediaTypeException(LambdaError):
    status = 415
    error_type = "UnsupportedMediaTypeException"


class TooManyRequestsException(LambdaError):
    status = 429
    error_type = "TooManyRequestsException"

    def __init__(self, message: str, reason: str, retry_after_s: int = 1) -> None:
        super().__init__(message, Reason=reason)
        self.reason = reason
        self.retry_after_s = retry_after_s


class ServiceException(LambdaError):
    status = 500
    error_type = "ServiceException"
    kind = "Service"


class ResourceNotReadyException(LambdaError):
    status = 502
    error_type = "ResourceNotReadyException"
    kind = "Service"
