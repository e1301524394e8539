"""Accounts, users, access keys and execution roles; resolving a presented key to a Principal.

An account is a tenant with a 12-digit id. A user belongs to one account and holds access keys (id +
secret, the secret shown once and stored encrypted, see ``lamina.services.iam.secrets``). An execution
role is a named list of statements ``{"Action": [...], "Resource": [...]}`` (``*`` wildcards) that
functions run with; code inside a function gets short-lived credentials for its role
(``lamina.services.iam.sessions``).
"""

from __future__ import annotations

import fnmatch
import re
import secrets as pysecrets
import string
import time
from dataclasses import dataclass, field
from typing import Any

from lamina.errors import InvalidParameterValueException, ResourceConflictException, ResourceNotFoundException
from lamina.services import arns
from lamina.services.common import Deps, now
from lamina.services.iam import secrets
from lamina.store import queries, security
from lamina.store.models import AccessKey, Account, ExecutionRole, User

ACCOUNT_RE = re.compile(r"\d{12}")
NAME_RE = re.compile(r"[a-zA-Z0-9_+=,.@-]{1,64}")
KEY_ID_RE = re.compile(r"L[A-Z]IA[A-Z0-9]{16}")
_KEY_ALPHABET = string.ascii_uppercase + string.digits


@dataclass(frozen=True)
class Principal:
    """Who is calling: a user (by access key) or a function's role session."""

    account_id: str
    name: str
    key_id: str
    admin: bool = False
    # For a role session: the role's statements (what it may do), its name and expiry; None for users.
    role: str | None = None
    statements: tuple[dict[str, Any], ...] | None = None
    api_rate: int | None = None  # the account's own API requests-per-second quota; None: the instance's
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def arn(self) -> str:
        if self.role is not None:
            return f"arn:aws:sts::{self.account_id}:assumed-role/{self.role}/{self.name}"
        return f"arn:aws:iam::{self.account_id}:user/{self.name}"


@dataclass(frozen=True)
class Credentials:
    account_id: str
    user: str
    access_key_id: str
    secret_access_key: str


def _check_name(value: str, what: str) -> str:
    if not isinstance(value, str) or not NAME_RE.fullmatch(value):
        raise InvalidParameterValueException(f"Invalid {what} name: {value!r}")
    return value


def new_key_id(prefix: str = "LKIA") -> str:
    return prefix + "".join(pysecrets.choice(_KEY_ALPHABET) for _ in range(16))


def new_secret() -> str:
    return pysecrets.token_urlsafe(30)


# -- accounts, users, keys


def create_account(deps: Deps, name: str, account_id: str | None = None) -> str:
    """Create an account; return its id (random 12 digits unless given). 409 if name or id is taken."""
    _check_name(name, "account")
    if account_id is not None and not ACCOUNT_RE.fullmatch(account_id):
        raise InvalidParameterValueException(f"Account ids are 12 digits, got {account_id!r}")
    with deps.sessions.begin() as session:
        for _ in range(20):
            acct = account_id or "".join(pysecrets.choice(string.digits) for _ in range(12))
            if acct.startswith("0") and account_id is None:
                continue  # 000000000000 and friends are for the configured default account
            if queries.add_unique(session, Account(id=acct, name=name, created=now())):
                return acct
            if account_id is not None:
                break
        raise ResourceConflictException(f"Account already exists: {name} / {account_id}")


def list_accounts(deps: Deps) -> list[tuple[str, str]]:
    with deps.sessions() as session:
        return [(a.id, a.name) for a in security.list_accounts(session)]


def create_user(deps: Deps, account_id: str, name: str, admin: bool = False) -> None:
    _check_name(name, "user")
    with deps.sessions.begin() as session:
        if security.get_account(session, account_id) is None:
            raise ResourceNotFoundException(f"Account not found: {account_id}")
        if not queries.add_unique(session, User(account_id=account_id, name=name, admin=admin, created=now())):
            raise ResourceConflictException(f"User already exists: {name}")


def create_key(deps: Deps, account_id: str, user: str) -> Credentials:
    """A new access key for ``user``; the only time its secret is returned."""
    secret = new_secret()
    with deps.sessions.begin() as session:
        row = security.get_user(session, account_id, user)
        if row is None:
            raise ResourceNotFoundException(f"User not found: {user} in account {account_id}")
        key_id = new_key_id()
        session.add(AccessKey(key_id=key_id, user_id=row.id, secret_enc=secrets.encrypt(deps.settings, secret),
                              active=True, created=now()))
    return Credentials(account_id, user, key_id, secret)


def delete_key(deps: Deps, key_id: str) -> None:
    with deps.sessions.begin() as session:
        found = security.key_with_user(session, key_id)
        if found is None:
            raise ResourceNotFoundException(f"Access key not found: {key_id}")
        queries.delete_obj(session, found[0])
    cache = _key_cache(deps)
    if cache is not None:
        cache.pop(key_id, None)
    # Other processes cache the key for up to KEY_CACHE_TTL_S: tell them (checked on every request).
    deps.redis.set(revoked_key(deps.settings.instance, key_id), "1", ex=int(KEY_CACHE_TTL_S * 4))


def revoked_key(instance: str, key_id: str) -> str:
    return f"lamina:{instance}:iam:revoked:{key_id}"


def bootstrap(deps: Deps, account_name: str = "admin", user: str = "admin") -> Credentials:
    """First account (the configured default account id, so existing resources stay its) and admin key."""
    with deps.sessions() as session:
        if any(a.id != arns.PUBLIC_LAYER_ACCOUNT for a in security.list_accounts(session)):
            raise ResourceConflictException("lamina is already bootstrapped; use `lamina admin create-key`")
    account_id = create_account(deps, account_name, deps.settings.account_id)
    create_user(deps, account_id, user, admin=True)
    return create_key(deps, account_id, user)


def ensure_account_user_key(deps: Deps, account_id: str, account_name: str, user: str,
                            admin: bool = False) -> Credentials:
    """Account and user if missing, then a new key (what test fixtures and `lamina up` need)."""
    with deps.sessions() as session:
        has_account = security.get_account(session, account_id) is not None
        has_user = has_account and security.get_user(session, account_id, user) is not None
    if not has_account:
        create_account(deps, account_name, account_id)
    if not has_user:
        create_user(deps, account_id, user, admin=admin)
    return create_key(deps, account_id, user)


# How long a process trusts a key it has looked up. Every API call authenticates, and the warm invoke
# path may not query PostgreSQL (nor pay a Fernet decrypt): a deleted or deactivated key stops working
# in the process that deleted it at once, in the others within this many seconds.
KEY_CACHE_TTL_S = 15.0


def _key_cache(deps: Deps) -> dict[str, tuple[float, tuple[Principal, str] | None]] | None:
    extras = getattr(deps, "extras", None)
    return extras.setdefault("iam.key_cache", {}) if isinstance(extras, dict) else None


def principal_for_key(deps: Deps, key_id: str) -> tuple[Principal, str] | None:
    """(principal, secret) for an active user access key, or None (cached for KEY_CACHE_TTL_S)."""
    if not KEY_ID_RE.fullmatch(key_id or ""):
        return None
    cache = _key_cache(deps)
    clock = time.monotonic()
    hit = cache.get(key_id) if cache is not None else None
    if hit is not None and hit[0] > clock:
        return hit[1]
    found = _load_key(deps, key_id)
    if cache is not None:
        if len(cache) > 10_000:  # unknown key ids must not grow it without bound
            cache.clear()
        cache[key_id] = (clock + KEY_CACHE_TTL_S, found)
    return found


def _load_key(deps: Deps, key_id: str) -> tuple[Principal, str] | None:
    with deps.sessions() as session:
        found = security.key_with_user(session, key_id)
        if found is None or not found[0].active:
            return None
        key, user = found
        secret = secrets.decrypt(deps.settings, key.secret_enc)
        api_rate = queries.account_quotas(session, user.account_id)[1]
        statements = tuple(user.policy) if user.policy is not None else None
        return Principal(user.account_id, user.name, key_id, admin=user.admin, statements=statements,
                         api_rate=api_rate), secret


def rotate_key_secrets(deps: Deps) -> int:
    """Re-encrypt every stored access-key secret under the newest master key; return how many."""
    with deps.sessions.begin() as session:
        keys = security.all_keys(session)
        for key in keys:
            key.secret_enc = secrets.rotate(deps.settings, key.secret_enc)
        return len(keys)


# -- execution roles


def role_name_of(role_arn: str, account_id: str) -> str | None:
    """The role name in ``arn:aws:iam::<account>:role/<path/>name`` of ``account_id``, else None."""
    m = re.fullmatch(r"arn:aws[a-zA-Z-]*:iam::(\d{12}):role/(?:.*/)?([a-zA-Z0-9_+=,.@-]{1,64})", role_arn or "")
    if m is None or m.group(1) != account_id:
        return None
    return m.group(2)


def _check_statements(statements: Any) -> list[dict[str, Any]]:
    if not isinstance(statements, list):
        raise InvalidParameterValueException("A role's statements must be a list")
    out = []
    for st in statements:
        if not isinstance(st, dict):
            raise InvalidParameterValueException("Each statement must be an object with Action and Resource")
        actions, resources = st.get("Action"), st.get("Resource", "*")
        actions = [actions] if isinstance(actions, str) else actions
        resources = [resources] if isinstance(resources, str) else resources
        if not actions or not all(isinstance(a, str) and a for a in actions) \
                or not all(isinstance(r, str) and r for r in resources or []):
            raise InvalidParameterValueException(f"Invalid statement: {st!r}")
        out.append({"Action": list(actions), "Resource": list(resources or ["*"])})
    return out


def put_role(deps: Deps, account_id: str, name: str, statements: Any) -> dict[str, Any]:
    """Create or replace role ``name``; return it as {RoleName, Arn, Statements}."""
    _check_name(name, "role")
    checked = _check_statements(statements)
    with deps.sessions.begin() as session:
        if security.get_account(session, account_id) is None:
            raise ResourceNotFoundException(f"Account not found: {account_id}")
        row = security.get_role(session, account_id, name)
        if row is None:
            session.add(ExecutionRole(account_id=account_id, name=name, statements=checked, created=now()))
        else:
            row.statements = checked
    return {"RoleName": name, "Arn": f"arn:aws:iam::{account_id}:role/{name}", "Statements": checked}


def put_user_policy(deps: Deps, account_id: str, user: str, statements: Any) -> list[dict[str, Any]] | None:
    """Limit ``user`` to ``statements`` (a role's format) inside its account; None lifts the limit. Every
    process picks the change up with the user's keys (within KEY_CACHE_TTL_S)."""
    checked = None if statements is None else _check_statements(statements)
    with deps.sessions.begin() as session:
        row = security.get_user(session, account_id, user)
        if row is None:
            raise ResourceNotFoundException(f"User not found: {user}")
        row.policy = checked
    return checked


def get_role_statements(deps: Deps, account_id: str, name: str) -> list[dict[str, Any]] | None:
    with deps.sessions() as session:
        row = security.get_role(session, account_id, name)
        return None if row is None else list(row.statements)


def list_roles(deps: Deps, account_id: str) -> list[dict[str, Any]]:
    with deps.sessions() as session:
        return [{"RoleName": r.name, "Arn": f"arn:aws:iam::{account_id}:role/{r.name}", "Statements": r.statements}
                for r in security.list_roles(session, account_id)]


def statements_allow(statements: tuple[dict[str, Any], ...] | list[dict[str, Any]], action: str,
                     resource: str) -> bool:
    """True when some statement names ``action`` (wildcards allowed) on ``resource``."""
    for st in statements:
        if any(fnmatch.fnmatchcase(action, a) for a in st.get("Action", ())) and \
                any(fnmatch.fnmatchcase(resource, r) for r in st.get("Resource", ())):
            return True
    return False
