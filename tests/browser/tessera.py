"""What the browser tests share: the real `tessera` binary (CLI and server), TOTP codes, and
the console's sign-in steps driven through its accessible names (SPEC §8: they are part of the
contract, so the tests find every field by its label and every button by its name)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import os
import queue
import re
import socket
import struct
import subprocess
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from playwright.sync_api import Page, expect

PASSWORD = "correct horse battery staple"


def binary() -> Path:
    """The binary under test: TESSERA_BIN (run.sh sets it), else the workspace's debug build."""
    here = Path(__file__).resolve().parent
    path = Path(os.environ.get("TESSERA_BIN", here.parent.parent / "target/debug/tessera"))
    if not path.is_file():
        raise RuntimeError(f"no tessera binary at {path}: build it, or set TESSERA_BIN")
    return path.resolve()


# ---------------------------------------------------------------------------------------------
# TOTP (RFC 6238: HMAC-SHA-1, 6 digits, 30 s steps), independent of the server's totp-rs.


def totp(secret_base32: str, offset_steps: int = 0, at: float | None = None, digits: int = 6) -> str:
    """The code for `at` (default: now) plus `offset_steps` steps of 30 s."""
    secret = re.sub(r"\s", "", secret_base32).upper()
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    counter = int((time.time() if at is None else at) // 30) + offset_steps
    mac = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    start = mac[-1] & 0x0F
    value = struct.unpack(">I", mac[start : start + 4])[0] & 0x7FFFFFFF
    return f"{value % 10**digits:0{digits}d}"


# ---------------------------------------------------------------------------------------------
# The binary: an installation (temp SQLite database + keys dir), its CLI, its server.


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Installation:
    """One Tessera installation in `root`: SQLite database and keys dir, like tests/common."""

    def __init__(self, root: Path, bind: str = "127.0.0.1:0", issuer: str | None = None):
        self.root = root
        self.bin = binary()
        env = {k: v for k, v in os.environ.items() if not k.startswith("TESSERA__") and k != "RUST_LOG"}
        env.update(
            {
                "TESSERA__SERVER__BIND": bind,
                "TESSERA__DATABASE__URL": f"sqlite://{root}/tessera.db?mode=rwc",
                "TESSERA__KEYS__DIR": str(root / "keys"),
            }
        )
        if issuer:
            env["TESSERA__ISSUER"] = issuer
        self.env = env

    def cli(self, *args: str) -> dict | list:
        """Runs `tessera ARGS… --json`, asserts success, returns the parsed stdout."""
        out = subprocess.run(
            [str(self.bin), *args, "--json"],
            cwd=self.root,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert out.returncode == 0, f"tessera {' '.join(args)} failed ({out.returncode}): {out.stderr}"
        return json.loads(out.stdout)

    def serve(self) -> "Server":
        return Server(self)


class Server:
    """`tessera serve`, its URL read from the line it prints ("tessera listening on URL")."""

    def __init__(self, inst: Installation):
        self.log_path = inst.root / f"serve-{time.monotonic_ns()}.log"
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [str(inst.bin), "serve"],
            cwd=inst.root,
            env=inst.env,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
        )
        found: queue.Queue[str] = queue.Queue()

        def read() -> None:
            # Drained to the end, so the server never blocks on a full pipe.
            for line in self.proc.stdout:
                if line.startswith("tessera listening on "):
                    found.put(line.strip().removeprefix("tessera listening on "))

        threading.Thread(target=read, daemon=True).start()
        try:
            self.url = found.get(timeout=60)
        except queue.Empty:
            self.stop()
            raise RuntimeError(f"tessera serve did not start:\n{self.log()}") from None
        self.port = int(self.url.rsplit(":", 1)[1].split("/")[0])

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


def leaks(text: str) -> list[str]:
    """Secrets (`tsk_` + 20 URL-safe characters), JWTs and argon2 hashes in `text` (the same
    rule as tests/common/mod.rs): the server's log must hold none, whatever the browser did."""
    found = [f"secret at {m.start()}" for m in re.finditer(r"tsk_[A-Za-z0-9_-]{20,}", text)]
    found += [f"JWT at {m.start()}" for m in re.finditer(r"eyJ[A-Za-z0-9_-]*\.eyJ", text)]
    found += [f"argon2 hash at {m.start()}" for m in re.finditer(r"\$argon2", text)]
    return found


# ---------------------------------------------------------------------------------------------
# People.

_numbers = itertools.count(1)


@dataclass
class Admin:
    email: str
    token: str  # of the one-time enrollment URL
    secret: str = ""  # the TOTP secret, once enrolled
    password: str = PASSWORD


def new_admin(inst: Installation, *args: str, name: str = "Ada Lovelace") -> Admin:
    """An administrator made by the real CLI (`tessera admins create … --json`); `args` add
    e.g. `--superadmin` or `--project P --role R`. The enrollment URL's token is kept: the CLI
    cannot know a port-0 server's address, so the tests join the token to the server's URL."""
    email = f"person{next(_numbers)}-{os.getpid()}@example.com"
    v = inst.cli("admins", "create", "--email", email, "--display-name", name, *args)
    url = v["enrollment_url"]
    assert "/console/enroll/" in url, url
    return Admin(email=email, token=url.rsplit("/", 1)[1])


# ---------------------------------------------------------------------------------------------
# The console's steps, by accessible names. `page` has the server as its base_url.


def enroll(page: Page, admin: Admin) -> None:
    """Enrollment through the real page: password, key read from the page, code computed here."""
    page.goto(f"/console/enroll/{admin.token}")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Welcome")
    admin.secret = page.get_by_label("Key", exact=True).input_value()
    assert re.fullmatch(r"[A-Z2-7 ]{16,}=*", admin.secret), admin.secret
    page.get_by_label("Password", exact=True).fill(admin.password)
    page.get_by_label("Authentication code", exact=True).fill(totp(admin.secret))
    page.get_by_role("button", name="Finish enrollment").click()
    expect(page).to_have_url(re.compile(r"/console/sign-in\?enrolled=1$"))


def sign_in_password(page: Page, admin: Admin) -> None:
    """The first step: Email and Password, then Sign in; lands on the second step."""
    page.goto("/console/sign-in")
    page.get_by_label("Email", exact=True).fill(admin.email)
    page.get_by_label("Password", exact=True).fill(admin.password)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page).to_have_url(re.compile(r"/console/sign-in/verify$"))


def verify_totp(page: Page, admin: Admin) -> None:
    """The second step with a TOTP code. Enrollment spent the current step's code (a code is
    accepted once, and no earlier one after it), so this uses the next step's (±1 step)."""
    page.get_by_label("Authentication code", exact=True).fill(totp(admin.secret, offset_steps=1))
    page.get_by_role("button", name="Verify", exact=True).click()
    expect(page).to_have_url(re.compile(r"/console/clients$"))


def sign_in(page: Page, admin: Admin) -> None:
    sign_in_password(page, admin)
    verify_totp(page, admin)


def signed_in_admin(page: Page, inst: Installation, *args: str) -> Admin:
    """A new administrator (`--superadmin` unless `args` say otherwise), enrolled through the
    page and signed in with TOTP."""
    admin = new_admin(inst, *(args or ("--superadmin",)))
    enroll(page, admin)
    sign_in(page, admin)
    return admin


# ---------------------------------------------------------------------------------------------
# OAuth over plain HTTP (not the browser).


def token(base: str, client_id: str, client_secret: str) -> tuple[int, dict]:
    """`POST /oauth2/token` (client_credentials, HTTP Basic); returns status and JSON body."""
    basic = base64.b64encode(f"{client_id}:{client_secret}".encode()).decode()
    req = urllib.request.Request(
        f"{base}/oauth2/token",
        data=b"grant_type=client_credentials",
        headers={"Authorization": f"Basic {basic}", "Content-Type": "application/x-www-form-urlencoded"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as res:
            return res.status, json.loads(res.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def jwt_parts(jwt: str) -> tuple[dict, dict]:
    """A JWT's header and claims, unverified."""

    def part(p: str) -> dict:
        return json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))

    header, claims, _ = jwt.split(".")
    return part(header), part(claims)


def show_project(page: Page, project: str) -> None:
    """On Create client, before filling it: the permissions grid is drawn for one project
    (`?project=`), chosen with the "Show those of" links, which work without script too (with
    it, the Project select redraws the grid in place)."""
    form = page.get_by_role("main")
    if form.get_by_label("Project", exact=True).input_value() != project:
        form.get_by_role("link", name=project, exact=True).click()
    expect(form.get_by_label("Project", exact=True)).to_have_value(project)
