//! Connection and request limits over raw TCP: slow heads and slow bodies are cut off,
//! oversized heads refused, and the server keeps serving others throughout.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{Server, Tessera, http};

fn address(s: &Server) -> String {
    s.url.trim_start_matches("http://").to_owned()
}

/// Reads what the server sends until it closes (or 10 s pass).
fn read_all(stream: &mut TcpStream) -> String {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn limited() -> (Tessera, Server) {
    let mut t = Tessera::new();
    t.set("TESSERA__SERVER__BODY_TIMEOUT_SECONDS", "1")
        .set("TESSERA__SERVER__REQUEST_TIMEOUT_SECONDS", "1");
    let s = t.serve();
    (t, s)
}

async fn admin_bearer(t: &Tessera, s: &Server) -> String {
    let (id, secret) = t.create_client("admin", "admin:read admin:write");
    s.token(&id, &secret, &[]).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn a_body_that_trickles_in_is_cut_off_with_408() {
    let (t, s) = limited();
    let bearer = admin_bearer(&t, &s).await;
    for (path, content_type, expect) in [
        (
            "/oauth2/token",
            "application/x-www-form-urlencoded",
            "invalid_request",
        ),
        ("/admin/v1/clients", "application/json", "request-timeout"),
    ] {
        let mut stream = TcpStream::connect(address(&s)).unwrap();
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {content_type}\r\n\
             Content-Length: 100\r\nAuthorization: Bearer {bearer}\r\n\r\n{{"
        );
        stream.write_all(head.as_bytes()).unwrap();
        let started = Instant::now();
        let answer = read_all(&mut stream);
        assert!(answer.starts_with("HTTP/1.1 408"), "{path}: {answer}");
        assert!(answer.contains(expect), "{answer}");
        assert!(started.elapsed() < Duration::from_secs(8), "not cut off");
    }
    // Nothing was created by the half-sent admin request.
    let list: serde_json::Value = http()
        .get(s.url("/admin/v1/clients"))
        .bearer_auth(&bearer)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["total"], 1, "{list}");
    // The server still answers everyone else.
    let resp = http().get(s.url("/healthz")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn a_request_head_that_never_ends_is_dropped() {
    let (_t, s) = limited();
    let mut stream = TcpStream::connect(address(&s)).unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    let started = Instant::now();
    let answer = read_all(&mut stream);
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
        "{answer}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "slow head kept open"
    );
    let resp = http().get(s.url("/healthz")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn oversized_heads_are_refused() {
    let (_t, s) = limited();
    let mut stream = TcpStream::connect(address(&s)).unwrap();
    let big = "a".repeat(128 * 1024);
    let request = format!("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: {big}\r\n\r\n");
    // The server may close before reading it all; a refused write is fine too.
    let _ = stream.write_all(request.as_bytes());
    let answer = read_all(&mut stream);
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 4"),
        "{}",
        &answer[..answer.len().min(200)]
    );
    assert!(!answer.starts_with("HTTP/1.1 200"));
    let resp = http().get(s.url("/healthz")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
}
