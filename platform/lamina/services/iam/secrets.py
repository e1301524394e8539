"""Secrets at rest: Fernet encryption under the master key(s) from configuration.

Access-key secrets are *encrypted*, not hashed: SigV4 is an HMAC keyed by (a key derived from) the
secret, so verifying a signature needs the secret itself; a hash could only check a bearer token. The
master key never enters the database. ``LAMINA_MASTER_KEY`` holds Fernet keys, newest first (comma
separated); without it lamina makes ``<data_dir>/master.key`` (mode 0600) on first use. Rotation
(``lamina admin rotate-key``) puts a new key first, re-encrypts every stored secret, after which the
old key can be dropped from the list.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from lamina.config import Settings

_lock = threading.Lock()
_cache: dict[tuple[tuple[str, ...], str], MultiFernet] = {}
PREFIX = "fernet:"


class SecretsError(RuntimeError):
    """A stored secret cannot be decrypted with any configured master key."""


def key_file(settings: Settings) -> Path:
    return settings.data_dir / "master.key"


def master_keys(settings: Settings) -> tuple[str, ...]:
    """The configured master keys, newest first; makes the key file when none is configured."""
    if settings.master_keys:
        return settings.master_keys
    path = key_file(settings)
    with _lock:
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(Fernet.generate_key().decode() + "\n")
    return tuple(line.strip() for line in path.read_text().splitlines() if line.strip())


def add_master_key(settings: Settings) -> str:
    """Put a new key first in the key file (the embedded default); return it."""
    new = Fernet.generate_key().decode()
    old = master_keys(settings)
    path = key_file(settings)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write("\n".join((new, *old)) + "\n")
    os.replace(tmp, path)
    with _lock:
        _cache.clear()
    return new


def _fernet(settings: Settings) -> MultiFernet:
    keys = master_keys(settings)
    cache_key = (keys, str(settings.data_dir))
    f = _cache.get(cache_key)
    if f is None:
        try:
            f = MultiFernet([Fernet(k.encode()) for k in keys])
        except ValueError:
            raise SecretsError("LAMINA_MASTER_KEY must hold url-safe base64 Fernet keys (32 bytes)") from None
        _cache[cache_key] = f
    return f


def encrypt(settings: Settings, plaintext: str) -> str:
    return PREFIX + _fernet(settings).encrypt(plaintext.encode()).decode()


def decrypt(settings: Settings, token: str) -> str:
    if not token.startswith(PREFIX):
        raise SecretsError("not an encrypted value")
    try:
        return _fernet(settings).decrypt(token[len(PREFIX):].encode()).decode()
    except InvalidToken:
        raise SecretsError("no configured master key decrypts this value (was the key rotated away?)") from None


def rotate(settings: Settings, token: str) -> str:
    """``token`` re-encrypted under the newest master key."""
    return PREFIX + _fernet(settings).rotate(token[len(PREFIX):].encode()).decode()


def is_encrypted(value: object) -> bool:
    return isinstance(value, str) and value.startswith(PREFIX)


class _SettingsCipher:
    """The master key ring of ``settings`` as a plain encrypt/decrypt pair (for encrypted columns)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def encrypt(self, plaintext: str) -> str:
        return encrypt(self.settings, plaintext)

    def decrypt(self, token: str) -> str:
        return decrypt(self.settings, token)


def cipher(settings: Settings) -> _SettingsCipher:
    return _SettingsCipher(settings)
