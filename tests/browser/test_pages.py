"""Every console page, in light and dark: axe-core finds no `serious` or `critical` violation,
the CSP is never violated, and a full-page screenshot of each is kept (checks.py).

The signed-in pages are found, not listed: every link of the side navigation
(`nav[aria-label=Console]`) and the first client's row link are followed, so the sections being
built now are checked as soon as they exist; until then a 404 among them is a warning
(checks.NOT_YET_BUILT)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tessera import PASSWORD, enroll, new_admin, show_project, sign_in_password, totp, verify_totp


def slug(path: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", path.removeprefix("/console").lower()).strip("-") or "home"


def test_every_console_page_passes_axe_in_light_and_dark(page, installation, server, checker):
    admin = new_admin(installation, "--superadmin")

    # Signed out: sign-in, enrollment (as offered, then refused with both fields named).
    checker.visit(page, "/console/sign-in", "sign-in")
    checker.visit(page, f"/console/enroll/{admin.token}", "enrollment")
    admin.secret = page.get_by_label("Key", exact=True).input_value()
    page.get_by_label("Password", exact=True).fill("password1234")
    page.get_by_label("Authentication code", exact=True).fill("123456" if totp(admin.secret) != "123456" else "654321")
    page.get_by_role("button", name="Finish enrollment").click()
    expect(page.locator("#password-error")).to_be_visible()
    checker.check(page, "enrollment-refused")
    enroll(page, admin)
    checker.check(page, "sign-in-after-enrollment")

    page.get_by_label("Email", exact=True).fill(admin.email)
    page.get_by_label("Password", exact=True).fill(PASSWORD + " but wrong")
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.get_by_role("alert")).to_be_visible()
    checker.check(page, "sign-in-refused")
    sign_in_password(page, admin)
    checker.check(page, "verify")
    verify_totp(page, admin)
    checker.check(page, "clients")

    # Create client: the form, the form refused, the one-time answer.
    page.get_by_role("link", name="Create client").click()
    show_project(page, "default")
    checker.check(page, "create-client")
    page.get_by_label("Name", exact=True).fill("crawl-client")
    page.get_by_role("row").filter(has=page.get_by_role("rowheader", name="orders", exact=True)).get_by_role(
        "checkbox", name="read", exact=True
    ).check()
    page.get_by_label("Allowed IP ranges", exact=True).fill("10.0.0.0/33")
    page.get_by_label("Token lifetime", exact=True).fill("600")
    page.get_by_role("button", name="Create client").click()
    expect(page.locator("#allowed_ips-error")).to_be_visible()
    checker.check(page, "create-client-refused")
    page.get_by_label("Allowed IP ranges", exact=True).fill("10.0.0.0/8")
    page.get_by_role("button", name="Create client").click()
    expect(page.get_by_role("heading", level=1, name="Client created")).to_be_visible()
    checker.check(page, "client-created")

    # Every section of the side navigation, whatever it holds today.
    page.goto("/console/clients")
    nav = page.get_by_role("navigation", name="Console")
    hrefs = [a.get_attribute("href") for a in nav.get_by_role("link").all()]
    assert "/console/clients" in hrefs and "/console/account" in hrefs, hrefs
    for href in hrefs:
        if checker.visit(page, href, slug(href)):
            # The side navigation marks the page it is on.
            expect(page.get_by_role("navigation", name="Console").locator(f'a[href="{href}"]')).to_have_attribute(
                "aria-current", "page"
            )

    # The first client's details, through its row link, and what it leads to.
    page.goto("/console/clients")
    first = page.get_by_role("table").get_by_role("row").nth(1).get_by_role("link").first
    details = first.get_attribute("href")
    if checker.visit(page, details, "client-details"):
        client_pages(page, details, checker)

    # A client without a secret (mutual TLS, DPoP required): its page says so and offers no
    # secret to reset or add; and its form refusing a bad certificate value.
    made = installation.cli(
        "clients", "create", "--name", "billing-mtls", "--auth-method", "tls_client_auth",
        "--tls-subject-dn", "CN=billing,O=Example", "--dpop-bound", "true",
    )
    secretless = f"/console/clients/{made['client_id']}"
    if checker.visit(page, secretless, "client-secretless"):
        main = page.get_by_role("main")
        expect(main.locator("#auth-method")).to_have_text("Mutual TLS, CA-issued certificate, DPoP required")
        expect(main.get_by_role("link", name="Reset secret")).to_have_count(0)
        expect(main.get_by_role("button", name="Add secret")).to_have_count(0)
        main.get_by_label("Certificate must match").select_option("tls_client_auth_san_ip")
        main.get_by_label("Certificate value").fill("300.1.1.1")
        main.get_by_role("button", name="Save changes").click()
        expect(main.get_by_role("alert").filter(has_text="Certificate value:")).to_be_visible()
        checker.check(page, "client-secretless-refused")

    # The people pages: Add administrator, a person's page and what it leads to.
    checker.visit(page, "/console/administrators/new", "administrator-new")
    page.goto("/console/administrators")
    person = page.get_by_role("table").get_by_role("row").nth(1).get_by_role("link").first.get_attribute("href")
    if checker.visit(page, person, "administrator-details"):
        checker.visit(page, f"{person}/membership?project=default", "administrator-membership")
        checker.visit(page, f"{person}/delete", "administrator-delete-confirm")

    # Error pages: an unknown page, a spent enrollment link.
    checker.visit(page, "/console/no-such-page", "not-found", status=404)
    checker.visit(page, f"/console/enroll/{admin.token}", "enrollment-spent", status=404)

    page.goto("/console/clients")
    page.get_by_role("button", name="Sign out", exact=True).click()
    expect(page).to_have_url(re.compile(r"/console/sign-in"))
    checker.check(page, "signed-out")
    checker.verify()


def client_pages(page, details: str, checker) -> None:
    """From a client's page: Reset secret and Delete client as dialogs (with script; the
    person signed in moments ago, so no re-authentication first) and as the confirmation pages
    a browser without script gets, the re-authentication page, and Add secret's one-time
    answer."""
    main = page.get_by_role("main")
    for action, name in (("Reset secret", "client-reset"), ("Delete client", "client-delete")):
        opener = main.get_by_role("link", name=action)
        href = opener.get_attribute("href")
        opener.click()
        dialog = page.get_by_role("dialog")
        expect(dialog).to_be_visible()
        expect(dialog.get_by_role("button", name=action)).to_be_visible()
        checker.check(page, f"{name}-dialog")
        page.keyboard.press("Escape")
        expect(dialog).to_be_hidden()
        expect(opener).to_be_focused()  # focus goes back where it was
        checker.visit(page, href, f"{name}-confirm")
        page.goto(details)
    checker.visit(page, f"/console/reauth?then={details}/reset", "reauth")
    page.goto(details)
    main.get_by_role("button", name="Add secret").click()
    expect(page.get_by_role("heading", level=1, name="Secret added")).to_be_visible()
    checker.check(page, "secret-added")


def test_the_checker_fails_a_page_with_a_serious_violation_or_a_csp_violation(page, checker):
    """The gate is not a no-op: a nameless button (axe `button-name`, critical) and an image
    without alt text (`image-alt`, critical) fail a page, and so does an inline script that the
    console's Content-Security-Policy refuses."""
    page.set_content(
        '<!doctype html><html lang="en"><title>t</title><main><h1>t</h1>'
        '<button></button><img src="data:,"></main></html>'
    )
    checker.check(page, "checker-self-test", screenshot=False)
    with pytest.raises(AssertionError, match="button-name.*critical|image-alt"):
        checker.verify()
    page.goto("/console/sign-in")
    page.evaluate("""() => {
        const s = document.createElement("script");
        s.textContent = "document.title = 'injected'";
        document.body.append(s);
    }""")
    expect(page).not_to_have_title("injected")
    checker.check(page, "checker-self-test", screenshot=False)
    with pytest.raises(AssertionError, match="Content Security Policy"):
        checker.verify()
    checker.report[:] = [line for line in checker.report if "checker-self-test" not in line]
