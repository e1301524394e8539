"""Function environment variables at rest: re-encryption after a master key rotation."""

from __future__ import annotations

from lamina.services.common import Deps
from lamina.store import security


def rotate_all(deps: Deps) -> int:
    """Re-encrypt every stored environment under the newest master key; return how many rows."""
    with deps.sessions.begin() as session:
        return security.reencrypt_environments(session)
