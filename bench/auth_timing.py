"""Load loop of bench/auth_timing.sh: failed client authentications, one at a time.

Standard library only. Each request is POST /oauth2/token with HTTP Basic and
grant_type=client_credentials over one keep-alive connection; the time measured is from
sending the request to having read the whole answer. Every wrong secret is freshly random
(made before the clock starts), so nothing can be answered from a cache of earlier failures.
"""

import argparse
import base64
import http.client
import math
import secrets
import socket
import statistics
import sys
import time
import urllib.parse
from collections import Counter

URL_SAFE = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
SECRET_ID_LEN = 16
SECRET_RANDOM_LEN = 43


def rand(n: int) -> str:
    return "".join(secrets.choice(URL_SAFE) for _ in range(n))


def rand_id(n: int) -> str:
    """Like the server's ids: URL-safe, starting with a letter or digit."""
    return secrets.choice(URL_SAFE[:62]) + rand(n - 1)


class Conn:
    def __init__(self, url: str):
        u = urllib.parse.urlsplit(url)
        self.host, self.port = u.hostname, u.port
        self.conn = None

    def post(self, headers: dict, body: bytes) -> tuple[int, float]:
        """One request; (status, seconds). Reconnects once if the connection was closed."""
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
                self.conn.connect()
                self.conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            try:
                start = time.perf_counter()
                self.conn.request("POST", "/oauth2/token", body=body, headers=headers)
                resp = self.conn.getresponse()
                resp.read()
                elapsed = time.perf_counter() - start
                if resp.getheader("Connection", "").lower() == "close":
                    self.conn.close()
                    self.conn = None
                return resp.status, elapsed
            except (http.client.HTTPException, ConnectionError, OSError):
                self.conn.close()
                self.conn = None
                if attempt:
                    raise
        raise AssertionError("unreachable")


def basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def p90(xs: list[float]) -> float:
    s = sorted(xs)
    return s[max(0, math.ceil(0.9 * len(s)) - 1)]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--one-id", required=True)
    ap.add_argument("--one-secret-ids", default="")
    ap.add_argument("--ten-id", required=True)
    ap.add_argument("--ten-secret-ids", required=True)
    a = ap.parse_args()

    ten_sids = [s for s in a.ten_secret_ids.split(",") if s]
    one_sids = {s for s in a.one_secret_ids.split(",") if s}
    print(f"one-secret client: {len(one_sids)} secret(s); ten-secret client: {len(ten_sids)} secrets")
    if len(ten_sids) != 10:
        print(f"warning: the ten-secret client holds {len(ten_sids)} secrets, not 10")
    if any(len(s) != SECRET_ID_LEN for s in ten_sids):
        print(f"warning: secret_ids are not {SECRET_ID_LEN} characters: {ten_sids}")

    unknown_id = rand_id(22)
    turn = {"i": 0}

    def real_sid_secret() -> str:
        sid = ten_sids[turn["i"] % len(ten_sids)]
        turn["i"] += 1
        return "tsk_" + sid + rand(SECRET_RANDOM_LEN)

    def one_secret() -> str:
        """Its real secret_id + 43 random characters (random id if none is known)."""
        sid = next(iter(one_sids), None) or rand_id(SECRET_ID_LEN)
        return "tsk_" + sid + rand(SECRET_RANDOM_LEN)

    def random_sid_secret() -> str:
        while True:
            sid = rand_id(SECRET_ID_LEN)
            if sid not in ten_sids and sid not in one_sids:
                return "tsk_" + sid + rand(SECRET_RANDOM_LEN)

    cases = [
        ("unknown-id", lambda: (unknown_id, random_sid_secret())),
        ("1-secret", lambda: (a.one_id, one_secret())),
        ("10-secrets/real-sid", lambda: (a.ten_id, real_sid_secret())),
        ("10-secrets/rand-sid", lambda: (a.ten_id, random_sid_secret())),
    ]
    times = {name: [] for name, _ in cases}
    statuses = {name: Counter() for name, _ in cases}
    conn = Conn(a.url)
    body = b"grant_type=client_credentials"
    base_headers = {"Content-Type": "application/x-www-form-urlencoded"}

    started = time.monotonic()
    for rnd in range(a.warmup + a.n):
        for k in range(len(cases)):
            name, make = cases[(rnd + k) % len(cases)]
            cid, secret = make()
            headers = dict(base_headers, Authorization=basic(cid, secret))
            status, elapsed = conn.post(headers, body)
            if rnd >= a.warmup:
                times[name].append(elapsed)
                statuses[name][status] += 1
    took = time.monotonic() - started

    print(f"{a.n} failed authentications a case, sequential, round-robin; {took:.1f} s in all")
    base = statistics.median(times["unknown-id"])
    medians = {}
    print(f"{'case':<22}{'median ms':>11}{'p90 ms':>10}{'median/unknown-id':>19}  answers")
    for name, _ in cases:
        med = statistics.median(times[name])
        medians[name] = med
        answers = " ".join(f"{s}×{c}" for s, c in sorted(statuses[name].items()))
        print(f"{name:<22}{med * 1e3:>11.2f}{p90(times[name]) * 1e3:>10.2f}{med / base:>19.3f}  {answers}")
    odd = {n: c for n, c in statuses.items() if set(c) != {401}}
    if odd:
        print(f"warning: answers other than 401: {odd}")
    spread = max(medians.values()) / min(medians.values())
    verdict = "yes" if spread <= 1.10 else "NO"
    print(f"all medians within 10 % of each other: {verdict} (max/min = {spread:.3f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
