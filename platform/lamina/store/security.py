"""Queries for accounts, users, access keys, execution roles and resource policy statements."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from lamina.store.models import AccessKey, Account, ExecutionRole, PolicyStatement, User


def get_account(session: Session, account_id: str) -> Account | None:
    return session.get(Account, account_id)


def list_accounts(session: Session) -> list[Account]:
    return list(session.scalars(select(Account).order_by(Account.id)))


def get_user(session: Session, account_id: str, name: str) -> User | None:
    return session.scalar(select(User).where(User.account_id == account_id, User.name == name))


def key_with_user(session: Session, key_id: str) -> tuple[AccessKey, User] | None:
    row = session.execute(
        select(AccessKey, User).join(User, User.id == AccessKey.user_id).where(AccessKey.key_id == key_id)
    ).first()
    return (row[0], row[1]) if row else None


def all_keys(session: Session) -> list[AccessKey]:
    return list(session.scalars(select(AccessKey).order_by(AccessKey.key_id).with_for_update()))


def get_role(session: Session, account_id: str, name: str) -> ExecutionRole | None:
    return session.scalar(
        select(ExecutionRole).where(ExecutionRole.account_id == account_id, ExecutionRole.name == name)
    )


def list_roles(session: Session, account_id: str) -> list[ExecutionRole]:
    return list(session.scalars(
        select(ExecutionRole).where(ExecutionRole.account_id == account_id).order_by(ExecutionRole.name)
    ))


def policy_statements(session: Session, function_id: int, qualifier: str) -> list[PolicyStatement]:
    return list(session.scalars(
        select(PolicyStatement)
        .where(PolicyStatement.function_id == function_id, PolicyStatement.qualifier == qualifier)
        .order_by(PolicyStatement.id)
    ))


def reencrypt_environments(session: Session) -> int:
    """Write every function's and version's environment again (under the newest master key)."""
    from sqlalchemy.orm.attributes import flag_modified

    from lamina.store.models import Function, FunctionVersion

    n = 0
    for model in (Function, FunctionVersion):
        for row in session.scalars(select(model).with_for_update()):
            flag_modified(row, "environment")
            n += 1
    return n


def list_users(session: Session, account_id: str) -> list[User]:
    return list(session.scalars(select(User).where(User.account_id == account_id).order_by(User.name)))


def keys_of(session: Session, user_id: int) -> list[AccessKey]:
    return list(session.scalars(select(AccessKey).where(AccessKey.user_id == user_id).order_by(AccessKey.created)))
