"""Enrollment, TOTP sign-in, sign-out and passkeys, in a real Chromium."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tessera import enroll, new_admin, sign_in_password, totp, verify_totp


def test_totp_helper_matches_rfc_6238():
    # RFC 6238 appendix B, SHA-1 secret "12345678901234567890": 94287082 at T=59 (8 digits).
    secret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
    assert totp(secret, at=59, digits=8) == "94287082"
    assert totp(secret, at=1111111109, digits=8) == "07081804"
    assert totp(secret, at=59) == "287082"


def test_enroll_sign_in_with_totp_and_sign_out_ends_the_session(page, installation, new_context):
    admin = new_admin(installation, "--superadmin")
    # Before anything: the console sends a stranger to sign-in.
    page.goto("/console/clients")
    expect(page).to_have_url(re.compile(r"/console/sign-in$"))

    enroll(page, admin)
    expect(page.get_by_role("status")).to_be_visible()  # the "enrolled" notice
    # The link is spent: opening it again does not offer enrollment.
    res = page.goto(f"/console/enroll/{admin.token}")
    assert res.status == 404, res.status
    expect(page.get_by_label("Key", exact=True)).to_have_count(0)

    # A wrong code is refused with the page's alert, and nothing is signed in.
    sign_in_password(page, admin)
    page.get_by_label("Authentication code", exact=True).fill("000000" if totp(admin.secret, 1) != "000000" else "111111")
    page.get_by_role("button", name="Verify", exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text("Incorrect")
    page.goto("/console/clients")
    expect(page).to_have_url(re.compile(r"/console/sign-in"))

    sign_in_password(page, admin)
    verify_totp(page, admin)
    expect(page.get_by_role("heading", level=1, name="Clients")).to_be_visible()
    expect(page.get_by_role("navigation", name="Console")).to_be_visible()
    expect(page.locator("#signed-in-as")).to_have_text("Ada Lovelace")
    cookies = page.context.cookies()
    assert any(c["name"] == "tessera_session" and c["httpOnly"] for c in cookies), cookies

    page.get_by_role("button", name="Sign out", exact=True).click()
    expect(page).to_have_url(re.compile(r"/console/sign-in"))
    # Back: the page is not served from a cache (no-store) and the session is gone.
    page.go_back()
    expect(page).to_have_url(re.compile(r"/console/sign-in"))
    expect(page.get_by_role("navigation", name="Console")).to_have_count(0)
    page.goto("/console/clients")
    expect(page).to_have_url(re.compile(r"/console/sign-in$"))
    # The old cookie, replayed in a fresh browser, opens nothing either.
    replay = new_context().new_page()
    replay.context.add_cookies(cookies)
    replay.goto("/console/clients")
    expect(replay).to_have_url(re.compile(r"/console/sign-in$"))
    expect(replay.get_by_role("heading", level=1, name="Sign in")).to_be_visible()


def test_a_passkey_added_on_the_account_page_signs_in(localhost_server, new_context, checker):
    """Chromium's virtual authenticator (DevTools WebAuthn domain) stands for a platform
    authenticator with user verification: added on Account, then used after the password."""
    s = localhost_server
    page = new_context(base_url=s.base).new_page()
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable", {"enableUI": False})
    authenticator = cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )["authenticatorId"]

    admin = new_admin(s.installation, "--superadmin")
    enroll(page, admin)
    sign_in_password(page, admin)
    verify_totp(page, admin)

    page.get_by_role("link", name="Account").click()
    expect(page.get_by_role("heading", level=1, name="Account")).to_be_visible()
    checker.check(page, "account")
    page.get_by_label("Passkey name").fill("Laptop")
    page.get_by_role("button", name="Add a passkey").click()
    expect(page.get_by_role("status")).to_have_text("Passkey added.")
    creds = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})["credentials"]
    assert len(creds) == 1 and creds[0]["rpId"] == "localhost", creds
    checker.check(page, "account-passkey-added")

    page.get_by_role("button", name="Sign out", exact=True).click()
    expect(page).to_have_url(re.compile(r"/console/sign-in"))
    sign_in_password(page, admin)
    use_passkey = page.get_by_role("button", name="Use a passkey")
    expect(use_passkey).to_be_visible()
    checker.check(page, "verify-with-passkey")
    use_passkey.click()
    expect(page).to_have_url(re.compile(r"/console/clients$"))
    expect(page.get_by_role("navigation", name="Console")).to_be_visible()
    creds = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})["credentials"]
    assert creds[0]["signCount"] >= 1, creds
    checker.verify()
