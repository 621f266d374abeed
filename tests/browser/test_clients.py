"""Create client in a real Chromium: with the mouse, with the keyboard alone, and without
JavaScript; the credentials shown once work at the token endpoint over plain HTTP."""

from __future__ import annotations

import itertools
import re

from playwright.sync_api import Page, expect

from tessera import enroll, jwt_parts, new_admin, show_project, sign_in, signed_in_admin, token, totp

_names = itertools.count(1)


def grid_checkbox(page: Page, api: str, permission: str):
    """The permissions grid's box for `api` (its row header) and `permission` (read / write)."""
    row = page.get_by_role("row").filter(has=page.get_by_role("rowheader", name=api, exact=True))
    return row.get_by_role("checkbox", name=permission, exact=True)


def created_credentials(page: Page) -> tuple[str, str, str]:
    """Client ID, Client secret and Token URL from the "Client created" page."""
    expect(page.get_by_role("heading", level=1, name="Client created")).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text("will not be shown again")
    return tuple(page.get_by_label(name, exact=True).input_value() for name in ("Client ID", "Client secret", "Token URL"))


def assert_token_works(base: str, client_id: str, secret: str, scope: str, ttl: int | None = None) -> None:
    status, body = token(base, client_id, secret)
    assert status == 200, body
    assert body["token_type"] == "Bearer" and body["scope"] == scope, body
    header, claims = jwt_parts(body["access_token"])
    assert header["typ"] == "at+jwt" and header["alg"] == "ES256", header
    assert claims["sub"] == client_id and claims["client_id"] == client_id, claims
    assert claims["iss"] == base, claims
    if ttl is not None:
        assert claims["exp"] - claims["iat"] == ttl, claims


def test_create_client_shows_the_secret_once_and_it_gets_a_token(page, installation, server):
    signed_in_admin(page, installation)
    name = f"billing-sync-{next(_names)}"
    page.get_by_role("link", name="Create client").click()
    show_project(page, "default")
    expect(page.get_by_role("heading", level=1, name="Create client")).to_be_visible()
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Description", exact=True).fill("Nightly export of orders")
    grid_checkbox(page, "orders", "read").check()
    grid_checkbox(page, "reports", "read").check()
    # A read-only API has no write box.
    expect(grid_checkbox(page, "reports", "write")).to_have_count(0)
    expect(grid_checkbox(page, "orders", "write")).not_to_be_checked()
    page.get_by_label("Allowed IP ranges", exact=True).fill("127.0.0.1/32\n::1")
    page.get_by_label("Token lifetime", exact=True).fill("600")
    page.get_by_role("button", name="Create client").click()

    client_id, secret, token_url = created_credentials(page)
    # Post/redirect/get: the answer is a GET of its own, holding the secret once.
    expect(page).to_have_url(re.compile(rf"/console/clients/{re.escape(client_id)}/secret$"))
    assert secret.startswith("tsk_") and len(secret) > 24, "a secret is shown"
    assert token_url == f"{server.url}/oauth2/token"
    assert_token_works(server.url, client_id, secret, "orders:read reports:read", ttl=600)

    # The Copy button puts the secret on the clipboard.
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    copy = page.get_by_role("button", name="Copy Client secret")
    copy.click()
    expect(copy).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == secret

    # Shown once: not on the client's page, not after going back, not in the Clients table.
    page.get_by_role("link", name="Done").click()
    expect(page).to_have_url(re.compile(rf"/console/clients/{re.escape(client_id)}$"))
    expect(page.get_by_role("heading", level=1, name=name)).to_be_visible()
    secrets = page.get_by_role("region", name="Secrets").get_by_role("row")
    expect(secrets).to_have_count(2)  # the header and the one secret, masked
    assert secret not in page.content()
    page.go_back()
    expect(page.get_by_label("Client secret", exact=True)).to_have_count(0)
    assert secret not in page.content(), "going back shows the secret again"
    page.goto("/console/clients")
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name=name, exact=True))
    expect(row).to_have_count(1)
    expect(row).to_contain_text(client_id)
    expect(row).to_contain_text("Enabled")
    assert secret not in page.content()


def test_a_reload_of_client_created_shows_no_secret_and_creates_nothing(page, installation):
    """The one-time answer, reloaded: no secret again, and no second client."""
    signed_in_admin(page, installation)
    name = f"reloaded-{next(_names)}"
    page.get_by_role("link", name="Create client").click()
    show_project(page, "default")
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_role("button", name="Create client").click()
    _, secret, _ = created_credentials(page)
    page.reload()
    assert secret not in page.content(), "a reload shows the secret again"
    expect(page.get_by_label("Client secret", exact=True)).to_have_count(0)
    page.goto("/console/clients")
    assert secret not in page.content()
    made = [c for c in installation.cli("clients", "list", "--project", "default") if c["name"] == name]
    assert len(made) == 1, f"{len(made)} clients named {name} after one Create client and a reload"


# The focused element, described for messages, and whether its focus is visible: it matches
# :focus-visible and draws an outline or a box shadow.
FOCUSED = """() => {
  const el = document.activeElement;
  const s = getComputedStyle(el);
  const name = (el.getAttribute("aria-label") || (el.labels && el.labels[0] && el.labels[0].textContent)
    || el.textContent || "").trim().replace(/\\s+/g, " ").slice(0, 40);
  return {
    key: el.type === "checkbox" ? el.value : el.id || `${el.tagName.toLowerCase()}:${name}`,
    tag: el.tagName.toLowerCase(),
    name,
    visible: el.matches(":focus-visible")
      && ((s.outlineStyle !== "none" && parseFloat(s.outlineWidth) > 0) || s.boxShadow !== "none"),
  };
}"""


def tab_to(page: Page, key: str, limit: int = 40) -> list[str]:
    """Presses Tab until the element `key` (an id, a checkbox's value, or "tag:name") has
    focus; every element passed on the way must show its focus. Returns the keys passed."""
    passed = []
    for _ in range(limit):
        passed.append(_tab(page))
        if passed[-1] == key:
            return passed
    raise AssertionError(f"Tab never reached {key}; focus went {passed}")


def test_create_client_with_the_keyboard_alone(page, installation, server):
    """Enrollment, sign-in and Create client without a click: Tab, Space and Enter, and typing
    into the focused field. Every element that gets focus shows it, and the order follows the
    page (fields, then the permissions grid row by row, then the button)."""
    admin = new_admin(installation, "--superadmin")
    page.goto(f"/console/enroll/{admin.token}")
    admin.secret = page.get_by_label("Key", exact=True).input_value()
    assert tab_to(page, "password") == ["a:Skip to content", "a:Tessera", "password"]
    page.keyboard.type(admin.password)
    tab_to(page, "code")
    page.keyboard.type(totp(admin.secret))
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/console/sign-in\?enrolled=1$"))

    page.goto("/console/sign-in")
    assert tab_to(page, "email") == ["a:Skip to content", "a:Tessera", "email"]
    page.keyboard.type(admin.email)
    page.keyboard.press("Tab")
    page.keyboard.type(admin.password)
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/console/sign-in/verify$"))
    tab_to(page, "code")
    page.keyboard.type(totp(admin.secret, offset_steps=1))
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/console/clients$"))

    # The skip link leads past the header and the navigation: the next Tab is in the content.
    assert tab_to(page, "a:Skip to content") == ["a:Skip to content"]
    page.keyboard.press("Enter")
    assert tab_to(page, "a:Create client", limit=1) == ["a:Create client"]
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1, name="Create client")).to_be_visible()
    if page.get_by_role("main").get_by_label("Project", exact=True).input_value() != "default":
        tab_to(page, "a:default")  # "Show those of: default"
        page.keyboard.press("Enter")
        expect(page).to_have_url(re.compile(r"project=default"))

    name = f"keyboard-{next(_names)}"
    tab_to(page, "name")
    page.keyboard.type(name)
    order = ["name"]
    while order[-1] != "button:Create client":
        order.append(_tab(page))
        if order[-1] in ("orders:read", "reports:read"):
            page.keyboard.press("Space")
        elif order[-1] == "token_ttl_seconds":
            page.keyboard.type("300")
        assert len(order) < 30, order
    boxes = [b.get_attribute("value") for b in page.get_by_role("main").locator("#grants").get_by_role("checkbox").all()]
    authentication = ["token_endpoint_auth_method", "jwks", "jwks_uri", "token_endpoint_auth_signing_alg",
                      "tls_subject_kind", "tls_subject", "true"]  # "true": the Require DPoP box
    assert order == ["name", "description", "project", *boxes, "allowed_ips", "token_ttl_seconds",
                     *authentication, "button:Create client"], order
    assert {"orders:read", "orders:write", "reports:read"} <= set(boxes) and "reports:write" not in boxes
    expect(grid_checkbox(page, "orders", "read")).to_be_checked()
    expect(grid_checkbox(page, "reports", "read")).to_be_checked()
    expect(grid_checkbox(page, "orders", "write")).not_to_be_checked()
    page.keyboard.press("Enter")

    client_id, secret, _ = created_credentials(page)
    assert_token_works(server.url, client_id, secret, "orders:read reports:read", ttl=300)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    tab_to(page, "button:Copy Client secret")
    page.keyboard.press("Enter")
    expect(page.get_by_role("button", name="Copy Client secret")).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == secret
    tab_to(page, "a:Done")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1, name=name)).to_be_visible()


def _tab(page: Page) -> str:
    """One Tab; the key of the element it focused (which must show its focus)."""
    page.keyboard.press("Tab")
    f = page.evaluate(FOCUSED)
    if f["tag"] == "body":
        return "body"  # past the last element: focus leaves the page
    assert f["visible"], f"focus not visible on {f}"
    return f["key"]


def test_sign_in_and_create_client_without_javascript(new_context, installation, server):
    """Every flow works with JavaScript off (SPEC §8): the forms post and the pages answer."""
    page = new_context(java_script_enabled=False).new_page()
    admin = new_admin(installation, "--superadmin")
    enroll(page, admin)
    sign_in(page, admin)
    name = f"no-script-{next(_names)}"
    page.get_by_role("link", name="Create client").click()
    show_project(page, "default")
    page.get_by_label("Name", exact=True).fill(name)
    grid_checkbox(page, "orders", "write").check()
    # A bad line is refused and named, and what was entered is kept.
    page.get_by_label("Allowed IP ranges", exact=True).fill("10.0.0.0/8\nnot-an-address")
    page.get_by_role("button", name="Create client").click()
    expect(page.get_by_role("alert")).to_contain_text("not-an-address")
    expect(page.get_by_label("Allowed IP ranges", exact=True)).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Name", exact=True)).to_have_value(name)
    expect(grid_checkbox(page, "orders", "write")).to_be_checked()
    page.get_by_label("Allowed IP ranges", exact=True).fill("")
    page.get_by_role("button", name="Create client").click()
    client_id, secret, _ = created_credentials(page)
    assert_token_works(server.url, client_id, secret, "orders:write")
    # Without script the Copy buttons do nothing, but the values are there to select.
    page.get_by_role("button", name="Sign out", exact=True).click()
    expect(page).to_have_url(re.compile(r"/console/sign-in"))
