"""Fixtures of the browser tests: Debian's Chromium under Playwright, the real `tessera` binary
on 127.0.0.1:0 with a temp SQLite database and keys dir, and the page checker (axe-core and
screenshots). Run them with `bash tests/browser/run.sh target/debug/tessera`."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

from checks import Checker
from tessera import Installation, Server, free_port, leaks

ROOT = Path(__file__).resolve().parent.parent.parent
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# As root (CI) Chromium's sandbox cannot start: --no-sandbox. The rest keeps a headless run on a
# small shared machine quiet and steady.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-features=Translate,MediaRouter,OptimizationHints",
]
VIEWPORT = {"width": 1280, "height": 800}

_started = time.monotonic()


def screenshots_folder() -> Path:
    return Path(os.environ.get("TESSERA_SCREENSHOTS") or ROOT / "target/console-screenshots").resolve()


@pytest.fixture(scope="session")
def browser() -> Browser:
    with sync_playwright() as p:
        # Debian's chromium, never a downloaded one (`playwright install` is not run).
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        print(f"\nChromium {b.version} at {CHROMIUM}")
        yield b
        b.close()


def _stop_and_check_log(server: Server) -> None:
    server.stop()
    # Whatever the browser did, the server's log holds no secret, token or hash.
    found = leaks(server.log())
    assert not found, f"the server log leaks credentials: {found}"


@pytest.fixture(scope="session")
def installation(tmp_path_factory) -> Installation:
    """The shared installation: APIs made by the CLI in the default project (`orders`: read and
    write; `reports`: read only) and a second project, so the project switcher shows."""
    inst = Installation(tmp_path_factory.mktemp("tessera"))
    inst.cli("apis", "create", "--name", "orders", "--audience", "https://api.example.com/orders",
             "--permissions", "read,write")
    inst.cli("apis", "create", "--name", "reports", "--audience", "https://api.example.com/reports",
             "--permissions", "read")
    inst.cli("projects", "create", "billing", "--display-name", "Billing")
    inst.cli("apis", "create", "--name", "invoices", "--audience", "https://api.example.com/invoices",
             "--permissions", "read,write", "--project", "billing")
    return inst


@pytest.fixture(scope="session")
def server(installation) -> Server:
    """`tessera serve` on 127.0.0.1:0; its issuer follows the bound address, so the console's
    origin check holds for the URL the browser uses (http://127.0.0.1:PORT)."""
    s = installation.serve()
    print(f"tessera at {s.url} (database and keys in {installation.root})")
    yield s
    _stop_and_check_log(s)


@pytest.fixture(scope="session")
def checker() -> Checker:
    folder = screenshots_folder()
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.png"):  # this run's screenshots only
        old.unlink()
    return Checker(folder)


@pytest.fixture
def new_context(browser, server, checker):
    """Makes browser contexts on the shared server (closed after the test); each page opened in
    them is watched for CSP violations and script errors."""
    made = []

    def make(base_url: str | None = None, **options):
        ctx = browser.new_context(base_url=base_url or server.url, viewport=VIEWPORT, **options)
        ctx.set_default_timeout(15_000)
        ctx.on("page", checker.watch)
        made.append(ctx)
        return ctx

    yield make
    for ctx in made:
        ctx.close()


@pytest.fixture
def page(new_context):
    return new_context().new_page()


@pytest.fixture
def localhost_server(tmp_path_factory):
    """A server of its own whose issuer is http://localhost:PORT: WebAuthn needs a domain as
    the relying party (not an IP address), and localhost is a secure context over http. The
    port is chosen first (issuer and bind must agree), as tests/signin.rs does."""
    for attempt in range(3):
        port = free_port()
        inst = Installation(tmp_path_factory.mktemp("tessera-localhost"), bind=f"127.0.0.1:{port}",
                            issuer=f"http://localhost:{port}")
        try:
            s = inst.serve()
            break
        except RuntimeError:
            if attempt == 2:
                raise
    s.base = f"http://localhost:{port}"
    s.installation = inst
    yield s
    _stop_and_check_log(s)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    folder = screenshots_folder()
    shots = sorted(folder.glob("*.png")) if folder.is_dir() else []
    tr = terminalreporter
    tr.section("console pages")
    checker = getattr(config, "_tessera_checker", None)
    for line in checker.report if checker else []:
        tr.write_line(line)
    tr.write_line(f"browser suite: {time.monotonic() - _started:.0f} s")
    tr.write_line(f"Screenshots ({len(shots)}, light and dark): {folder}")


@pytest.fixture(scope="session", autouse=True)
def _expose_checker(request, checker):
    request.config._tessera_checker = checker
    yield


def pytest_sessionstart(session):
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).is_file():
        raise pytest.UsageError(f"no Chromium at {CHROMIUM}: apt-get install chromium")
