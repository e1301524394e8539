"""``lamina node`` (run this host's node; drain and undrain one) and ``lamina fleet`` (list the nodes)."""

from __future__ import annotations

import signal
import threading

import click

from lamina.cli.client import LaminaClient, quote
from lamina.cli.functions import api_options
from lamina.cli.output import emit

BASE = "/lamina/v1/fleet/nodes"
COLUMNS = [("NODE", "NodeId"), ("ADDRESS", "Address"), ("STATE", "State"), ("CORES", "Cores"),
           ("MEMORY MB", "MemoryBudgetMB"), ("USED MB", "MemoryUsedMB"), ("ENVS", "Environments"),
           ("BUSY", "Busy"), ("HEARTBEAT AGE S", "LastHeartbeatAgeSeconds")]


@click.group(invoke_without_command=True)
@click.option("--interval", type=float, default=1.0, show_default=True, help="Seconds between reaper rounds.")
@click.pass_context
def node(ctx: click.Context, interval: float) -> None:
    """Run this Docker host's lamina node: its scheduler (pools, stem cells, freeze/thaw, reaper), its
    heartbeat and the service API processes start environments through (LAMINA_NODE_ID names it)."""
    if ctx.invoked_subcommand is not None:
        return
    import socket

    from lamina.config import Settings
    from lamina.logs import configure_logging
    from lamina.node.daemon import NodeDaemon, build_scheduler
    from lamina.wiring import build_components

    settings = Settings.from_env()
    if not settings.node_id:
        settings = settings.with_(node_id=socket.gethostname().split(".")[0] or "node")
    if settings.placement != "local":
        raise click.UsageError("a node starts environments on its own engine: unset LAMINA_PLACEMENT")
    configure_logging(settings)
    comps = build_components(settings, migrate=False)
    reaper, keeper = build_scheduler(settings, comps)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    click.echo(f"lamina node {settings.node_id}: port {settings.node_port}, instance {settings.instance}", err=True)
    NodeDaemon(settings, comps, reaper, keeper).run(stop, interval_s=interval)


def _drain(node_id: str, draining: bool, endpoint: str, token: str | None, as_json: bool) -> None:
    data = LaminaClient(endpoint, token).json("PUT", f"{BASE}/{quote(node_id)}/drain", {"Draining": draining})
    emit(data, as_json, COLUMNS)


@node.command("drain")
@click.argument("node_id")
@api_options
def drain(node_id: str, endpoint: str, token: str | None, as_json: bool) -> None:
    """Stop new placements on NODE_ID; its running invokes finish and its idle environments go."""
    _drain(node_id, True, endpoint, token, as_json)


@node.command("undrain")
@click.argument("node_id")
@api_options
def undrain(node_id: str, endpoint: str, token: str | None, as_json: bool) -> None:
    """Let NODE_ID take new environments again."""
    _drain(node_id, False, endpoint, token, as_json)


@click.command()
@api_options
def fleet(endpoint: str, token: str | None, as_json: bool) -> None:
    """List the fleet's nodes: address, capacity, environments and state (Active, Draining, Lost)."""
    emit(LaminaClient(endpoint, token).json("GET", BASE), as_json, COLUMNS, rows_key="Nodes")
