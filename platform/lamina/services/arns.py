"""Names and ARNs: builds function/layer ARNs and parses every form Lambda accepts for them.

``FunctionName`` may be a name, ``name:qualifier``, a partial ARN (``<account>:function:<name>``) or a
full ARN; parsing checks the name, and answers ResourceNotFoundException for an ARN of another account
or region (nothing of theirs exists here).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lamina.errors import InvalidParameterValueException, ResourceNotFoundException

LATEST = "$LATEST"
_REGION = r"[a-z]{2}(?:-gov|-iso[a-z]?)?-[a-z]+-\d"
# botocore's FunctionName pattern, with names for the parts.
_FUNCTION_NAME = re.compile(
    rf"(?:arn:(?:aws[a-zA-Z-]*)?:lambda:)?(?:(?P<region>{_REGION}):)?(?:(?P<account>\d{{12}}):)?(?:function:)?"
    r"(?P<name>[a-zA-Z0-9_-]+)(?::(?P<qualifier>\$LATEST|[a-zA-Z0-9_-]+))?"
)
_LAYER = re.compile(
    r"(?:arn:[a-zA-Z0-9-]+:lambda:(?P<region>[a-zA-Z0-9-]+):(?P<account>\d{12}):layer:)?(?P<name>[a-zA-Z0-9_-]+)"
)
_LAYER_VERSION_ARN = re.compile(
    r"arn:[a-zA-Z0-9-]+:lambda:(?P<region>[a-zA-Z0-9-]+):(?P<account>\d{12}):layer:(?P<name>[a-zA-Z0-9_-]+)"
    r":(?P<version>[0-9]+)"
)
NAME_RE = re.compile(r"[a-zA-Z0-9_-]{1,64}")
QUALIFIER_RE = re.compile(r"\$LATEST|[a-zA-Z0-9_-]{1,128}")
VERSION_RE = re.compile(r"[0-9]+")
MAX_FUNCTION_NAME_INPUT = 140
MAX_LAYER_NAME_INPUT = 140


@dataclass(frozen=True)
class FunctionRef:
    """A parsed FunctionName: the bare name and the qualifier it carried or was given (or None)."""

    name: str
    qualifier: str | None


def function_arn(region: str, account_id: str, name: str, qualifier: str | None = None) -> str:
    arn = f"arn:aws:lambda:{region}:{account_id}:function:{name}"
    return f"{arn}:{qualifier}" if qualifier else arn


def layer_arn(region: str, account_id: str, name: str, version: int | None = None) -> str:
    arn = f"arn:aws:lambda:{region}:{account_id}:layer:{name}"
    return f"{arn}:{version}" if version is not None else arn


def _check_owner(value: str, region: str | None, account: str | None, my_region: str, my_account: str,
                 what: str) -> None:
    if (account and account != my_account) or (region and region != my_region):
        raise ResourceNotFoundException(f"{what} not found: {value}")


def parse_function_name(value: str, region: str, account_id: str, qualifier: str | None = None) -> FunctionRef:
    """Parse a FunctionName input plus an optional separate ``Qualifier``.

    Raises InvalidParameterValueException for a malformed name or qualifier, or when the qualifier in
    the name contradicts ``qualifier``; ResourceNotFoundException for another account's or region's ARN.
    """
    if not isinstance(value, str) or not value or len(value) > MAX_FUNCTION_NAME_INPUT:
        raise InvalidParameterValueException(f"Invalid function name: {value!r}")
    m = _FUNCTION_NAME.fullmatch(value)
    if m is None or len(m.group("name")) > 64:
        raise InvalidParameterValueException(
            f"1 validation error detected: Value '{value}' at 'functionName' failed to satisfy constraint: "
            "Member must satisfy regular expression pattern: "
            "(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-\\d{1}:)?(\\d{12}:)?(function:)?"
            "([a-zA-Z0-9-_]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?"
        )
    _check_owner(value, m.group("region"), m.group("account"), region, account_id, "Function")
    derived = m.group("qualifier")
    if qualifier is not None and qualifier != "":
        check_qualifier(qualifier)
        if derived and derived != qualifier:
            raise InvalidParameterValueException(
                "The derived qualifier from the function name does not match the specified qualifier."
            )
    return FunctionRef(m.group("name"), (qualifier or None) or derived)


def check_qualifier(qualifier: str) -> str:
    if not QUALIFIER_RE.fullmatch(qualifier):
        raise InvalidParameterValueException(f"Invalid qualifier: {qualifier!r}")
    return qualifier


def parse_layer_name(value: str, region: str, account_id: str) -> str:
    """The bare layer name of a LayerName input (a name or a layer ARN)."""
    if not isinstance(value, str) or not value or len(value) > MAX_LAYER_NAME_INPUT:
        raise InvalidParameterValueException(f"Invalid layer name: {value!r}")
    m = _LAYER.fullmatch(value)
    if m is None:
        raise InvalidParameterValueException(
            f"1 validation error detected: Value '{value}' at 'layerName' failed to satisfy constraint: "
            "Member must satisfy regular expression pattern: "
            "(arn:[a-zA-Z0-9-]+:lambda:[a-zA-Z0-9-]+:\\d{12}:layer:[a-zA-Z0-9-_]+)|[a-zA-Z0-9-_]+"
        )
    _check_owner(value, m.group("region"), m.group("account"), region, account_id, "Layer")
    return m.group("name")


def parse_layer_version_arn(value: str, region: str, account_id: str) -> tuple[str, int]:
    """(layer name, version) of a layer version ARN; InvalidParameterValueException when malformed."""
    m = _LAYER_VERSION_ARN.fullmatch(value) if isinstance(value, str) and len(value) <= 140 else None
    if m is None:
        raise InvalidParameterValueException(f"Invalid layer version ARN: {value!r}")
    _check_owner(value, m.group("region"), m.group("account"), region, account_id, "Layer version")
    return m.group("name"), int(m.group("version"))


# The account the public layers (layers/layers.json) are published in: AWS's own publisher of the
# Powertools layers, so their ARNs work unchanged; every account may use and list them.
PUBLIC_LAYER_ACCOUNT = "017000801446"


def layer_version_owner(value: str) -> str | None:
    """The account in a layer version ARN (None when it is not one)."""
    m = _LAYER_VERSION_ARN.fullmatch(value) if isinstance(value, str) and len(value) <= 140 else None
    return m.group("account") if m else None


def parse_function_arn(value: str, region: str, account_id: str) -> FunctionRef:
    """A full function ARN (the only resource form tags accept for functions)."""
    if not isinstance(value, str) or not value.startswith("arn:") or ":function:" not in value:
        raise InvalidParameterValueException(f"Invalid resource ARN: {value!r}")
    return parse_function_name(value, region, account_id)
