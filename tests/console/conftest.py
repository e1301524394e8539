"""Console tests: Debian's chromium driven by Playwright against a live lamina with the real Docker engine.

Never ``playwright install``: the browser is /usr/bin/chromium (``scripts/services.sh chromium``).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.triggers import docker_client, fns, invoker, runtime_images  # noqa: F401

CHROMIUM = os.environ.get("LAMINA_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/services.sh chromium (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1360, "height": 900})
    p = context.new_page()
    p.set_default_timeout(20_000)
    yield p
    context.close()


@pytest.fixture
def login_token(request: pytest.FixtureRequest) -> tuple[str, str]:
    """(access key id, secret) of a real key once authentication is installed, else anything (the stub)."""
    try:
        creds = request.getfixturevalue("credentials")
    except pytest.FixtureLookupError:
        return "AKIDCONSOLE", "anything"
    return creds.access_key_id, creds.secret_access_key


@pytest.fixture
def shoot(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """shoot(page, name): a full-page screenshot kept as a test artifact and in docs/screenshots/."""
    artifacts = tmp_path_factory.getbasetemp() / "console-screenshots"
    artifacts.mkdir(exist_ok=True)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(page: Any, name: str) -> Path:
        path = artifacts / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        shutil.copyfile(path, SCREENSHOTS / f"{name}.png")
        return path

    return take
