"""Console, in headless Chromium: the usage page charts GB-seconds per team and requests per function, lists
the cost per function and downloads the CSV; a browser at / lands on the console; a gradual deployment is
started, followed and stopped from the function page."""

from __future__ import annotations

import time
from typing import Any

from lamina.services.iam import iam
from lamina.services.invoke.metrics import Metrics


def test_usage_page_charts_and_lists_the_cost_per_team_and_function(page: Any, live_server: Any, components: Any,
                                                                  login_token: tuple[str, str], shoot: Any) -> None:
    from playwright.sync_api import expect

    other = iam.create_account(components, "team-b")
    metrics = Metrics(components.redis, clock=time.time)
    for account, name, memory in ((components.settings.account_id, "checkout", 1024), (other, "reports", 512)):
        for _ in range(3):
            metrics.invoked(account, name, cold=False, duration_ms=120.4, memory_mb=memory)
    metrics.close()
    url = live_server.url
    page.goto(url + "/")  # the browser at the root goes to the console (the log-in first)
    expect(page.locator("input[name=access_key_id]")).to_be_visible()
    page.fill("input[name=access_key_id]", login_token[0])
    page.fill("input[name=secret_access_key]", login_token[1])
    page.click("button[type=submit]")
    page.click("text=Usage")
    expect(page.locator("h1")).to_have_text("Usage and chargeback")
    table = page.locator("#usage-table tbody")
    expect(table).to_contain_text("checkout")
    expect(table).to_contain_text("reports")  # the platform's administrator sees every team
    expect(page.locator("#usage-charts .chart")).to_have_count(2)
    assert int(page.locator("#usage-charts .chart").first.get_attribute("data-points") or 0) >= 2
    # 3 x 121 ms at 1 GB: 0.363 GB-s.
    expect(page.locator("#usage-table tr", has_text="checkout")).to_contain_text("0.363")
    with page.expect_download() as download:
        page.click("#usage-csv")
    text = open(download.value.path()).read()  # noqa: SIM115, PTH123 - the browser's own file
    assert text.startswith("Period,AccountId,FunctionName") and "checkout" in text and "reports" in text
    shoot(page, "usage")
    page.fill("#usage-form input[name=function]", "reports")
    page.click("#usage-form button[type=submit]")
    expect(table).not_to_contain_text("checkout")


def test_a_gradual_deployment_from_the_function_page(page: Any, live_server: Any, fns: Any, components: Any,
                                                     login_token: tuple[str, str], shoot: Any) -> None:
    from playwright.sync_api import expect

    fns.create("released", {"app.py": "def handler(event, context):\n    return 1\n"})
    fns.publish_version("released")
    fns.create_alias("released", "live", "1")
    fns.update_code("released", {"app.py": "def handler(event, context):\n    return 2\n"})
    fns.publish_version("released")
    url = live_server.url
    page.goto(f"{url}/console/login")
    page.fill("input[name=access_key_id]", login_token[0])
    page.fill("input[name=secret_access_key]", login_token[1])
    page.click("button[type=submit]")
    page.goto(f"{url}/console/functions/released?tab=versions")
    expect(page.locator("#deployments tbody")).to_contain_text("No deployments yet")
    page.select_option("#deploy-form select[name=version]", "2")
    page.select_option("#deploy-form select[name=strategy]", "canary10-5m")
    page.click("#deploy-form button[type=submit]")
    expect(page.locator("#messages")).to_contain_text("live to version 2, canary10-5m")
    row = page.locator("#deployments tr[data-deployment]").first
    expect(row).to_contain_text("InProgress")
    expect(row).to_contain_text("10 %")
    expect(page.locator("#aliases tbody")).to_contain_text("2: 10 %")  # the alias's routing
    shoot(page, "deployment")
    row.locator("button", has_text="Stop").click()
    expect(page.locator("#deployments tr[data-deployment]").first).to_contain_text("Stopped")
    expect(page.locator("#aliases tbody")).not_to_contain_text("2: 10 %")
