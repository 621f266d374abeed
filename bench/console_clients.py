#!/usr/bin/env python3
"""The console's Clients table at scale: median server time of GET /console/clients for each
sort, a search, a status filter and the last page, with N clients in the database (default
100 000), as a signed-in superadmin (every project: the largest result sets) and as the
administrator of one project holding a tenth of them.

Usage: python3 bench/console_clients.py [BINARY] [N]   (BINARY: target/release/tessera)
Needs sqlite3. Clients are bulk-inserted with sqlite3 (the CLI would hash a secret for each);
names, creation times, last use and state vary so every sort has work to do.
"""
import base64, hashlib, hmac, http.cookiejar, json, os, re, statistics, struct, subprocess
import sys, tempfile, time, urllib.parse, urllib.request

BIN = sys.argv[1] if len(sys.argv) > 1 else "target/release/tessera"
N = int(sys.argv[2]) if len(sys.argv) > 2 else 100_000
PASSWORD = "correct horse battery staple"


def totp(secret_b32, at):
    key = base64.b32decode(secret_b32 + "=" * (-len(secret_b32) % 8))
    mac = hmac.new(key, struct.pack(">Q", int(at) // 30), hashlib.sha1).digest()
    o = mac[-1] & 15
    return "%06d" % ((struct.unpack(">I", mac[o:o + 4])[0] & 0x7FFFFFFF) % 1_000_000)


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *a, **k):
        return None


class Browser:
    def __init__(self, base):
        self.base = base
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), NoRedirect)

    def get(self, path):
        try:
            r = self.opener.open(self.base + path)
            return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def post(self, path, form):
        req = urllib.request.Request(self.base + path, urllib.parse.urlencode(form).encode(),
                                     headers={"Sec-Fetch-Site": "same-origin"})
        try:
            r = self.opener.open(req)
            return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()


def field(html, marker):
    return html.split(marker, 1)[1].split('"', 1)[0]


def run(env, *args):
    out = subprocess.run([BIN, *args], env=env, check=True, capture_output=True, text=True)
    return json.loads(out.stdout) if "--json" in args else out.stdout


def signed_in(base, enrollment_url, email, step):
    b = Browser(base)
    path = urllib.parse.urlparse(enrollment_url).path
    _, html = b.get(path)
    secret = field(html, 'id="totp-key" type="text" readonly value="')
    status, _ = b.post(path, {"csrf": field(html, 'name="csrf" value="'), "password": PASSWORD,
                              "code": totp(secret, time.time())})
    assert status == 303, status
    _, html = b.get("/console/sign-in")
    status, _ = b.post("/console/sign-in", {"csrf": field(html, 'name="csrf" value="'),
                                            "email": email, "password": PASSWORD})
    assert status == 303, status
    _, html = b.get("/console/sign-in/verify")
    status, _ = b.post("/console/sign-in/verify", {"csrf": field(html, 'name="csrf" value="'),
                                                   "code": totp(secret, time.time() + 30 * step)})
    assert status == 303, status
    return b


def median_ms(b, path, rounds=7):
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        status, html = b.get(path)
        times.append((time.perf_counter() - t) * 1000)
        assert status == 200, (path, status)
    m = re.search(r'id="count" class="count" role="status">([^<]*)<', html)
    return statistics.median(times), (m.group(1) if m else "?")


def main():
    work = tempfile.mkdtemp()
    db = os.path.join(work, "tessera.db")
    env = dict(os.environ, TESSERA__DATABASE__URL=f"sqlite://{db}?mode=rwc",
               TESSERA__KEYS__DIR=os.path.join(work, "keys"), RUST_LOG="warn",
               TESSERA__SERVER__BIND="127.0.0.1:0")
    run(env, "projects", "create", "teama", "--json")
    seed = run(env, "clients", "create", "--name", "seed", "--json")
    hash_ = subprocess.run(["sqlite3", db, "select secret_hash from client_secrets where client_id = '%s'"
                            % seed["client_id"]], check=True, capture_output=True, text=True).stdout.strip()
    t0 = time.time()
    subprocess.run(["sqlite3", db], check=True, text=True, input=f"""
PRAGMA journal_mode=WAL;
BEGIN;
WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < {N})
INSERT INTO clients (client_id, name, description, enabled, allowed_ips, token_ttl_seconds, owner,
  created_at, updated_at, last_used_at, tokens_valid_after, project, owner_administrator)
SELECT printf('c%07d', n), printf('service-%05d-%s', (n * 7919) % 100000, substr('abcdefghij', n % 10 + 1, 1)),
  '', n % 13 != 0, '[]', NULL, NULL,
  strftime('%Y-%m-%dT%H:%M:%f+00:00', '2026-01-01', printf('+%d seconds', n * 60)),
  strftime('%Y-%m-%dT%H:%M:%f+00:00', '2026-01-01', printf('+%d seconds', n * 60)),
  CASE WHEN n % 3 = 0 THEN NULL ELSE strftime('%Y-%m-%dT%H:%M:%f+00:00', '2026-06-01', printf('+%d seconds', (n * 104729) % 10000000)) END,
  NULL, CASE WHEN n % 10 = 0 THEN 'teama' ELSE 'default' END, NULL
FROM seq;
INSERT INTO client_secrets (secret_id, client_id, secret_hash, masked, created_at, expires_at, last_used_at, id_in_secret)
  SELECT 's' || client_id, client_id, '{hash_}', 'tsk_…xxxx', created_at, NULL, NULL, 0 FROM clients WHERE name LIKE 'service-%';
COMMIT;
""")
    print(f"seeded {N} clients in {time.time() - t0:.1f} s ({N // 10} in project teama)")
    root = run(env, "admins", "create", "--email", "root@example.com", "--superadmin", "--json")
    owner = run(env, "admins", "create", "--email", "owner@example.com", "--project", "teama",
                "--role", "owner", "--json")
    out = open(os.path.join(work, "out"), "w")
    server = subprocess.Popen([BIN, "serve"], env=env, stdout=out, stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            text = open(os.path.join(work, "out")).read()
            if "listening on" in text:
                break
            time.sleep(0.1)
        base = re.search(r"listening on (\S+)", text).group(1)
        people = [("superadmin, all projects", signed_in(base, root["enrollment_url"], "root@example.com", 1)),
                  ("owner of teama", signed_in(base, owner["enrollment_url"], "owner@example.com", 1))]
        cases = [
            ("name, first page", "/console/clients?sort=name&order=asc"),
            ("name desc", "/console/clients?sort=name&order=desc"),
            ("client ID", "/console/clients?sort=client_id&order=asc"),
            ("created desc", "/console/clients?sort=created&order=desc"),
            ("last redeemed desc", "/console/clients?sort=last_used&order=desc"),
            ("status", "/console/clients?sort=status&order=asc"),
            ("disabled only", "/console/clients?status=disabled&sort=name&order=asc"),
            ("search 'service-0420'", "/console/clients?q=service-0420&sort=name&order=asc"),
            ("search, no match", "/console/clients?q=zzzz&sort=name&order=asc"),
            ("page 1000 by name", "/console/clients?sort=name&order=asc&page=1000"),
        ]
        print(f"{'who':26} {'case':24} {'median ms':>10}  shown")
        for who, b in people:
            for label, path in cases:
                ms, count = median_ms(b, path)
                print(f"{who:26} {label:24} {ms:10.1f}  {count}")
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
