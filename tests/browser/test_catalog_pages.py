"""The APIs, Roles, Projects, Keys and Audit log pages in a real browser: each form as offered,
refused (the field named) and done, each page it leads to, the delete dialogs (with script) and
confirmation pages (without), pass axe (no serious or critical violation) and the CSP in light
and dark; found by their accessible names, as a person with a screen reader would."""

from __future__ import annotations

import os
import re

from playwright.sync_api import expect

from tessera import show_project, signed_in_admin


def delete_through_dialog_then_page(page, checker, action: str, name: str, back: str) -> None:
    """`action` (e.g. "Delete API") opens its dialog with script; Escape closes it, focus goes
    back; its href is the confirmation page a browser without script gets, whose button
    deletes and returns to `back`."""
    main = page.get_by_role("main")
    opener = main.get_by_role("link", name=action)
    href = opener.get_attribute("href")
    opener.click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("button", name=action)).to_be_visible()
    checker.check(page, f"{name}-delete-dialog")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(opener).to_be_focused()
    checker.visit(page, href, f"{name}-delete-confirm")
    main.get_by_role("button", name=action).click()
    expect(page).to_have_url(re.compile(f"{back}$"))


def test_apis_roles_projects_keys_and_audit_pages_pass_axe(page, installation, checker):
    signed_in_admin(page, installation)  # a superadmin: every action is offered
    main = page.get_by_role("main")
    pid = os.getpid()

    # APIs: Create API refused (a bad name), then made; its page; Delete API.
    api = f"crawl-api-{pid}"
    page.goto("/console/apis")
    main.get_by_role("link", name="Create API").click()
    checker.check(page, "api-new")
    main.get_by_label("Name", exact=True).fill("Not Valid")
    main.get_by_label("Audience", exact=True).fill(f"https://api.example.com/{api}")
    main.get_by_role("button", name="Create API").click()
    expect(page.locator("#name-error")).to_be_visible()
    expect(main.get_by_label("Name", exact=True)).to_have_attribute("aria-invalid", "true")
    checker.check(page, "api-new-refused")
    main.get_by_label("Name", exact=True).fill(api)
    main.get_by_role("button", name="Create API").click()
    expect(page.get_by_role("heading", level=1, name=api)).to_be_visible()
    checker.check(page, "api-show")
    main.get_by_label("Shared", exact=True).check()
    main.get_by_role("button", name="Save changes").click()
    expect(page.get_by_role("heading", level=1, name=api)).to_be_visible()
    delete_through_dialog_then_page(page, checker, "Delete API", "api", "/console/apis")
    expect(main.get_by_role("link", name=api, exact=True)).to_have_count(0)

    # Roles: the scopes grid of a project, a role made, its page, Delete role.
    role = f"crawl-role-{pid}"
    page.goto("/console/roles")
    main.get_by_role("link", name="Create role").click()
    show_project(page, "default")
    checker.check(page, "role-new")
    main.get_by_label("Name", exact=True).fill(role)
    main.get_by_role("row").filter(has=page.get_by_role("rowheader", name="orders", exact=True)).get_by_role(
        "checkbox", name="read", exact=True
    ).check()
    main.get_by_role("button", name="Create role").click()
    expect(page.get_by_role("heading", level=1, name=role)).to_be_visible()
    checker.check(page, "role-show")
    delete_through_dialog_then_page(page, checker, "Delete role", "role", "/console/roles")

    # Projects: Create project refused, then made; its page; Delete project (a page only).
    project = f"crawl-{pid}"
    page.goto("/console/projects")
    main.get_by_role("link", name="Create project").click()
    checker.check(page, "project-new")
    main.get_by_label("Name", exact=True).fill("Not Valid")
    main.get_by_role("button", name="Create project").click()
    expect(page.locator("#name-error")).to_be_visible()
    checker.check(page, "project-new-refused")
    main.get_by_label("Name", exact=True).fill(project)
    main.get_by_label("Display name", exact=True).fill("Crawl team")
    main.get_by_role("button", name="Create project").click()
    expect(page.get_by_role("heading", level=1, name="Crawl team")).to_be_visible()
    checker.check(page, "project-show")
    main.get_by_role("link", name="Delete project").click()
    expect(page.get_by_role("heading", level=1, name=f"Delete project {project}?")).to_be_visible()
    checker.check(page, "project-delete-confirm")
    main.get_by_role("button", name="Delete project").click()
    expect(page).to_have_url(re.compile(r"/console/projects$"))

    # Keys: the Rotate keys confirmation (signed in moments ago: no re-authentication first).
    page.goto("/console/keys")
    main.get_by_role("link", name="Rotate keys").click()
    expect(page.get_by_role("heading", level=1, name="Rotate keys?")).to_be_visible()
    checker.check(page, "keys-rotate-confirm")

    # Audit log: filtered, and a bad date named.
    checker.visit(page, "/console/audit?type=api.created", "audit-filtered")
    expect(main.get_by_role("cell", name=api, exact=True).first).to_be_visible()
    checker.visit(page, "/console/audit?since=someday", "audit-refused", status=422)
    expect(page.locator("#since-error")).to_be_visible()
    checker.verify()
