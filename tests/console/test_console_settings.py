"""Console, in headless Chromium: the account settings page manages users, access keys and execution roles
through lamina's IAM API (the same one boto3's iam client speaks)."""

from __future__ import annotations

from typing import Any

from lamina.services.iam import iam


def test_settings_page_manages_users_keys_and_roles(page: Any, live_server: Any, components: Any,
                                                    login_token: tuple[str, str], shoot: Any) -> None:
    from playwright.sync_api import expect

    url = live_server.url
    page.goto(f"{url}/console/login")
    page.fill("input[name=access_key_id]", login_token[0])
    page.fill("input[name=secret_access_key]", login_token[1])
    page.click("button[type=submit]")
    page.goto(f"{url}/console/settings")
    users = page.locator("#users tbody")
    expect(users).to_contain_text("tester")  # the signed-in administrator
    page.fill("#user-form input[name=name]", "ops")
    page.check("#user-form input[name=admin]")
    page.click("#user-form button[type=submit]")
    expect(page.locator("#messages")).to_contain_text("User ops created")
    expect(page.locator("#new-key")).to_be_visible()
    key_id = page.locator("#new-key-id").inner_text()
    assert key_id.startswith("LKIA") and page.locator("#new-key-secret").inner_text()
    row = page.locator("#users tr[data-user=ops]")
    expect(row).to_contain_text("yes")  # an administrator
    expect(row).to_contain_text(f"{key_id} Active")
    row.locator("button", has_text="Deactivate").click()
    expect(page.locator("#users tr[data-user=ops]")).to_contain_text(f"{key_id} Inactive")
    with components.sessions() as session:  # the platform's own view agrees
        from lamina.store import security

        found = security.key_with_user(session, key_id)
        assert found is not None and not found[0].active and found[1].admin
    # A bad name is refused with IAM's message.
    page.fill("#user-form input[name=name]", "ops")
    page.click("#user-form button[type=submit]")
    expect(page.locator("#messages .msg.error")).to_contain_text("EntityAlreadyExists")
    # An execution role with one inline policy; functions get its statements.
    page.fill("#role-form input[name=name]", "invoker")
    page.fill("#role-form input[name=actions]", "lambda:InvokeFunction, sqs:SendMessage")
    page.click("#role-form button[type=submit]")
    expect(page.locator("#roles tbody")).to_contain_text("invoker")
    expect(page.locator("#roles tbody")).to_contain_text("console")
    statements = iam.get_role_statements(components, components.settings.account_id, "invoker")
    assert statements and statements[0]["Action"] == ["lambda:InvokeFunction", "sqs:SendMessage"]
    shoot(page, "settings")
    page.locator("#roles tr", has_text="invoker").locator("button", has_text="Delete").click()
    expect(page.locator("#roles tbody")).not_to_contain_text("invoker")
