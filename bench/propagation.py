#!/usr/bin/env python3
"""Cross-replica propagation delay: make a change through replica A, poll replica B until it
shows it; N changes, half revocations and half disables, p50/p99 printed.

  bench/propagation.py A_URL B_URL ADMIN_ID:SECRET WORKER_ID:SECRET GATEWAY_ID:SECRET [N]

B is polled by introspection (the gateway's credential is cached, so a poll costs no argon2):
a revoked token, or a token of a disabled client, turns inactive when B applied the change.
"""
import base64
import http.client
import json
import random
import statistics
import sys
import time
import urllib.parse


class Replica:
    def __init__(self, url):
        u = urllib.parse.urlparse(url)
        self.conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)

    def call(self, method, path, body=None, headers=None):
        self.conn.request(method, path, body=body, headers=headers or {})
        resp = self.conn.getresponse()
        return resp.status, resp.read()


def basic(cred):
    return "Basic " + base64.b64encode(cred.encode()).decode()


def form(**kw):
    return urllib.parse.urlencode(kw), {"Content-Type": "application/x-www-form-urlencoded"}


def token(rep, cred):
    body, h = form(grant_type="client_credentials")
    h["Authorization"] = basic(cred)
    status, out = rep.call("POST", "/oauth2/token", body, h)
    assert status == 200, out
    return json.loads(out)["access_token"]


def active(rep, gateway, tok):
    body, h = form(token=tok)
    h["Authorization"] = basic(gateway)
    status, out = rep.call("POST", "/oauth2/introspect", body, h)
    assert status == 200, out
    return json.loads(out)["active"]


def main():
    a_url, b_url, admin, worker, gateway = sys.argv[1:6]
    n = int(sys.argv[6]) if len(sys.argv) > 6 else 100
    a, b = Replica(a_url), Replica(b_url)
    bearer = token(a, admin)
    worker_id = worker.split(":", 1)[0]
    delays = {"revocation": [], "disable": []}
    for i in range(n):
        kind = "revocation" if i % 2 == 0 else "disable"
        tok = token(a, worker)
        deadline = time.monotonic() + 5
        while not active(b, gateway, tok):  # B may still have the worker disabled
            assert time.monotonic() < deadline, "token never active on B"
        # A random pause, so changes do not fall in step with B's poll ticks.
        time.sleep(random.random() * 0.25)
        if kind == "revocation":
            body, h = form(token=tok)
            h["Authorization"] = basic(worker)
            status, out = a.call("POST", "/oauth2/revoke", body, h)
        else:
            h = {"Authorization": "Bearer " + bearer, "Content-Type": "application/merge-patch+json"}
            status, out = a.call("PATCH", f"/admin/v1/clients/{worker_id}", b'{"enabled": false}', h)
        assert status in (200, 204), out
        t0 = time.monotonic()
        while active(b, gateway, tok):
            assert time.monotonic() - t0 < 5, f"{kind} not seen by B within 5 s"
        delays[kind].append((time.monotonic() - t0) * 1000)
        if kind == "disable":
            h = {"Authorization": "Bearer " + bearer, "Content-Type": "application/merge-patch+json"}
            status, out = a.call("PATCH", f"/admin/v1/clients/{worker_id}", b'{"enabled": true}', h)
            assert status == 200, out
    every = delays["revocation"] + delays["disable"]
    for name, d in list(delays.items()) + [("all", every)]:
        d = sorted(d)
        p99 = d[min(len(d) - 1, int(round(0.99 * (len(d) - 1))))]
        print(f"propagation {name:<10} n={len(d):<3} p50={statistics.median(d):6.1f} ms  "
              f"p99={p99:6.1f} ms  max={d[-1]:6.1f} ms")


if __name__ == "__main__":
    main()
