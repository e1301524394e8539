"""Human-readable tables by default, JSON with --json."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import click


def emit(
    data: Any, as_json: bool, columns: Sequence[tuple[str, str]] | None = None, rows_key: str | None = None
) -> None:
    """Print ``data`` as JSON, or as a table of ``columns`` (header, key) over ``data[rows_key]`` or ``data``."""
    if as_json:
        click.echo(json.dumps(data, indent=2, sort_keys=False))
        return
    rows = data.get(rows_key, []) if rows_key else data
    if columns is None:
        if isinstance(rows, dict):
            width = max((len(k) for k in rows), default=0)
            for k, v in rows.items():
                click.echo(f"{k:<{width}}  {v if not isinstance(v, dict | list) else json.dumps(v)}")
        else:
            click.echo(json.dumps(rows, indent=2))
        return
    table(rows if isinstance(rows, list) else [rows], columns)


def table(rows: Sequence[dict[str, Any]], columns: Sequence[tuple[str, str]]) -> None:
    cells = [[_cell(row, key) for _, key in columns] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, (h, _) in enumerate(columns)]
    click.echo("  ".join(h.ljust(w) for (h, _), w in zip(columns, widths, strict=True)).rstrip())
    for r in cells:
        click.echo("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())


def _cell(row: dict[str, Any], key: str) -> str:
    value: Any = row
    for part in key.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if value is None:
        return "-"
    return json.dumps(value) if isinstance(value, dict | list) else str(value)
