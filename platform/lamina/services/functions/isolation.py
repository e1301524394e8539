"""Isolation: which sandbox a function's environments run in.

``container`` is a Docker container under runc, with lamina's hardening (read-only root, no
capabilities, no-new-privileges, a pids limit, a non-root user, an isolated bridge): function code
talks to the host kernel directly. ``gvisor`` runs the same container under gVisor's ``runsc``, whose
user-space kernel answers the function's system calls, so a kernel bug reachable from a container is
not reachable from the function; it costs start time and CPU (see the README's figures).

An account has a default and the set its functions may choose from (only an operator sets them, with
``lamina admin set-isolation``); a function asks for one of that set or takes the default. The setting
is not versioned: it applies to every version and alias of the function at once, and a change retires
the function's warm environments (the revision environments run includes it).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

import redis

from lamina.errors import InvalidParameterValueException, ResourceNotFoundException
from lamina.scheduler import catalog
from lamina.services import common
from lamina.services.common import Deps
from lamina.store import queries
from lamina.store.models import Account

CONTAINER = "container"
GVISOR = "gvisor"
MODES = (CONTAINER, GVISOR)
OCI_RUNTIME = {CONTAINER: "runc", GVISOR: "runsc"}  # the Docker runtime of each mode

log = logging.getLogger(__name__)
_runtimes_seen: dict[int, frozenset[str]] = {}
_lock = threading.Lock()


@dataclass(frozen=True)
class AccountIsolation:
    default: str
    allowed: tuple[str, ...]


@dataclass(frozen=True)
class FunctionIsolation:
    requested: str | None  # None: the account's default
    effective: str
    account: AccountIsolation


def of_account(account: Account | None) -> AccountIsolation:
    allowed = tuple(m for m in MODES if account is None or not account.isolation_allowed
                    or m in account.isolation_allowed)
    default = (account.isolation if account is not None and account.isolation else CONTAINER)
    return AccountIsolation(default, allowed)


def effective(account: AccountIsolation, requested: str | None) -> str:
    """The mode a function runs in: what it asked for if its account allows it, else the account's default
    (the account's set can shrink after a function chose; the default is always in the set)."""
    return requested if requested in account.allowed else account.default


def _mode(value: Any, field: str) -> str:
    if not isinstance(value, str) or value not in MODES:
        raise InvalidParameterValueException(
            f"{field} must be one of {', '.join(MODES)}; got {value!r}")
    return value


def engine_runtimes(deps: Deps) -> frozenset[str]:
    """The OCI runtimes the Docker engine has registered (asked once per client)."""
    client = deps.docker
    with _lock:
        found = _runtimes_seen.get(id(client))
    if found is None:
        found = frozenset((client.api.info().get("Runtimes") or {}).keys())
        with _lock:
            _runtimes_seen[id(client)] = found
    return found


def _check_available(deps: Deps, mode: str) -> None:
    if OCI_RUNTIME[mode] not in engine_runtimes(deps) and mode != CONTAINER:
        raise InvalidParameterValueException(
            f"Isolation {mode} needs the Docker runtime {OCI_RUNTIME[mode]!r}, which this lamina's engine does not "
            "have (scripts/services.sh docker registers it when run as root)")


def get(deps: Deps, account_id: str, function_name: str) -> FunctionIsolation:
    name = common.unqualified(deps, account_id, function_name)
    with deps.sessions() as session:
        fn = common.load_function(deps, session, account_id, name)
        account = of_account(session.get(Account, account_id))
        return FunctionIsolation(fn.isolation, effective(account, fn.isolation), account)


def put(deps: Deps, account_id: str, function_name: str, requested: Any) -> FunctionIsolation:
    """Set the mode ``function_name`` asks for (None: back to the account's default)."""
    name = common.unqualified(deps, account_id, function_name)
    mode = None if requested is None else _mode(requested, "Isolation")
    with deps.sessions.begin() as session:
        fn = common.load_function(deps, session, account_id, name, lock=True)
        account = of_account(session.get(Account, account_id))
        if mode is not None and mode not in account.allowed:
            raise InvalidParameterValueException(
                f"Isolation {mode} is not allowed in account {account_id} (allowed: {', '.join(account.allowed)})")
        _check_available(deps, effective(account, mode))
        fn.isolation = mode
        out = FunctionIsolation(mode, effective(account, mode), account)
    common.changed(deps, account_id, name)
    return out


def set_account(deps: Deps, account_id: str, default: Any, allowed: Any) -> AccountIsolation:
    """An operator's setting: the account's default mode and the modes its functions may ask for."""
    modes = tuple(_mode(m, "allowed isolation") for m in allowed)
    mode = _mode(default, "default isolation")
    if not modes or mode not in modes:
        raise InvalidParameterValueException(f"the default isolation {mode} must be one of the allowed ones")
    _check_available(deps, mode)
    with deps.sessions.begin() as session:
        account = session.get(Account, account_id, with_for_update=True)
        if account is None:
            raise ResourceNotFoundException(f"Account not found: {account_id}")
        account.isolation = mode
        account.isolation_allowed = list(modes)
        names = queries.function_names(session, account_id)
    try:
        for name in names:  # each function's cached spec carries its effective mode
            catalog.invalidate(deps.redis, account_id, name)
    except redis.RedisError as err:  # lamina admin without the platform's Redis: the cache's TTL applies
        log.warning("could not refresh the invoke path's cache (%s): the change applies within %d s",
                    err, catalog.TTL_S)
    return AccountIsolation(mode, modes)
