"""Every page the tests reach is checked the same way, in light and in dark
(`prefers-color-scheme` emulated on the same page load, so a page that exists once, like
"Client created", is seen in both): a full-page screenshot kept for CI, axe-core (no
`serious` or `critical` violation, SPEC §8), and no Content-Security-Policy violation or
script error in the console."""

from __future__ import annotations

import itertools
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page

# Sections of SPEC §8 that other engineers are building right now: while one answers 404 it is
# reported (a warning) instead of failing. Once all are built, this list must be emptied, so
# that every page of the side navigation is required to exist and pass.
NOT_YET_BUILT: list = []

SCHEMES = ("light", "dark")
BLOCKING = ("serious", "critical")


def section_of(path: str) -> str:
    """A path with its variable part named: /console/clients/Qm9… → /console/clients/{id}."""
    path = path.split("?", 1)[0].split("#", 1)[0]
    if re.fullmatch(r"/console/clients/[^/]+", path) and path != "/console/clients/new":
        return "/console/clients/{id}"
    return path


class NotYetBuiltWarning(UserWarning):
    pass


@dataclass
class Checker:
    folder: Path
    axe: Axe = field(default_factory=Axe)
    failures: list[str] = field(default_factory=list)  # of the test under way
    report: list[str] = field(default_factory=list)  # the whole run's, printed at the end
    shots: int = 0
    _seq: itertools.count = field(default_factory=lambda: itertools.count(1))
    _errors: dict[int, list[str]] = field(default_factory=dict)

    def watch(self, page: Page) -> Page:
        """Records the page's CSP violations and uncaught script errors."""
        errors = self._errors.setdefault(id(page), [])
        page.on(
            "console",
            lambda m: errors.append(f"console: {m.text}")
            if m.type == "error" and "Content Security Policy" in m.text
            else None,
        )
        page.on("pageerror", lambda e: errors.append(f"script error: {e}"))
        return page

    def visit(self, page: Page, path: str, name: str, status: int = 200) -> bool:
        """Opens `path`, expects `status`, then checks the page. A section of NOT_YET_BUILT that
        answers 404 is reported and skipped (returns False)."""
        response = page.goto(path)
        got = response.status if response else 0
        section = section_of(path)
        if got == 404 and status != 404 and section in NOT_YET_BUILT:
            message = f"{section} answers 404: not built yet (tests/browser/checks.py NOT_YET_BUILT)"
            warnings.warn(message, NotYetBuiltWarning, stacklevel=2)
            print(f"WARNING: {message}")
            self.report.append(f"WARNING {message}")
            return False
        if section in NOT_YET_BUILT and got == 200:
            note = f"{section} exists now: remove it from NOT_YET_BUILT in tests/browser/checks.py"
            print(f"NOTE: {note}")
            self.report.append(f"NOTE {note}")
        if got != status:
            self.failures.append(f"{name}: GET {path} answered {got}, expected {status}")
            return False
        self.check(page, name)
        return True

    def check(self, page: Page, name: str, screenshot: bool = True) -> None:
        """Screenshot and axe in light and dark; the findings are kept for `verify`."""
        page.wait_for_load_state("load")
        seq = next(self._seq)
        for scheme in SCHEMES:
            page.emulate_media(color_scheme=scheme)
            if screenshot:
                self.folder.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=self.folder / f"{seq:02d}-{name}-{scheme}.png", full_page=True)
                self.shots += 1
            # The axe script is run with page.evaluate (the DevTools protocol), which the
            # console's CSP (`script-src 'self'`) does not govern: no bypass_csp is needed, so
            # the pages are tested under their real policy.
            results = self.axe.run(page).response
            for v in results["violations"]:
                targets = ", ".join(" ".join(n["target"]) for n in v["nodes"][:4])
                line = f"{name} ({scheme}) {page.url}: {v['id']} [{v['impact']}] {v['help']} ({len(v['nodes'])}x: {targets})"
                self.report.append(("FAIL " if v["impact"] in BLOCKING else "note ") + line)
                if v["impact"] in BLOCKING:
                    self.failures.append(f"axe: {line}")
                else:
                    print(f"axe (not blocking): {line}")
        page.emulate_media(color_scheme="light")
        errors = self._errors.get(id(page), [])
        for e in errors:
            self.failures.append(f"{name} {page.url}: {e}")
        errors.clear()
        self.report.append(f"checked {name}: {page.url}")

    def verify(self) -> None:
        """Fails the test with every finding of its pages (all of them, not the first)."""
        failures, self.failures = self.failures, []
        assert not failures, "\n".join(["pages with findings:", *failures])
