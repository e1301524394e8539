"""Console, in headless Chromium: a function's triggers (schedules, function URLs, queue event sources) and
its resource policy are created and removed from the browser; API errors show as messages."""

from __future__ import annotations

import json
import re
from typing import Any

APP = "def handler(event, context):\n    return {'statusCode': 200, 'body': 'hi'}\n"


def _login(page: Any, url: str, token: tuple[str, str]) -> None:
    from playwright.sync_api import expect

    page.goto(f"{url}/console/login")
    page.fill("input[name=access_key_id]", token[0])
    page.fill("input[name=secret_access_key]", token[1])
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_have_text("Functions")


def test_triggers_and_permissions_from_the_console(page: Any, live_server: Any, fns: Any,
                                                   login_token: tuple[str, str], shoot: Any) -> None:
    from playwright.sync_api import expect

    url = live_server.url
    api = {"Authorization": f"Bearer {login_token[0]}:{login_token[1]}", "Content-Type": "application/json"}
    fns.create("trig", {"app.py": APP})
    made = page.request.post(f"{url}/lamina/v1/queues", headers=api, data=json.dumps({"QueueName": "feed"}))
    assert made.status == 201, made.text()
    _login(page, url, login_token)
    page.goto(f"{url}/console/functions/trig?tab=triggers")
    expect(page.locator("#triggers tbody")).to_contain_text("No triggers")

    # A schedule; a bad expression is refused with the API's message.
    page.fill("#schedule-form input[name=name]", "broken")
    page.fill("#schedule-form input[name=expression]", "every now and then")
    page.click("#schedule-form button")
    expect(page.locator("#messages .msg.error")).to_contain_text("InvalidParameterValueException")
    page.fill("#schedule-form input[name=name]", "hourly")
    page.fill("#schedule-form input[name=expression]", "rate(1 hour)")
    page.click("#schedule-form button")
    expect(page.locator("#messages")).to_contain_text("Schedule hourly added")
    expect(page.locator("#triggers tbody")).to_contain_text("hourly: rate(1 hour) (ENABLED)")

    # A public function URL, answered at once.
    page.select_option("#url-form select[name=auth]", "NONE")
    page.click("#url-form button")
    expect(page.locator("#messages")).to_contain_text("Function URL: ")
    link = page.locator("#triggers tbody a").first
    expect(link).to_have_attribute("href", re.compile(r"/lamina-url/[0-9a-f]+/$"))
    href = link.get_attribute("href")
    assert page.request.get(url + href[href.index("/lamina-url/"):]).text() == "hi"

    # A queue event source.
    page.select_option("#esm-form select[name=queue]", label="feed")
    page.click("#esm-form button")
    expect(page.locator("#messages")).to_contain_text("Queue event source added")
    expect(page.locator("#triggers tbody")).to_contain_text("feed · batch 10")
    shoot(page, "function-triggers")

    # Each trigger's statement is in the policy; add and remove one by hand.
    page.click(".tabs a[data-tab=permissions]")
    statements = page.locator("#statements tbody")
    expect(statements).to_contain_text("lamina-schedule-hourly")
    expect(statements).to_contain_text("FunctionURLAllowPublicAccess")
    expect(statements).to_contain_text("lamina-esm-")
    page.fill("#permission-form input[name=sid]", "partner")
    page.fill("#permission-form input[name=principal]", "123456789012")
    page.click("#permission-form button")
    expect(page.locator("#messages")).to_contain_text("Permission partner added")
    expect(statements).to_contain_text("partner")
    policy = page.request.get(f"{url}/2015-03-31/functions/trig/policy", headers=api).json()
    sids = {st["Sid"] for st in json.loads(policy["Policy"])["Statement"]}
    assert "partner" in sids
    page.fill("#permission-form input[name=sid]", "partner")  # the same id twice: the API's conflict
    page.fill("#permission-form input[name=principal]", "123456789012")
    page.click("#permission-form button")
    expect(page.locator("#messages .msg.error").first).to_contain_text("ResourceConflictException")
    shoot(page, "function-permissions")
    statements.locator("tr", has_text="partner").locator("button").click()
    expect(page.locator("#messages")).to_contain_text("Statement partner removed")
    expect(statements).not_to_contain_text("partner")

    # Delete the schedule from the triggers tab: it is gone from the API too.
    page.click(".tabs a[data-tab=triggers]")
    page.locator("#triggers tbody tr", has_text="hourly").locator("button").click()
    expect(page.locator("#messages")).to_contain_text("Schedule hourly removed")
    expect(page.locator("#triggers tbody")).not_to_contain_text("hourly")
    assert page.request.get(f"{url}/lamina/v1/schedules/hourly", headers=api).status == 404

    # The configuration editor sets the function's network (VpcConfig).
    page.goto(f"{url}/console/functions/trig?tab=configuration")
    # The page fills the form from the API once it has loaded: typing before that is overwritten.
    expect(page.locator("#config-form input[name=Handler]")).to_have_value("app.handler")
    page.fill("#config-form input[name=Network]", "not-a-network")
    page.click("button:has-text('Save configuration')")
    # The API asks the Docker engine about the network: a busy engine can take more than Playwright's 5 s.
    expect(page.locator("#messages .msg.error").first).to_contain_text("is not a network this account may use",
                                                                       timeout=30_000)
    page.fill("#config-form input[name=Network]", "none")
    page.click("button:has-text('Save configuration')")
    expect(page.locator("#messages")).to_contain_text("Configuration saved")
    got = page.request.get(f"{url}/2015-03-31/functions/trig/configuration", headers=api).json()
    assert got["VpcConfig"]["SubnetIds"] == ["none"]
    page.reload()
    expect(page.locator("#config-form input[name=Network]")).to_have_value("none")


def test_functions_list_searches_and_pages_on_the_server(page: Any, live_server: Any, fns: Any,
                                                         login_token: tuple[str, str]) -> None:
    from playwright.sync_api import expect

    for i in range(23):
        fns.create(f"svc-{i:02d}", {"app.py": APP})
    fns.create("billing", {"app.py": APP})
    _login(page, live_server.url, login_token)
    rows = page.locator("#functions tbody tr")
    expect(page.locator("#page-info")).to_have_text("Page 1 of 2 · 24 functions")
    expect(rows).to_have_count(20)
    expect(rows.first).to_contain_text("billing")
    page.click("#next")
    expect(page.locator("#page-info")).to_have_text("Page 2 of 2 · 24 functions")
    expect(rows).to_have_count(4)
    expect(rows.last).to_contain_text("svc-22")
    expect(page.locator("#next")).to_be_disabled()
    page.fill("#search", "SVC-1")
    expect(page.locator("#page-info")).to_have_text("Page 1 of 1 · 10 functions")
    expect(rows).to_have_count(10)
    page.fill("#search", "zzz")
    expect(page.locator("#functions tbody")).to_contain_text("No function matches")
