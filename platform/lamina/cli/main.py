"""Click entry point; sub-commands live in the sibling modules."""

from __future__ import annotations

import click


@click.group()
@click.version_option(package_name="lamina")
def cli() -> None:
    """lamina: a self-hosted serverless platform that speaks the AWS Lambda APIs."""


from lamina.cli import functions as _functions  # noqa: E402
from lamina.cli import platform_cmds as _platform  # noqa: E402

for _command in (_platform.up, _platform.serve, _platform.worker, _platform.db, _functions.deploy,
                 _functions.functions, _functions.publish, _functions.alias, _functions.layers,
                 _functions.deployments):
    cli.add_command(_command)

from lamina.cli import invoke as _invoke  # noqa: E402

for _command in (_invoke.invoke, _invoke.logs, _invoke.scheduler):
    cli.add_command(_command)
from lamina.cli.images import images as _images  # noqa: E402

cli.add_command(_images)
from lamina.cli.observability import logs_prune as _logs_prune  # noqa: E402

cli.add_command(_logs_prune)
from lamina.cli import event_sources as _event_sources  # noqa: E402
from lamina.cli import queues as _queues  # noqa: E402
from lamina.cli import schedules as _schedules  # noqa: E402
from lamina.cli import streams as _streams  # noqa: E402
from lamina.cli import triggers as _triggers  # noqa: E402
from lamina.cli import urls as _urls  # noqa: E402

for _command in (_schedules.schedules, _queues.queues, _streams.streams, _streams.volumes,
                 _event_sources.event_sources, _urls.urls, _triggers.triggers):
    cli.add_command(_command)


from lamina.cli.admin import admin as _admin  # noqa: E402
from lamina.cli.fleet import fleet as _fleet  # noqa: E402
from lamina.cli.fleet import node as _node  # noqa: E402
from lamina.cli.usage import usage as _usage  # noqa: E402

for _command in (_admin, _node, _fleet, _usage):
    cli.add_command(_command)


def main() -> None:
    cli()
