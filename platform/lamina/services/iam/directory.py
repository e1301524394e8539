"""Administration of an account over HTTP, shaped as AWS IAM (users, access keys, execution roles, inline
policies), and of the platform's accounts (``/lamina/v1/accounts``).

Who may do what: an account's administrators (users with ``admin``, never a role session) manage their own
account; only the platform's administrators (admins of the bootstrap account) create and list accounts.
``lamina admin`` on the database host does the same through ``lamina.services.iam.iam``.

lamina's model under IAM's names:
* a user with no inline policy may do everything in its account (lamina's default for team members); once
  one is put, only what its policies allow; deleting the last one leaves nothing allowed (as on IAM);
* ``AdministratorAccess`` attached to a user is lamina's ``admin`` flag (it manages the account);
* an execution role's inline policies are its statements, each remembering its policy's name; roles are
  assumed by functions only, so a trust policy must let ``lambda.amazonaws.com`` assume them;
* only ``Allow`` statements without conditions exist in lamina: anything else is refused, never dropped.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from lamina.errors import LambdaError
from lamina.services.common import Deps, now
from lamina.services.iam import iam
from lamina.services.iam.iam import Principal
from lamina.store import queries, security
from lamina.store.models import ExecutionRole

ADMIN_POLICY_ARN = "arn:aws:iam::aws:policy/AdministratorAccess"
MAX_KEYS_PER_USER = 2  # IAM's quota
TRUST_POLICY = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}


class IamError(LambdaError):
    """An error with IAM's code (``iam_code``) and HTTP status."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.iam_code = code
        self.status = status
        self.error_type = code


def no_such(what: str, name: str) -> IamError:
    return IamError("NoSuchEntity", f"The {what} with name {name} cannot be found.", 404)


@dataclass(frozen=True)
class Caller:
    """An administrator of ``account_id`` acting through the IAM API."""

    account_id: str
    user: str


def admin_of_account(principal: Principal | None) -> Caller:
    if principal is None or principal.role is not None or not principal.admin:
        who = principal.arn if principal is not None else "anonymous"
        raise IamError("AccessDenied", f"User: {who} is not authorized to manage the account's users, keys and "
                                       "roles: only its administrators are.", 403)
    return Caller(principal.account_id, principal.name)


def _check_name(value: str | None, what: str, field: str) -> str:
    if not value or not iam.NAME_RE.fullmatch(value):
        raise IamError("ValidationError", f"1 validation error detected: Value {value!r} at '{field}' failed to "
                                          f"satisfy constraint: a {what} name is 1-64 of [a-zA-Z0-9_+=,.@-]")
    return value


def _id(prefix: str, *parts: str) -> str:
    return prefix + hashlib.sha256("|".join(parts).encode()).hexdigest()[:17].upper()


def _iso(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def _user_doc(account_id: str, name: str, created: datetime) -> dict[str, Any]:
    return {"Path": "/", "UserName": name, "UserId": _id("AIDA", account_id, name),
            "Arn": f"arn:aws:iam::{account_id}:user/{name}", "CreateDate": _iso(created)}


def _role_doc(account_id: str, name: str, created: datetime) -> dict[str, Any]:
    return {"Path": "/", "RoleName": name, "RoleId": _id("AROA", account_id, name),
            "Arn": f"arn:aws:iam::{account_id}:role/{name}", "CreateDate": _iso(created),
            "AssumeRolePolicyDocument": json.dumps(TRUST_POLICY), "MaxSessionDuration": 3600}


# -- policy documents


def parse_policy(document: str | None, policy_name: str) -> list[dict[str, Any]]:
    """A policy document's statements in lamina's form, each tagged with ``policy_name``."""
    try:
        doc = json.loads(document or "")
    except ValueError:
        raise IamError("MalformedPolicyDocument", "The policy document is not valid JSON.") from None
    statements = doc.get("Statement") if isinstance(doc, dict) else None
    if isinstance(statements, dict):
        statements = [statements]
    if not isinstance(statements, list) or not statements:
        raise IamError("MalformedPolicyDocument", "The policy document needs a Statement.")
    out = []
    for st in statements:
        if not isinstance(st, dict):
            raise IamError("MalformedPolicyDocument", "Each statement must be an object.")
        unsupported = set(st) - {"Sid", "Effect", "Action", "Resource"}
        if unsupported:
            raise IamError("MalformedPolicyDocument", f"lamina's policies have no {', '.join(sorted(unsupported))}"
                                                      " (only Effect Allow, Action and Resource).")
        if st.get("Effect") != "Allow":
            raise IamError("MalformedPolicyDocument", "lamina's policies allow only: Effect must be Allow.")
        try:
            checked = iam._check_statements([{"Action": st.get("Action"), "Resource": st.get("Resource", "*")}])
        except LambdaError as err:
            raise IamError("MalformedPolicyDocument", err.message) from None
        out.append({**checked[0], "Policy": policy_name})
    return out


def _policy_document(statements: Sequence[dict[str, Any]], policy_name: str) -> str | None:
    mine = [{"Effect": "Allow", "Action": s["Action"], "Resource": s["Resource"]}
            for s in statements if _policy_of(s) == policy_name]
    return json.dumps({"Version": "2012-10-17", "Statement": mine}) if mine else None


def _policy_of(statement: dict[str, Any]) -> str:
    """The inline policy a statement belongs to ("lamina" for those `lamina admin put-role` wrote)."""
    return str(statement.get("Policy") or "lamina")


def _policy_names(statements: Sequence[dict[str, Any]] | None) -> list[str]:
    return sorted({_policy_of(s) for s in statements or ()})


# -- users


def create_user(deps: Deps, caller: Caller, name: str) -> dict[str, Any]:
    _check_name(name, "user", "userName")
    with deps.sessions() as session:
        if security.get_user(session, caller.account_id, name) is not None:
            raise IamError("EntityAlreadyExists", f"User with name {name} already exists.", 409)
    iam.create_user(deps, caller.account_id, name)
    return get_user(deps, caller, name)


def get_user(deps: Deps, caller: Caller, name: str | None) -> dict[str, Any]:
    name = name or caller.user
    with deps.sessions() as session:
        row = USER.load(session, caller.account_id, name)
        return _user_doc(caller.account_id, row.name, row.created)


def list_users(deps: Deps, caller: Caller) -> list[dict[str, Any]]:
    with deps.sessions() as session:
        users = security.list_users(session, caller.account_id)
        return [_user_doc(caller.account_id, u.name, u.created) for u in users]


def delete_user(deps: Deps, caller: Caller, name: str) -> None:
    if name == caller.user:
        raise IamError("DeleteConflict", "You cannot delete the user you are signed in as.", 409)
    with deps.sessions.begin() as session:
        row = USER.load(session, caller.account_id, name)
        if security.keys_of(session, row.id):
            raise IamError("DeleteConflict", "Cannot delete entity, must delete access keys first.", 409)
        if row.policy:
            raise IamError("DeleteConflict", "Cannot delete entity, must delete policies first.", 409)
        queries.delete_obj(session, row)


def set_admin(deps: Deps, caller: Caller, name: str, policy_arn: str, admin: bool) -> None:
    if policy_arn != ADMIN_POLICY_ARN:
        raise IamError("NoSuchEntity" if policy_arn.startswith("arn:aws:iam::") else "InvalidInput",
                       f"Policy {policy_arn} is not attachable in lamina: only {ADMIN_POLICY_ARN} (the account's "
                       "administrators) is; put inline policies for the rest.",
                       404 if policy_arn.startswith("arn:aws:iam::") else 400)
    if not admin and name == caller.user:
        raise IamError("DeleteConflict", "You cannot detach AdministratorAccess from yourself.", 409)
    with deps.sessions.begin() as session:
        row = USER.load(session, caller.account_id, name)
        row.admin = admin
        key_ids = [k.key_id for k in security.keys_of(session, row.id)]
    _forget_keys(deps, key_ids)


def attached_policies(deps: Deps, caller: Caller, name: str) -> list[dict[str, str]]:
    with deps.sessions() as session:
        row = USER.load(session, caller.account_id, name)
        return [{"PolicyName": "AdministratorAccess", "PolicyArn": ADMIN_POLICY_ARN}] if row.admin else []


# -- access keys


def _key_doc(user: str, key: Any, secret: str | None = None) -> dict[str, Any]:
    doc = {"UserName": user, "AccessKeyId": key.key_id, "Status": "Active" if key.active else "Inactive",
           "CreateDate": _iso(key.created)}
    if secret is not None:
        doc["SecretAccessKey"] = secret
    return doc


def create_access_key(deps: Deps, caller: Caller, user: str | None) -> dict[str, Any]:
    user = user or caller.user
    with deps.sessions() as session:
        row = USER.load(session, caller.account_id, user)
        if len(security.keys_of(session, row.id)) >= MAX_KEYS_PER_USER:
            raise IamError("LimitExceeded", f"Cannot exceed quota for AccessKeysPerUser: {MAX_KEYS_PER_USER}", 409)
    made = iam.create_key(deps, caller.account_id, user)
    with deps.sessions() as session:
        found = security.key_with_user(session, made.access_key_id)
        assert found is not None
        return _key_doc(user, found[0], made.secret_access_key)


def list_access_keys(deps: Deps, caller: Caller, user: str | None) -> list[dict[str, Any]]:
    user = user or caller.user
    with deps.sessions() as session:
        row = USER.load(session, caller.account_id, user)
        return [_key_doc(user, k) for k in security.keys_of(session, row.id)]


def _own_key(session: Any, caller: Caller, user: str | None, key_id: str) -> Any:
    found = security.key_with_user(session, key_id or "")
    if found is None or found[1].account_id != caller.account_id or found[1].name != (user or found[1].name):
        raise IamError("NoSuchEntity", f"The Access Key with id {key_id} cannot be found.", 404)
    return found[0]


def update_access_key(deps: Deps, caller: Caller, user: str | None, key_id: str, status: str) -> None:
    if status not in ("Active", "Inactive"):
        raise IamError("ValidationError", f"Value {status!r} at 'status' failed to satisfy constraint: Member must "
                                          "satisfy enum value set: [Active, Inactive]")
    with deps.sessions.begin() as session:
        _own_key(session, caller, user, key_id).active = status == "Active"
    _forget_keys(deps, [key_id], revoked=status == "Inactive")


def delete_access_key(deps: Deps, caller: Caller, user: str | None, key_id: str) -> None:
    with deps.sessions() as session:
        _own_key(session, caller, user, key_id)
    iam.delete_key(deps, key_id)


def _forget_keys(deps: Deps, key_ids: Sequence[str], revoked: bool | None = None) -> None:
    """This process drops its cached copy of these keys: a user's new rights apply here at once and in the
    other processes within KEY_CACHE_TTL_S. ``revoked`` True: every process refuses them at once (a
    deactivated key); False: that refusal is lifted (reactivated)."""
    cache = iam._key_cache(deps)
    for key_id in key_ids:
        if cache is not None:
            cache.pop(key_id, None)
        marker = iam.revoked_key(deps.settings.instance, key_id)
        if revoked:
            deps.redis.set(marker, "1", ex=int(iam.KEY_CACHE_TTL_S * 4))
        elif revoked is False:
            deps.redis.delete(marker)


# -- execution roles


def _check_trust(document: str | None) -> None:
    """lamina's roles are assumed by its functions only: the trust policy must say exactly that (anything
    more, another principal or a condition, would be a promise lamina does not keep, so it is refused)."""
    try:
        doc = json.loads(document or "")
    except ValueError:
        raise IamError("MalformedPolicyDocument", "The trust policy is not valid JSON.") from None
    statements = doc.get("Statement") if isinstance(doc, dict) else None
    if isinstance(statements, dict):
        statements = [statements]
    if not isinstance(statements, list) or not statements:
        raise IamError("MalformedPolicyDocument", "The trust policy needs a Statement.")
    for st in statements:
        if not isinstance(st, dict):
            st = {"Effect": None}
        principal = st.get("Principal")
        services = principal.get("Service") if isinstance(principal, dict) and set(principal) == {"Service"} else None
        if set(st) - {"Sid", "Effect", "Principal", "Action"} or st.get("Effect") != "Allow" \
                or services not in ("lambda.amazonaws.com", ["lambda.amazonaws.com"]) \
                or st.get("Action") not in ("sts:AssumeRole", ["sts:AssumeRole"]):
            raise IamError("MalformedPolicyDocument", "lamina's roles are assumed by its functions only: each "
                                                      "statement must allow the service lambda.amazonaws.com to "
                                                      "sts:AssumeRole, without conditions.")


def create_role(deps: Deps, caller: Caller, name: str, trust_policy: str | None) -> dict[str, Any]:
    _check_name(name, "role", "roleName")
    _check_trust(trust_policy)
    with deps.sessions.begin() as session:
        if not queries.add_unique(session, ExecutionRole(account_id=caller.account_id, name=name, statements=[],
                                                         created=now())):
            raise IamError("EntityAlreadyExists", f"Role with name {name} already exists.", 409)
    return get_role(deps, caller, name)


def get_role(deps: Deps, caller: Caller, name: str) -> dict[str, Any]:
    with deps.sessions() as session:
        row = ROLE.load(session, caller.account_id, name)
        return _role_doc(caller.account_id, row.name, row.created)


def list_roles(deps: Deps, caller: Caller) -> list[dict[str, Any]]:
    with deps.sessions() as session:
        roles = security.list_roles(session, caller.account_id)
        return [_role_doc(caller.account_id, r.name, r.created) for r in roles]


def delete_role(deps: Deps, caller: Caller, name: str) -> None:
    with deps.sessions.begin() as session:
        row = ROLE.load(session, caller.account_id, name)
        if row.statements:
            raise IamError("DeleteConflict", "Cannot delete entity, must delete policies first.", 409)
        queries.delete_obj(session, row)


# -- inline policies (a user's or a role's)


@dataclass(frozen=True)
class Holder:
    """Who holds inline policies: a user (its ``policy`` column) or an execution role (its ``statements``)."""

    kind: str  # "user" or "role"

    def load(self, session: Any, account_id: str, name: str) -> Any:
        row = (security.get_user if self.kind == "user" else security.get_role)(session, account_id, name)
        if row is None:
            raise no_such(self.kind, name)
        return row

    def statements(self, row: Any) -> list[dict[str, Any]] | None:
        return row.policy if self.kind == "user" else row.statements

    def keep(self, session: Any, row: Any, statements: list[dict[str, Any]]) -> list[str]:
        """Store ``statements``; return the access keys whose cached rights are now stale (a user's)."""
        if self.kind == "role":
            row.statements = statements
            return []
        row.policy = statements
        return [k.key_id for k in security.keys_of(session, row.id)]


USER, ROLE = Holder("user"), Holder("role")


def put_policy(deps: Deps, caller: Caller, holder: Holder, name: str, policy_name: str,
               document: str | None) -> None:
    _check_name(policy_name, "policy", "policyName")
    statements = parse_policy(document, policy_name)
    with deps.sessions.begin() as session:
        row = holder.load(session, caller.account_id, name)
        kept = [s for s in holder.statements(row) or () if _policy_of(s) != policy_name]
        stale = holder.keep(session, row, kept + statements)
    _forget_keys(deps, stale)


def policy(deps: Deps, caller: Caller, holder: Holder, name: str, policy_name: str | None) -> list[str] | str:
    """The names of the holder's inline policies, or one policy's document."""
    with deps.sessions() as session:
        statements = holder.statements(holder.load(session, caller.account_id, name))
        if policy_name is None:
            return _policy_names(statements)
        doc = _policy_document(statements or (), policy_name)
        if doc is None:
            raise no_such(f"{holder.kind} policy", policy_name)
        return doc


def delete_policy(deps: Deps, caller: Caller, holder: Holder, name: str, policy_name: str) -> None:
    with deps.sessions.begin() as session:
        row = holder.load(session, caller.account_id, name)
        statements = holder.statements(row)
        if statements is None or policy_name not in _policy_names(statements):
            raise no_such(f"{holder.kind} policy", policy_name)
        stale = holder.keep(session, row, [s for s in statements if _policy_of(s) != policy_name])
    _forget_keys(deps, stale)


# -- accounts (the platform's administrators)


def platform_admin(deps: Deps, principal: Principal | None) -> Principal:
    if principal is None or principal.role is not None or not principal.admin \
            or principal.account_id != deps.settings.account_id:
        raise IamError("AccessDenied", "Only the platform's administrators can create or list accounts.", 403)
    return principal


def create_account(deps: Deps, principal: Principal | None, name: str, admin_user: str) -> dict[str, Any]:
    """A new account with its first administrator and that administrator's access key (shown once)."""
    platform_admin(deps, principal)
    _check_name(name, "account", "AccountName")
    _check_name(admin_user, "user", "AdminUserName")
    account_id = iam.create_account(deps, name)
    iam.create_user(deps, account_id, admin_user, admin=True)
    creds = iam.create_key(deps, account_id, admin_user)
    return {"AccountId": account_id, "AccountName": name, "AdminUserName": admin_user,
            "AccessKeyId": creds.access_key_id, "SecretAccessKey": creds.secret_access_key}


def list_accounts(deps: Deps, principal: Principal | None) -> list[dict[str, str]]:
    platform_admin(deps, principal)
    return [{"AccountId": a, "AccountName": n} for a, n in iam.list_accounts(deps)]
