//! `allowed_ips` at the token endpoint: peers, trusted proxies, spoofed headers, IPv6.

mod common;

use common::Tessera;
use serde_json::Value;

const ORDERS: &str = "https://api.example.com/orders";

async fn token_with_xff(
    s: &common::Server,
    id: &str,
    secret: &str,
    xff: Option<&str>,
) -> (u16, Value) {
    let mut req = common::http()
        .post(s.url("/oauth2/token"))
        .basic_auth(id, Some(secret))
        .form(&[("grant_type", "client_credentials")]);
    if let Some(v) = xff {
        req = req.header("X-Forwarded-For", v);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

fn restricted_client(t: &Tessera, ranges: &str) -> (String, String) {
    let (id, secret) = t.create_client("restricted", "orders:read");
    let out = t.cli(&["clients", "update", &id, "--allowed-ips", ranges]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (id, secret)
}

#[tokio::test]
async fn a_client_outside_its_ranges_is_refused_even_with_a_spoofed_header() {
    let t = Tessera::new();
    t.create_api("orders", ORDERS, "read");
    let (id, secret) = restricted_client(&t, "10.0.0.0/8 192.0.2.7");
    let (open_id, open_secret) = t.create_client("open", "orders:read");
    let s = t.serve();

    let (status, body) = token_with_xff(&s, &id, &secret, None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("unauthorized_client"))
    );
    // 127.0.0.1 is no trusted proxy: X-Forwarded-For is not believed.
    let (status, body) = token_with_xff(&s, &id, &secret, Some("10.1.2.3")).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("unauthorized_client"))
    );
    // A wrong secret says nothing about the ranges.
    let (status, body) = token_with_xff(&s, &id, "tsk_wrong", None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    // Unrestricted clients are unaffected.
    let (status, _) = token_with_xff(&s, &open_id, &open_secret, None).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_rightmost_untrusted_hop_counts() {
    let mut t = Tessera::new();
    t.set(
        "TESSERA__SERVER__TRUSTED_PROXIES",
        "127.0.0.0/8,172.16.0.0/12",
    );
    t.create_api("orders", ORDERS, "read");
    let (id, secret) = restricted_client(&t, "10.0.0.0/8");
    let s = t.serve();
    let cases = [
        (None, 400),
        (Some("10.1.2.3"), 200),
        (Some("203.0.113.1"), 400),
        // The client prepends a forged allowed address; the proxy appends the real one.
        (Some("10.1.2.3, 203.0.113.1"), 400),
        // Hops through our own proxies are skipped.
        (Some("10.9.9.9, 172.16.0.5"), 200),
        (Some("not-an-address"), 400),
    ];
    for (xff, want) in cases {
        let (status, body) = token_with_xff(&s, &id, &secret, xff).await;
        assert_eq!(status, want, "X-Forwarded-For {xff:?}: {body}");
        if want == 400 {
            assert_eq!(body["error"], "unauthorized_client");
        }
    }
    // A refusal is audited (as a per-minute counter, flushed at shutdown).
    let pid = s.child.id().to_string();
    let mut s = s;
    std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    s.child.wait().unwrap();
    let text = String::from_utf8_lossy(&t.database_bytes()).into_owned();
    assert!(text.contains("token.source_refused"), "no audit event");
}

#[tokio::test]
async fn ipv6_ranges_on_an_ipv6_listener() {
    let mut t = Tessera::new();
    t.set("TESSERA__SERVER__BIND", "[::1]:0");
    t.create_api("orders", ORDERS, "read");
    let (ok_id, ok_secret) = restricted_client(&t, "::1/128");
    let (no_id, no_secret) = restricted_client(&t, "fe80::/10 10.0.0.0/8");
    let s = t.serve();
    assert!(s.url.starts_with("http://[::1]:"), "{}", s.url);
    let (status, body) = token_with_xff(&s, &ok_id, &ok_secret, None).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = token_with_xff(&s, &no_id, &no_secret, None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("unauthorized_client"))
    );
}

#[test]
fn bad_ranges_are_refused_and_change_nothing() {
    let t = Tessera::new();
    t.create_api("orders", ORDERS, "read");
    let (id, _) = t.create_client("c", "orders:read");
    for bad in ["10.0.0.0/33", "1.2.3", "fe80::/129", "example.com"] {
        let out = t.cli(&["clients", "update", &id, "--allowed-ips", bad]);
        assert_eq!(out.status.code(), Some(2), "{bad}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("allowed_ips"));
    }
    let client = t.cli_json(&["clients", "get", &id]);
    assert_eq!(client["allowed_ips"], serde_json::json!([]));
}
