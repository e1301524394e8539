"""Encrypted columns: function environment variables are stored Fernet-encrypted (issue 5, item 5).

``EncryptedJSON`` keeps a JSON value as ``{"fernet": "<token>"}``; reading decrypts it. The cipher is
the process's master key ring (``lamina.services.iam.secrets``), installed once by the composition root
(``lamina.wiring.build_components``) with ``install``: a column type cannot be handed arguments per
query, so this one module keeps it, as SQLAlchemy keeps its dialects. Rows written before encryption
(plain JSON objects) are read as they are and encrypted when next written or by
``lamina admin rotate-key``.
"""

from __future__ import annotations

import json
from typing import Any, Protocol

from sqlalchemy import JSON
from sqlalchemy.types import TypeDecorator

MARK = "fernet"


class Cipher(Protocol):
    def encrypt(self, plaintext: str) -> str: ...
    def decrypt(self, token: str) -> str: ...


class _Holder:
    cipher: Cipher | None = None


_holder = _Holder()


def install(cipher: Cipher) -> None:
    _holder.cipher = cipher


def _cipher() -> Cipher:
    if _holder.cipher is None:
        raise RuntimeError("no master key installed: build the process with lamina.wiring.build_components")
    return _holder.cipher


def is_encrypted(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {MARK}


class EncryptedJSON(TypeDecorator[Any]):
    impl = JSON
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> Any:
        if value is None or is_encrypted(value):
            return value
        return {MARK: _cipher().encrypt(json.dumps(value, sort_keys=True))}

    def process_result_value(self, value: Any, dialect: Any) -> Any:
        if is_encrypted(value):
            return json.loads(_cipher().decrypt(value[MARK]))
        return value
