"""``lamina usage``: requests, GB-seconds and cost per function and day (chargeback), as a table, JSON or CSV."""

from __future__ import annotations

import click

from lamina.cli.client import LaminaClient
from lamina.cli.functions import api_options
from lamina.cli.output import emit

COLUMNS = [("PERIOD", "Period"), ("ACCOUNT", "AccountId"), ("FUNCTION", "FunctionName"), ("QUALIFIER", "Qualifier"),
           ("REQUESTS", "Requests"), ("ERRORS", "Errors"), ("THROTTLES", "Throttles"), ("GB-S", "GBSeconds"),
           ("PROVISIONED GB-S", "ProvisionedGBSeconds"), ("COST", "Cost")]


@click.command()
@click.option("--start", help="First day, YYYY-MM-DD (default: 29 days before --end).")
@click.option("--end", help="Last day, YYYY-MM-DD (default: today, UTC).")
@click.option("--function", "function_name", help="Only this function.")
@click.option("--granularity", type=click.Choice(["DAILY", "MONTHLY", "TOTAL"], case_sensitive=False),
              default="DAILY", show_default=True)
@click.option("--account", "account_id", help="Another account's (platform administrators only).")
@click.option("--csv", "as_csv", is_flag=True, help="CSV, for a spreadsheet or a billing system.")
@api_options
def usage(start: str | None, end: str | None, function_name: str | None, granularity: str, account_id: str | None,
          as_csv: bool, endpoint: str, token: str | None, as_json: bool) -> None:
    """Usage and cost per function, qualifier and day: what to charge each team back."""
    query = {"Start": start, "End": end, "FunctionName": function_name, "Granularity": granularity.upper(),
             "AccountId": account_id, "Format": "csv" if as_csv else None}
    resp = LaminaClient(endpoint, token).request("GET", "/lamina/v1/usage", query=query)
    if as_csv:
        click.echo(resp.body.decode(), nl=False)
        return
    doc = resp.json()
    emit(doc, as_json, COLUMNS, rows_key="Usage")
    if not as_json:
        total = sum(row["Cost"] for row in doc["Usage"])
        click.echo(f"total cost {total:.6f} for {doc['Start']} to {doc['End']} "
                   f"({doc['Prices']['PerGBSecond']} per GB-second, {doc['Prices']['PerMillionRequests']} per "
                   "million requests)")
