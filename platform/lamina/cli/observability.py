"""``lamina logs-prune``: apply log retention to every function's streams on this host (for cron)."""

from __future__ import annotations

import click

from lamina.config import Settings


@click.command("logs-prune")
def logs_prune() -> None:
    """Delete log streams older than their function's retention (LAMINA_LOG_RETENTION_DAYS by default).

    Reading a function's logs prunes that function already; run this from cron for the rest.
    """
    from lamina.services.logs import log_groups

    settings = Settings.from_env()
    removed = log_groups.prune_all(settings.data_dir, settings.log_retention_days)
    click.echo(f"removed {removed} log stream{'s' if removed != 1 else ''}")
