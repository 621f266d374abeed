"""A client's page in a real Chromium: the Enabled switch (in place with script, by a plain
form without), Reset secret through its dialog (the old secret stops, the new one works),
Delete client through its dialog, and a viewer who is offered none of it."""

from __future__ import annotations

import itertools
import re

from playwright.sync_api import Page, expect

from tessera import new_admin, enroll, sign_in, signed_in_admin, token

_names = itertools.count(1)


def create_client(page: Page) -> tuple[str, str, str]:
    """Create client in the default project with orders:read; returns name, id and secret."""
    name = f"lifecycle-{next(_names)}"
    page.goto("/console/clients/new?project=default")
    page.get_by_label("Name", exact=True).fill(name)
    row = page.get_by_role("row").filter(has=page.get_by_role("rowheader", name="orders", exact=True))
    row.get_by_role("checkbox", name="read", exact=True).check()
    page.get_by_role("button", name="Create client").click()
    expect(page.get_by_role("heading", level=1, name="Client created")).to_be_visible()
    client_id = page.get_by_label("Client ID", exact=True).input_value()
    secret = page.get_by_label("Client secret", exact=True).input_value()
    page.get_by_role("link", name="Done").click()
    expect(page.get_by_role("heading", level=1, name=name)).to_be_visible()
    return name, client_id, secret


def status(base: str, client_id: str, secret: str) -> int:
    return token(base, client_id, secret)[0]


def test_switch_reset_and_delete_from_the_client_page(page, installation, server):
    signed_in_admin(page, installation)
    name, client_id, secret = create_client(page)
    assert status(server.url, client_id, secret) == 200

    # The Enabled switch, in place: its state, the badge and the token endpoint follow.
    switch = page.get_by_role("switch", name="Enabled")
    expect(switch).to_have_attribute("aria-checked", "true")
    switch.click()
    expect(page.get_by_role("switch", name="Enabled")).to_have_attribute("aria-checked", "false")
    expect(page.locator("#status-badge")).to_have_text("Disabled")
    expect(page.get_by_role("status").filter(has_text="Disabled")).to_have_count(1)
    assert page.url.endswith(f"/console/clients/{client_id}"), "no navigation: updated in place"
    assert status(server.url, client_id, secret) == 401
    page.get_by_role("switch", name="Enabled").click()
    expect(page.get_by_role("switch", name="Enabled")).to_have_attribute("aria-checked", "true")
    expect(page.locator("#status-badge")).to_have_text("Enabled")
    assert status(server.url, client_id, secret) == 200

    # Reset secret: a dialog that opens on Cancel; confirming shows the new secret once.
    page.get_by_role("link", name="Reset secret").click()
    dialog = page.get_by_role("dialog", name=f"Reset the secret of {name}?")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("button", name="Cancel")).to_be_focused()
    dialog.get_by_role("button", name="Reset secret").click()
    expect(page.get_by_role("heading", level=1, name="Secret reset")).to_be_visible()
    new_secret = page.get_by_label("Client secret", exact=True).input_value()
    assert new_secret != secret
    assert status(server.url, client_id, secret) == 401, "every older secret stops at once"
    assert status(server.url, client_id, new_secret) == 200
    page.reload()
    expect(page.get_by_label("Client secret", exact=True)).to_have_count(0)

    # Delete client: the dialog names it; afterwards the client and its secret are gone.
    page.goto(f"/console/clients/{client_id}")
    page.get_by_role("link", name="Delete client").click()
    dialog = page.get_by_role("dialog", name=f"Delete client {name}?")
    expect(dialog).to_contain_text(client_id)
    dialog.get_by_role("button", name="Delete client").click()
    expect(page).to_have_url(re.compile(r"/console/clients\?deleted=1$"))
    expect(page.get_by_role("status").filter(has_text="deleted")).to_be_visible()
    expect(page.get_by_role("link", name=name, exact=True)).to_have_count(0)
    assert status(server.url, client_id, new_secret) == 401
    assert page.goto(f"/console/clients/{client_id}").status == 404


def test_the_switch_and_a_reset_work_without_javascript(new_context, installation, server):
    page = new_context(java_script_enabled=False).new_page()
    signed_in_admin(page, installation)
    name, client_id, secret = create_client(page)
    page.get_by_role("switch", name="Enabled").click()
    expect(page).to_have_url(re.compile(rf"/console/clients/{re.escape(client_id)}\?notice=disabled$"))
    expect(page.get_by_role("switch", name="Enabled")).to_have_attribute("aria-checked", "false")
    assert status(server.url, client_id, secret) == 401
    page.get_by_role("switch", name="Enabled").click()
    expect(page.get_by_role("switch", name="Enabled")).to_have_attribute("aria-checked", "true")
    # Without script the link leads to a confirmation page of its own.
    page.get_by_role("link", name="Reset secret").click()
    expect(page).to_have_url(re.compile(rf"/console/clients/{re.escape(client_id)}/reset$"))
    page.get_by_role("button", name="Reset secret").click()
    expect(page.get_by_role("heading", level=1, name="Secret reset")).to_be_visible()
    new_secret = page.get_by_label("Client secret", exact=True).input_value()
    assert status(server.url, client_id, secret) == 401
    assert status(server.url, client_id, new_secret) == 200


def test_a_viewer_is_offered_no_change(new_context, installation, server):
    made = installation.cli("clients", "create", "--name", f"watched-{next(_names)}")
    viewer = new_admin(installation, "--project", "default", "--role", "viewer", name="Vic Viewer")
    page = new_context().new_page()
    enroll(page, viewer)
    sign_in(page, viewer)
    expect(page.get_by_role("link", name="Create client")).to_have_count(0)
    page.goto(f"/console/clients/{made['client_id']}")
    expect(page.get_by_role("heading", level=1, name=made["name"])).to_be_visible()
    for role, label in (("switch", "Enabled"), ("link", "Reset secret"), ("link", "Delete client"),
                        ("button", "Save changes"), ("button", "Add secret")):
        expect(page.get_by_role(role, name=label)).to_have_count(0)
    expect(page.get_by_role("link", name="Delete", exact=True)).to_have_count(0)
