//! Static stability: with PostgreSQL stopped under load, clients the server has verified keep
//! getting tokens, others get 503 with Retry-After, admin writes a 503 problem, `/readyz` says
//! `degraded`; when it returns everything recovers by itself and buffered usage is written.
//!
//! Runs with the PostgreSQL pass of the suite (`TESSERA_TEST_POSTGRES_URL` set), on a private
//! PostgreSQL server that this test starts and stops through `.ci/postgres.sh`, so the shared
//! test server is never touched.

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{Server, Tessera, http, postgres_url};
use serde_json::{Value, json};

/// A PostgreSQL server of this test's own, in a temp dir, on a fixed port once chosen.
struct PrivatePostgres {
    dir: tempfile::TempDir,
    port: String,
    url: String,
}

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".ci/postgres.sh")
}

impl PrivatePostgres {
    fn start() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let out = Command::new("bash")
            .arg(script())
            .args(["start", &dir.path().display().to_string()])
            .output()
            .expect("run postgres.sh");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let url = String::from_utf8(out.stdout).unwrap().trim().to_owned();
        let port = url
            .rsplit_once(':')
            .and_then(|(_, rest)| rest.split('/').next())
            .expect("port in URL")
            .to_owned();
        PrivatePostgres { dir, port, url }
    }

    fn stop(&self) {
        let out = Command::new("bash")
            .arg(script())
            .args(["stop", &self.dir.path().display().to_string()])
            .output()
            .expect("run postgres.sh");
        assert!(out.status.success());
    }

    /// Starts the same data directory on the same port again.
    fn restart(&self) {
        let out = Command::new("bash")
            .arg(script())
            .args(["start", &self.dir.path().display().to_string()])
            .env("TESSERA_TEST_PG_PORT", &self.port)
            .output()
            .expect("run postgres.sh");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(script())
            .args(["stop", &self.dir.path().display().to_string()])
            .output();
    }
}

async fn token_status(s: &Server, id: &str, secret: &str) -> (u16, Option<String>) {
    let resp = s
        .token_request(Some((id, secret)), &[("grant_type", "client_credentials")])
        .await;
    let retry = resp
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    (resp.status().as_u16(), retry)
}

async fn readyz(s: &Server) -> (u16, Value) {
    let resp = http().get(s.url("/readyz")).send().await.unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

async fn create_client(s: &Server, bearer: &str, name: &str) -> (u16, Option<String>, Value) {
    let resp = http()
        .post(s.url("/admin/v1/clients"))
        .bearer_auth(bearer)
        .json(&json!({"name": name, "scopes": ["orders:read"]}))
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let retry = resp
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, retry, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn known_clients_get_tokens_while_postgresql_is_down_and_everything_recovers() {
    if postgres_url().is_none() {
        eprintln!("skipped: runs with the PostgreSQL pass (TESSERA_TEST_POSTGRES_URL)");
        return;
    }
    let pg = PrivatePostgres::start();
    let t = Tessera::on_postgres(&pg.url);
    t.create_api("orders", "https://api.example.com/orders", "read,write");
    let (known, known_secret) = t.create_client("known", "orders:read");
    let (unknown, unknown_secret) = t.create_client("never-seen", "orders:read");
    let (admin, admin_secret) = t.create_client("admin", "admin:read admin:write");
    let s = t.serve();
    assert_eq!(token_status(&s, &known, &known_secret).await.0, 200);
    let bearer = s.token(&admin, &admin_secret, &[]).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(readyz(&s).await.0, 200);
    // An id the database does not know is remembered as unknown (bounded, 60 s).
    assert_eq!(token_status(&s, "made-up-id", "tsk_guess").await.0, 401);

    pg.stop();
    // The server notices within a probe; requests from known clients never wait for it.
    let outage_began = Instant::now();
    let (mut served, mut refused) = (0u32, 0u32);
    let mut slowest = Duration::ZERO;
    while outage_began.elapsed() < Duration::from_secs(6) {
        let started = Instant::now();
        let (status, _) = token_status(&s, &known, &known_secret).await;
        slowest = slowest.max(started.elapsed());
        assert_eq!(status, 200, "a verified client must keep getting tokens");
        served += 1;
        let (status, retry) = token_status(&s, &unknown, &unknown_secret).await;
        assert_eq!(
            status, 503,
            "an uncached client is told to retry, not refused"
        );
        assert!(retry.is_some(), "503 carries Retry-After");
        refused += 1;
    }
    eprintln!(
        "during the outage: {served} tokens served to the known client (slowest {slowest:?}), \
         {refused} requests of an uncached client answered 503"
    );
    assert!(slowest < Duration::from_secs(1), "slowest {slowest:?}");
    // The made-up id is still answered from memory: a flood of them never reaches the database.
    assert_eq!(token_status(&s, "made-up-id", "tsk_guess").await.0, 401);
    let (status, body) = readyz(&s).await;
    assert_eq!(status, 503);
    assert_eq!(body["status"], "degraded", "{body}");
    assert!(
        body["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("database"),
        "{body}"
    );
    let metrics = http()
        .get(s.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics
            .lines()
            .any(|l| l.trim_end().ends_with("database_up 0")),
        "database_up gauge"
    );
    let (status, retry, problem) = create_client(&s, &bearer, "during-outage").await;
    assert_eq!(status, 503, "{problem}");
    assert!(retry.is_some());
    assert_eq!(problem["status"], 503);

    pg.restart();
    let back = Instant::now();
    loop {
        if readyz(&s).await.0 == 200 && token_status(&s, &unknown, &unknown_secret).await.0 == 200 {
            break;
        }
        assert!(back.elapsed() < Duration::from_secs(20), "never recovered");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!(
        "recovered {:?} after PostgreSQL started again",
        back.elapsed()
    );
    let (status, _, created) = create_client(&s, &bearer, "after-outage").await;
    assert_eq!(status, 201, "{created}");
    // Nothing written during the outage: the client made then does not exist.
    let list: Value = http()
        .get(s.url("/admin/v1/clients?limit=1000"))
        .bearer_auth(&bearer)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let names: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert!(!names.contains(&"during-outage"), "{names:?}");
    // The usage recorded in memory during the outage is written once the database returns
    // (`last_used_at` of the client and of its secret; per-minute counters follow when their
    // minute closes).
    let outage_started =
        chrono::Utc::now() - chrono::Duration::from_std(outage_began.elapsed()).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let client: Value = http()
            .get(s.url(&format!("/admin/v1/clients/{known}")))
            .bearer_auth(&bearer)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let last_used = client["last_used_at"]
            .as_str()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok());
        if last_used.is_some_and(|t| t > outage_started) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "usage from the outage lost: last_used_at {:?}",
            client["last_used_at"]
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
