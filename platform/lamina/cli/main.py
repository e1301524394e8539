"""Click entry point; sub-commands live in the sibling modules."""

from __future__ import annotations

import click


@click.group()
@click.version_option(package_name="lamina")
def cli() -> None:
    """lamina: a self-hosted serverless platform that speaks the AWS Lambda APIs."""


def main() -> None:
    cli()
