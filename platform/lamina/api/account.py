"""GetAccountSettings."""

from __future__ import annotations

from flask.typing import ResponseReturnValue

from lamina.api import context, shapes
from lamina.services.functions import account

bp = context.blueprint("account")


@bp.get("/2016-08-19/account-settings", strict_slashes=False)
def get_account_settings() -> ResponseReturnValue:
    return shapes.account_settings(account.get_settings(context.deps(), context.account_id()))
