"""``lamina urls``: Lambda's function URL configuration (/2021-10-31/functions/{name}/url)."""

from __future__ import annotations

import json

import click

from lamina.cli.client import quote
from lamina.cli.kinds import Kind, Verb, make_group, opt, query

AUTH = click.Choice(["NONE", "AWS_IAM"])


def _cors(text: str) -> object:
    try:
        return json.loads(text)
    except ValueError as err:
        raise click.BadParameter(f"--cors must be JSON: {err}") from None

KIND = Kind(
    group="urls",
    help="Function URLs: HTTP endpoints that invoke a function.",
    path=lambda fn: f"/2021-10-31/functions/{quote(fn or '')}/url",
    id_arg="function_name",
    columns=[("URL", "FunctionUrl"), ("FUNCTION", "FunctionArn"), ("AUTH", "AuthType"), ("MODE", "InvokeMode")],
    verbs=(
        Verb("create", "POST", opts=(
            query("--qualifier", key="Qualifier", default=None, help="Alias."),
            opt("--auth-type", key="AuthType", type=AUTH, default="NONE", show_default=True),
            opt("--cors", key="Cors", send=bool, convert=_cors, default=None,
                help='Cors JSON, e.g. {"AllowOrigins": ["*"]}'),
        )),
        Verb("get", "GET", show="detail", opts=(query("--qualifier", key="Qualifier", default=None),)),
        Verb("update", "PUT", opts=(
            query("--qualifier", key="Qualifier", default=None),
            opt("--auth-type", key="AuthType", send=bool, type=AUTH, default=None),
            opt("--cors", key="Cors", send=bool, convert=_cors, default=None, help="Cors JSON."),
        )),
        Verb("delete", "DELETE", show="done", done="deleted the URL of {id}",
             opts=(query("--qualifier", key="Qualifier", default=None),)),
        Verb("list", "GET", sub="s", rows_key="FunctionUrlConfigs"),  # .../url + "s" = .../urls
    ),
    triggers_key="FunctionUrlConfigs", label="url",
    summary=lambda u: (u["FunctionUrl"], u["AuthType"]),
)

urls = make_group(KIND)
