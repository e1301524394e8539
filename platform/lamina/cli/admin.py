"""``lamina admin``: accounts, users, access keys, execution roles and master-key rotation.

These commands talk to the database directly (run them where the platform's configuration is), which
is what lets ``bootstrap`` make the first key before anyone can authenticate.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from lamina.config import Settings


@contextmanager
def _opened() -> Iterator[Any]:
    """The platform's components for one admin command, closed after it; a refusal is a clean CLI error."""
    from lamina.errors import LambdaError

    comps = _components()
    try:
        yield comps
    except LambdaError as err:
        raise click.ClickException(str(err)) from None
    finally:
        comps.close()


def _json_argument(text: str, none_word: str | None = None) -> Any:
    """A JSON command-line argument (``none_word`` stands for None), or a usage error."""
    if none_word is not None and text == none_word:
        return None
    try:
        return json.loads(text)
    except ValueError as err:
        raise click.BadParameter(f"not JSON: {err}") from None


def _components(settings: Settings | None = None) -> Any:
    from lamina.wiring import build_components

    settings = settings or Settings.from_env()
    if not settings.redis_url:
        # The admin commands need no Redis; a URL that is never dialled keeps Components whole.
        settings = settings.with_(redis_url="redis://127.0.0.1:6379/0")
    return build_components(settings)


def _show(creds: Any, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps({"AccountId": creds.account_id, "UserName": creds.user,
                               "AccessKeyId": creds.access_key_id, "SecretAccessKey": creds.secret_access_key}))
        return
    click.echo(f"account:           {creds.account_id}")
    click.echo(f"user:              {creds.user}")
    click.echo(f"access key id:     {creds.access_key_id}")
    click.echo(f"secret access key: {creds.secret_access_key}   (shown once: store it now)")
    click.echo(f"bearer token:      {creds.access_key_id}:{creds.secret_access_key}")


def credentials_file(settings: Settings) -> Path:
    return settings.data_dir / "admin-credentials.json"


def bootstrap_if_needed(settings: Settings, log: Any = click.echo) -> None:
    """On a new install (no account yet), bootstrap and write the admin key to a 0600 file; say where."""
    from lamina.errors import ResourceConflictException
    from lamina.services.iam import iam

    comps = _components(settings)
    try:
        creds = iam.bootstrap(comps)
    except ResourceConflictException:
        return
    finally:
        comps.close()
    path = credentials_file(settings)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump({"AccountId": creds.account_id, "AccessKeyId": creds.access_key_id,
                   "SecretAccessKey": creds.secret_access_key}, fh)
    log(f"new install: admin key for account {creds.account_id} written to {path} (mode 0600)")
    # The layers lamina publishes on install (Powertools), built in the background: no registry, no wait.
    threading.Thread(target=install_layers_quietly, args=(settings, log), name="public-layers", daemon=True).start()


class _AdminGroup(click.Group):
    """Shows a LambdaError (conflict, not found, bad value) as a one-line error, not a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        from lamina.errors import LambdaError

        try:
            return super().invoke(ctx)
        except LambdaError as err:
            raise click.ClickException(f"{err.error_type}: {err.message}") from None


@click.group(cls=_AdminGroup)
def admin() -> None:
    """Accounts, users, access keys, execution roles, master key (talks to the database directly)."""


@admin.command()
@click.option("--json", "as_json", is_flag=True)
def bootstrap(as_json: bool) -> None:
    """Create the first account (LAMINA_ACCOUNT_ID) and its admin user and key."""
    from lamina.services.iam import iam

    with _opened() as comps:
        _show(iam.bootstrap(comps), as_json)


@admin.command("create-account")
@click.argument("name")
@click.option("--account-id", default=None, help="12 digits (random when omitted).")
@click.option("--admin-user", default="admin", show_default=True, help="Also create this admin user and a key.")
@click.option("--json", "as_json", is_flag=True)
def create_account(name: str, account_id: str | None, admin_user: str, as_json: bool) -> None:
    """Create an account (a team) with an admin user and its first access key."""
    from lamina.services.iam import iam

    with _opened() as comps:
        acct = iam.create_account(comps, name, account_id)
        iam.create_user(comps, acct, admin_user, admin=True)
        _show(iam.create_key(comps, acct, admin_user), as_json)


@admin.command("create-user")
@click.argument("account_id")
@click.argument("name")
@click.option("--admin", "is_admin", is_flag=True)
@click.option("--json", "as_json", is_flag=True)
def create_user(account_id: str, name: str, is_admin: bool, as_json: bool) -> None:
    """Create a user in ACCOUNT_ID and its first access key."""
    from lamina.services.iam import iam

    with _opened() as comps:
        iam.create_user(comps, account_id, name, admin=is_admin)
        _show(iam.create_key(comps, account_id, name), as_json)


@admin.command("create-key")
@click.argument("account_id")
@click.argument("user")
@click.option("--json", "as_json", is_flag=True)
def create_key(account_id: str, user: str, as_json: bool) -> None:
    """A new access key for USER of ACCOUNT_ID (the secret is shown once)."""
    from lamina.services.iam import iam

    with _opened() as comps:
        _show(iam.create_key(comps, account_id, user), as_json)


@admin.command("delete-key")
@click.argument("key_id")
def delete_key(key_id: str) -> None:
    from lamina.services.iam import iam

    with _opened() as comps:
        iam.delete_key(comps, key_id)
        click.echo(f"deleted {key_id}")


@admin.command("accounts")
def accounts() -> None:
    from lamina.services.iam import iam

    with _opened() as comps:
        for acct, name in iam.list_accounts(comps):
            click.echo(f"{acct}  {name}")


def _quota(value: str | None) -> int | None | bool:
    """--concurrency/--api-rate: a number, "default" (None: the instance's), or unset (False: keep)."""
    if value is None:
        return False
    if value == "default":
        return None
    try:
        return int(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is neither a whole number nor 'default'") from None


@admin.command("set-quotas")
@click.argument("account_id")
@click.option("--concurrency", default=None, metavar="N|default",
              help="Concurrent executions the account may run (its functions' reservations included).")
@click.option("--api-rate", default=None, metavar="N|default", help="API requests per second of the account.")
def set_quotas(account_id: str, concurrency: str | None, api_rate: str | None) -> None:
    """Give an account its own quotas (default: LAMINA_ACCOUNT_CONCURRENCY, LAMINA_API_RATE)."""
    from lamina.services.functions import concurrency as quotas
    from lamina.store import queries

    with _opened() as comps:
        with comps.sessions() as session:
            current = queries.account_quotas(session, account_id)
        new_concurrency, new_rate = _quota(concurrency), _quota(api_rate)
        quotas.set_quotas(comps, account_id,
                          current[0] if new_concurrency is False else new_concurrency,
                          current[1] if new_rate is False else new_rate)
        with comps.sessions() as session:
            got = queries.account_quotas(session, account_id)
        settings = comps.settings
        click.echo(f"{account_id}: concurrency {got[0] or settings.account_concurrency}"
                   f"{'' if got[0] else ' (default)'}, API rate {got[1] or settings.api_rate_per_s}/s"
                   f"{'' if got[1] else ' (default)'}")


@admin.command("set-isolation")
@click.argument("account_id")
@click.option("--default", "default", required=True, type=click.Choice(["container", "gvisor"]),
              help="The sandbox of the account's functions that ask for none.")
@click.option("--allow", default="container,gvisor", show_default=True,
              help="Comma-separated sandboxes its functions may ask for (the default among them).")
def set_isolation(account_id: str, default: str, allow: str) -> None:
    """Set the sandbox an account's functions run in (container: runc; gvisor: runsc) and their choices."""
    from lamina.services.functions import isolation

    with _opened() as comps:
        got = isolation.set_account(comps, account_id, default, [m.strip() for m in allow.split(",") if m.strip()])
    click.echo(f"{account_id}: isolation {got.default} by default; functions may ask for {', '.join(got.allowed)}")


@admin.command("put-user-policy")
@click.argument("account_id")
@click.argument("user")
@click.argument("statements")
def put_user_policy(account_id: str, user: str, statements: str) -> None:
    """Limit USER to STATEMENTS (JSON, as for put-role) in its account; "none" lifts the limit."""
    from lamina.services.iam import iam

    doc = _json_argument(statements, none_word="none")
    with _opened() as comps:
        click.echo(json.dumps(iam.put_user_policy(comps, account_id, user, doc)))


@admin.command("put-role")
@click.argument("account_id")
@click.argument("name")
@click.argument("statements")
def put_role(account_id: str, name: str, statements: str) -> None:
    """Create or replace execution role NAME; STATEMENTS is JSON: [{"Action": [...], "Resource": [...]}]."""
    from lamina.services.iam import iam

    doc = _json_argument(statements)
    with _opened() as comps:
        click.echo(json.dumps(iam.put_role(comps, account_id, name, doc)))


@admin.command("token")
@click.argument("key_id")
@click.option("--ttl", type=int, default=12 * 3600, show_default=True, help="Seconds the token is valid.")
def token(key_id: str, ttl: int) -> None:
    """Mint a bearer token from an access key (prompts for its secret)."""
    from lamina.services.iam import iam, tokens

    secret = click.prompt("secret access key", hide_input=True)
    with _opened() as comps:
        found = iam.principal_for_key(comps, key_id)
    import hmac

    if found is None or not hmac.compare_digest(found[1].encode(), secret.encode()):
        raise click.ClickException("unknown key or wrong secret")
    click.echo(tokens.mint(key_id, secret, ttl))


@admin.command("install-layers")
def install_layers() -> None:
    """Build the public layers of layers/ (Powertools for AWS Lambda) from the package registries and
    publish those whose content changed, at AWS's ARNs (account 017000801446)."""
    from lamina.services.functions import public_layers

    with _opened() as comps:
        try:
            for arn in public_layers.install(comps, log=lambda m: click.echo(m, err=True)):
                click.echo(arn)
        except public_layers.LayerBuildError as err:
            raise click.ClickException(str(err)) from None


def install_layers_quietly(settings: Settings, log: Any = click.echo) -> None:
    """`lamina up` on a new install: the public layers, or a line saying why not (no registry here)."""
    from lamina.services.functions import public_layers

    comps = _components(settings)
    try:
        arns = public_layers.install(comps, log=lambda m: None)
        log(f"public layers published: {', '.join(a.rsplit(':', 2)[-2] for a in arns)}")
    except (public_layers.LayerBuildError, OSError) as err:
        log(f"public layers not published ({str(err).splitlines()[0]}); later: lamina admin install-layers")
    finally:
        comps.close()


@admin.command("rotate-key")
def rotate_key() -> None:
    """Encrypt every stored secret under a new master key.

    With LAMINA_MASTER_KEY set: put a new key first in it (``python -c "from cryptography.fernet import
    Fernet; print(Fernet.generate_key().decode())"``), run this, then drop the old key. Without it, the
    key file under LAMINA_DATA_DIR gets a new key and the secrets are re-encrypted at once.
    """
    from lamina.services.iam import iam, secrets

    settings = Settings.from_env()
    if not settings.master_keys:
        secrets.add_master_key(settings)
    with _opened() as comps:
        n = iam.rotate_key_secrets(comps)
        m = _rotate_environments(comps)
    click.echo(f"re-encrypted {n} access key secret(s) and {m} function environment(s) under the newest master key")


def _rotate_environments(comps: Any) -> int:
    try:
        from lamina.services.iam import envcrypt
    except ImportError:
        return 0
    return envcrypt.rotate_all(comps)
