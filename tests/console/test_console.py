"""Console flows in headless Chromium against a live lamina: log in, create by upload, configure, test, publish,
alias, charts, logs; screenshots of the main pages."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from support.functions import make_zip

APP = '''
def handler(event, context):
    print("console says", event.get("name"))
    if event.get("fail"):
        raise KeyError("boom")
    return {"hello": event.get("name"), "memory": context.memory_limit_in_mb}
'''


def test_console_end_to_end(page: Any, live_server: Any, fns: Any, login_token: tuple[str, str],
                            shoot: Any, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    url = live_server.url
    headers = {"Authorization": f"Bearer {login_token[0]}:{login_token[1]}", "Content-Type": "application/json"}
    # Log in (the functions list redirects to the log-in page first).
    page.goto(f"{url}/console/")
    expect(page).to_have_url(re.compile(r"/console/login"))
    shoot(page, "login")
    if login_token[0] != "AKIDCONSOLE":  # authentication is installed: a wrong secret is refused
        page.fill("input[name=access_key_id]", login_token[0])
        page.fill("input[name=secret_access_key]", "wrong")
        page.click("button[type=submit]")
        expect(page.locator("#login-message")).to_be_visible()
    page.fill("input[name=access_key_id]", login_token[0])
    page.fill("input[name=secret_access_key]", login_token[1])
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_have_text("Functions")
    expect(page.locator("#functions tbody")).to_contain_text("No functions yet")

    # Create a function by uploading a zip.
    zipped = tmp_path / "fn.zip"
    zipped.write_bytes(make_zip({"app.py": APP}))
    page.click("text=Create function")
    page.fill("input[name=name]", "webfn")
    page.fill("input[name=handler]", "app.handler")
    page.set_input_files("input[name=zip]", str(zipped))
    page.click("button:has-text('Create function')")
    expect(page.locator("#messages")).to_contain_text("Function webfn created")
    expect(page.locator("#editor")).to_have_value(re.compile("console says"))
    shoot(page, "function-code")

    # An API error is a message, not a blank page: creating it again conflicts.
    page.goto(f"{url}/console/create")
    page.fill("input[name=name]", "webfn")
    page.set_input_files("input[name=zip]", str(zipped))
    page.click("button:has-text('Create function')")
    expect(page.locator("#messages .msg.error")).to_contain_text("ResourceConflictException")

    # Edit the configuration.
    page.goto(f"{url}/console/functions/webfn?tab=configuration")
    expect(page.locator("#config-form input[name=MemorySize]")).to_have_value("128")
    page.fill("#config-form input[name=MemorySize]", "256")
    page.fill("#config-form textarea[name=Environment]", "GREETING=hi")
    page.click("button:has-text('Save configuration')")
    expect(page.locator("#messages")).to_contain_text("Configuration saved")
    expect(page.locator("#fn-summary")).to_contain_text("256 MB")
    shoot(page, "function-configuration")

    # Test tab: save an event, run it, see the result, its numbers and the log tail.
    page.click(".tabs a[data-tab=test]")
    page.fill("#event-name", "hello")
    page.fill("#event-json", '{"name": "browser"}')
    page.click("#save-event")
    expect(page.locator("#saved-events")).to_contain_text("hello")
    page.click("#run-test")
    expect(page.locator("#result-title")).to_have_text("Execution result: succeeded")
    expect(page.locator("#r-payload")).to_contain_text('"hello": "browser"')
    expect(page.locator("#r-payload")).to_contain_text('"memory": "256"')
    expect(page.locator("#r-log")).to_contain_text("console says browser")
    expect(page.locator("#r-billed")).to_have_text(re.compile(r"^\d+ ms$"))
    expect(page.locator("#r-init")).to_have_text(re.compile(r"^[\d.]+ ms$"))
    assert page.locator("#r-duration").text_content() != page.locator("#r-init").text_content()
    expect(page.locator("#r-memory")).to_have_text(re.compile(r"^\d+ MB$"))
    expect(page.locator("#r-trace")).to_have_text(re.compile(r"^Root=1-[0-9a-f]{8}-[0-9a-f]{24};"))
    shoot(page, "function-test")
    page.fill("#event-json", '{"name": "again", "fail": true}')
    page.click("#run-test")
    expect(page.locator("#result-title")).to_have_text("Execution result: failed (Unhandled)")
    expect(page.locator("#r-payload")).to_contain_text("KeyError")

    # Publish a version and point an alias at it.
    page.click(".tabs a[data-tab=versions]")
    page.click("button:has-text('Publish new version')")
    expect(page.locator("#messages")).to_contain_text("Published version 1")
    expect(page.locator("#alias-form select[name=version] option[value='1']")).to_have_count(1)
    page.fill("#alias-form input[name=name]", "live")
    page.select_option("#alias-form select[name=version]", "1")
    page.click("button:has-text('Create or point alias')")
    expect(page.locator("#aliases tbody")).to_contain_text("live")
    expect(page.locator("#aliases tbody tr").first).to_contain_text("1")
    shoot(page, "function-versions")

    # Monitoring: the invocations chart has data.
    page.click(".tabs a[data-tab=monitor]")
    expect(page.locator("#monitor-summary")).to_contain_text("2 invocations, 1 errors (KeyError: 1)")
    invocations = page.locator(".chart", has_text="Invocations").first
    assert int(invocations.get_attribute("data-points") or 0) >= 1
    assert page.locator(".chart svg path").count() >= 6
    shoot(page, "function-monitor")

    # Logs: streams and a filter.
    page.click(".tabs a[data-tab=logs]")
    expect(page.locator("#log-events")).to_contain_text("REPORT RequestId")
    page.fill("#log-filter", "console says -again")
    page.click("#log-search")
    expect(page.locator("#log-events")).to_have_text(re.compile(r"console says browser\s*$"))
    expect(page.locator("#streams tbody")).to_contain_text("[$LATEST]")
    shoot(page, "function-logs")
    page.fill("#log-filter", "")
    page.check("#live-tail")
    tailed = page.request.post(f"{url}/2015-03-31/functions/webfn/invocations", headers=headers,
                               data=json.dumps({"name": "tailed"}))
    assert tailed.status == 200
    expect(page.locator("#log-events")).to_contain_text("console says tailed", timeout=15_000)
    page.uncheck("#live-tail")

    # A page for a function that does not exist says so.
    page.goto(f"{url}/console/functions/ghost")
    expect(page.locator("#messages .msg.error")).to_contain_text("ResourceNotFoundException")

    # The list shows the last hour's numbers.
    page.goto(f"{url}/console/")
    row = page.locator("#functions tbody tr", has_text="webfn")
    expect(row).to_contain_text("python3.11")
    expect(row.locator("td").nth(4)).to_have_text("3")
    expect(row.locator("td").nth(5)).to_have_text("1")
    shoot(page, "functions")
    page.fill("#search", "zzz")
    expect(page.locator("#functions tbody")).to_contain_text("No function matches")

    # Triggers list what exists; the queues page creates and lists queues.
    created = page.request.post(f"{url}/lamina/v1/schedules", headers=headers, data=json.dumps(
        {"Name": "nightly", "FunctionName": "webfn", "ScheduleExpression": "cron(0 3 * * ? *)"}))
    assert created.status in (200, 201), created.text()
    page.goto(f"{url}/console/functions/webfn?tab=triggers")
    expect(page.locator("#triggers tbody")).to_contain_text("nightly: cron(0 3 * * ? *)")
    page.goto(f"{url}/console/queues")
    page.fill("#queue-form input[name=name]", "jobs")
    page.click("button:has-text('Create queue')")
    expect(page.locator("#queues tbody")).to_contain_text("jobs")
    expect(page.locator("#queues tbody")).to_contain_text("Standard")
    shoot(page, "queues")
    page.goto(f"{url}/console/streams")
    page.fill("#stream-form input[name=name]", "clicks")
    page.fill("#stream-form input[name=shards]", "2")
    page.click("button:has-text('Create stream')")
    expect(page.locator("#streams tbody")).to_contain_text("clicks")
    expect(page.locator("#shards tbody")).to_contain_text("shardId-000000000001")
    shoot(page, "streams")

    # The in-browser editor deploys a single-file function.
    page.goto(f"{url}/console/functions/webfn?tab=code")
    expect(page.locator("#editor")).to_have_value(re.compile("console says"))
    page.fill("#editor", APP.replace("console says", "edited says"))
    page.click("#deploy")
    expect(page.locator("#messages")).to_contain_text("Code deployed")
    page.click(".tabs a[data-tab=test]")
    page.click("#run-test")
    expect(page.locator("#r-log")).to_contain_text("edited says")

    for path, name in (("/console/layers", "layers"), ("/console/settings", "settings")):
        page.goto(url + path)
        expect(page.locator("#messages .msg.error")).to_have_count(0)
        shoot(page, name)
