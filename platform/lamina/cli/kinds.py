"""Table-driven CLI commands for lamina's REST resources (the trigger types and queues).

A ``Kind`` describes one resource's CLI surface (group name, path, id argument, table columns) and its
``Verb``s; ``make_group`` turns it into a click group. Options say where their value goes (``Opt.key``
in the JSON body or the query string), so a command is data, not a function body.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import click

from lamina.cli.client import LaminaClient, quote
from lamina.cli.functions import api_options
from lamina.cli.output import emit

Columns = Sequence[tuple[str, str]]


def given(value: Any) -> bool:
    return value is not None


def always(_value: Any) -> bool:
    return True


@dataclass(frozen=True)
class Opt:
    """One click option (or argument) and where its value goes in the request."""

    decls: tuple[str, ...]                      # click's: ("--function", "function_name"), ("name",)
    key: str | None = None                      # wire key; None: the value is not sent
    where: str = "body"                         # "body" or "query"
    convert: Callable[[Any], Any] = lambda v: v  # json.loads, a flag -> "DISABLED"...
    send: Callable[[Any], bool] = given         # when to send it (given, always, bool)
    argument: bool = False
    kw: Mapping[str, Any] = field(default_factory=dict)  # type=, default=, required=, help=, is_flag=...

    def param(self) -> click.Parameter:
        return click.Argument(self.decls, **self.kw) if self.argument else click.Option(self.decls, **self.kw)


@dataclass(frozen=True)
class Verb:
    """One sub-command: an HTTP call on the kind's path and how its answer is shown."""

    name: str
    method: str
    opts: tuple[Opt, ...] = ()
    with_id: bool = True                         # takes the kind's id argument (in the path)
    sub: str = ""                                # appended to the path: "/purge", "/receive", "s"
    fixed: Mapping[str, Any] = field(default_factory=dict)  # constant body members: {"State": "DISABLED"}
    show: str = "table"                          # "table", "detail" (key: value) or "done" (a message)
    columns: Columns | None = None               # table columns; None: the kind's
    rows_key: str | None = None                  # list answers: the member holding the rows
    done: str = ""                               # show="done": "deleted schedule {id}"
    before: Callable[[LaminaClient, dict[str, Any]], None] | None = None  # resolve names, etc.
    help: str | None = None


@dataclass(frozen=True)
class Kind:
    """A resource's CLI surface; ``verbs`` become ``lamina <group> <verb>``."""

    group: str
    help: str
    path: Callable[[str | None], str]            # the collection (None) or one item's path
    id_arg: str                                  # "name", "uuid", "function_name"
    columns: Columns
    verbs: tuple[Verb, ...]
    extra: tuple[click.Command, ...] = ()        # hand-written commands (queues send)
    # `lamina triggers FUNCTION`: its member of GetFunction's Triggers and a row (ID, DETAIL) per item.
    triggers_key: str | None = None
    label: str = ""
    summary: Callable[[dict[str, Any]], tuple[str, str]] | None = None


def opt(*decls: str, key: str | None = None, send: Callable[[Any], bool] = given,
        convert: Callable[[Any], Any] = lambda v: v, **kw: Any) -> Opt:
    """A body option, written like ``click.option``: ``opt("--batch-size", key="BatchSize", type=int)``."""
    return Opt(decls, key, "body", convert, send, False, kw)


def query(*decls: str, key: str, **kw: Any) -> Opt:
    """A query-string option (None is left out by the client)."""
    return Opt(decls, key, "query", kw=kw)


def arg(name: str, key: str) -> Opt:
    """A positional argument sent in the body (``lamina queues create NAME`` -> QueueName)."""
    return Opt((name,), key, argument=True)


def collection(base: str) -> Callable[[str | None], str]:
    return lambda item: base if item is None else f"{base}/{quote(item)}"


def _call(kind: Kind, verb: Verb, endpoint: str, token: str | None, as_json: bool, values: dict[str, Any]) -> None:
    client = LaminaClient(endpoint, token)
    ident = values.pop(kind.id_arg) if verb.with_id else None
    body: dict[str, Any] = dict(verb.fixed)
    qs: dict[str, Any] = {}
    for o in verb.opts:
        value = values[o.param().name]
        if o.key is None:
            continue
        if o.where == "query":
            qs[o.key] = value  # None is dropped by the client
        elif o.send(value):
            body[o.key] = o.convert(value)
    if verb.before is not None:
        verb.before(client, body)
    path = kind.path(ident) + verb.sub
    q = qs if any(o.where == "query" for o in verb.opts) else None
    if verb.show == "done":
        client.request(verb.method, path, query=q)
        click.echo(verb.done.format(id=ident))
        return
    data = client.json(verb.method, path, body if verb.method in ("POST", "PUT") else None, query=q)
    if verb.show == "detail":
        emit(data, as_json)
    else:
        emit(data, as_json, verb.columns or kind.columns, rows_key=verb.rows_key)


def make_command(kind: Kind, verb: Verb) -> click.Command:
    def callback(endpoint: str, token: str | None, as_json: bool, **values: Any) -> None:
        _call(kind, verb, endpoint, token, as_json, values)

    params = ([click.Argument((kind.id_arg,))] if verb.with_id else []) + [o.param() for o in verb.opts]
    cmd = click.command(verb.name, help=verb.help)(api_options(callback))
    cmd.params[:0] = params  # before --endpoint/--token/--json, as the decorators put them
    return cmd


def make_group(kind: Kind) -> click.Group:
    group = click.Group(kind.group, help=kind.help)
    for verb in kind.verbs:
        group.add_command(make_command(kind, verb))
    for cmd in kind.extra:
        group.add_command(cmd)
    return group


def make_triggers_command(kinds: Sequence[Kind]) -> click.Command:
    @click.command("triggers")
    @click.argument("function_name")
    @api_options
    def triggers(function_name: str, endpoint: str, token: str | None, as_json: bool) -> None:
        """Everything that invokes FUNCTION_NAME: schedules, event source mappings, URLs."""
        data = LaminaClient(endpoint, token).json("GET", f"/2015-03-31/functions/{quote(function_name)}")
        found = data.get("Triggers") or {}
        if as_json:
            emit(found, True)
            return
        rows = [{"KIND": k.label, "ID": ident, "DETAIL": detail}
                for k in kinds if k.summary and k.triggers_key
                for ident, detail in map(k.summary, found.get(k.triggers_key, []))]
        if not rows:
            click.echo(f"{function_name} has no triggers")
            return
        emit(rows, False, [("KIND", "KIND"), ("ID", "ID"), ("DETAIL", "DETAIL")])

    return triggers
