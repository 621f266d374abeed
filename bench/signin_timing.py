#!/usr/bin/env python3
"""Console sign-in timing (SPEC §7 "Sessions": one message for an unknown email, a wrong
password and a wrong code; README "Web console"): a failed password step must take as long
for an unknown email as for a known one (the unknown one is verified against a decoy hash),
so response times do not tell an attacker who has an account.

Enrolls one administrator through the real enrollment page (TOTP computed here, RFC 6238,
standard library only), then sends N failed sign-ins per case, sequentially, interleaved
round-robin, each a fresh GET of the form (for its CSRF cookie) and a POST:
  unknown-email      an address no administrator has
  known-email        the enrolled administrator, wrong password
  known-unenrolled   an administrator who never set a password
and prints each case's median and p90 of the POST, and max/min of the medians.

Usage: bench/signin_timing.py BIN      Env: N=150 WARMUP=5
The brute-force limits are raised so no 429 happens during the run (the limiter stays on the
measured path); any other answer than the sign-in page with its error is counted.
"""
import base64, hashlib, hmac, http.cookiejar, json, os, re, statistics, struct, subprocess
import sys, tempfile, time, urllib.parse, urllib.request

BIN = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "target/release/tessera")
N = int(os.environ.get("N", "150"))
WARMUP = int(os.environ.get("WARMUP", "5"))
work = tempfile.mkdtemp()
env = dict(os.environ,
           TESSERA__SERVER__BIND="127.0.0.1:0",
           TESSERA__DATABASE__URL=f"sqlite://{work}/tessera.db?mode=rwc",
           TESSERA__KEYS__DIR=f"{work}/keys",
           TESSERA__LIMITS__FAILED_AUTH_PER_CLIENT="1000000",
           TESSERA__LIMITS__FAILED_AUTH_PER_SOURCE="1000000",
           RUST_LOG="warn")
env.pop("TESSERA__ISSUER", None)

def cli(*args):
    return json.loads(subprocess.run([BIN, *args, "--json"], env=env, check=True,
                                     capture_output=True).stdout)

def totp(secret_b32, t=None):
    key = base64.b32decode(secret_b32 + "=" * (-len(secret_b32) % 8))
    step = int((t or time.time()) // 30)
    mac = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
    o = mac[-1] & 0xF
    return "%06d" % ((struct.unpack(">I", mac[o:o + 4])[0] & 0x7FFFFFFF) % 1_000_000)

known = cli("admins", "create", "--email", "known@example.com")
cli("admins", "create", "--email", "unenrolled@example.com")
server = subprocess.Popen([BIN, "serve"], env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.DEVNULL, text=True)
try:
    line = server.stdout.readline()
    base = re.search(r"listening on (\S+)", line).group(1)

    def session():
        jar = http.cookiejar.CookieJar()
        return urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar),
                                           NoRedirect())

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *a, **k):
            return None

    def post(opener, path, form):
        data = urllib.parse.urlencode(form).encode()
        req = urllib.request.Request(base + path, data=data, headers={"Origin": base})
        try:
            r = opener.open(req)
            return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    # Enroll the known administrator through the page, as a person would.
    token = known["enrollment_url"].rsplit("/", 1)[1]
    op = session()
    page = op.open(f"{base}/console/enroll/{token}").read().decode()
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    secret = re.search(r'id="totp-key" type="text" readonly value="([^"]+)"', page).group(1)
    status, _ = post(op, f"/console/enroll/{token}",
                     {"csrf": csrf, "password": "correct horse battery staple 42",
                      "code": totp(secret)})
    assert status in (200, 303), f"enrollment answered {status}"

    cases = {"unknown-email": "nobody-%d@example.com", "known-email": "known@example.com",
             "known-unenrolled": "unenrolled@example.com"}
    times = {c: [] for c in cases}
    odd = {c: 0 for c in cases}
    names = list(cases)
    for i in range(WARMUP + N):
        for j in range(len(names)):
            c = names[(i + j) % len(names)]
            email = cases[c] % i if "%d" in cases[c] else cases[c]
            op = session()
            form = op.open(f"{base}/console/sign-in").read().decode()
            csrf = re.search(r'name="csrf" value="([^"]+)"', form).group(1)
            t0 = time.perf_counter()
            status, body = post(op, "/console/sign-in",
                                {"csrf": csrf, "email": email, "password": "wrong password 123"})
            dt = (time.perf_counter() - t0) * 1000
            if status != 401:
                odd[c] += 1
            if i >= WARMUP:
                times[c].append(dt)
    med = {c: statistics.median(v) for c, v in times.items()}
    for c, v in times.items():
        v.sort()
        print(f"{c:18} n={len(v)} median={med[c]:.2f} ms p90={v[int(len(v) * 0.9)]:.2f} ms "
              f"ratio={med[c] / med['unknown-email']:.3f} other-than-401={odd[c]}")
    print(f"max/min of medians: {max(med.values()) / min(med.values()):.3f}")
finally:
    server.terminate()
    server.wait()
