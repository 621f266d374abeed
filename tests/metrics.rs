//! `GET /metrics`: Prometheus text whose counters move with real traffic, without client ids.

mod common;

use common::{Server, Tessera, http};

const ORDERS: &str = "https://api.example.com/orders";

async fn scrape(s: &Server) -> String {
    let resp = http().get(s.url("/metrics")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let content_type = resp.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "{content_type}"
    );
    resp.text().await.unwrap()
}

/// The value of the sample `name{labels}` (labels exactly as printed), or 0 when absent.
fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .map_or(0.0, |v| v.split(' ').next().unwrap().parse().unwrap())
}

#[tokio::test]
async fn metrics_are_exported_and_move_with_traffic() {
    let t = Tessera::new();
    t.create_api("orders", ORDERS, "read,write");
    let (id, secret) = t.create_client("worker", "orders:read");
    let s = t.serve();
    let before = scrape(&s).await;
    for name in [
        "tessera_token_requests_total",
        "tessera_http_request_duration_seconds",
        "tessera_credential_cache_lookups_total",
        "tessera_argon2_verify_duration_seconds",
        "tessera_argon2_queue_depth",
        "tessera_change_propagation_seconds",
        "tessera_signing_key_age_seconds",
        "tessera_db_connections",
    ] {
        assert!(
            before.contains(&format!("# TYPE {name}"))
                || before.contains(&format!("# TYPE {}", name.trim_end_matches("_total"))),
            "{name} missing:\n{before}"
        );
    }
    // Two good requests (argon2id once, then the cache) and one wrong secret.
    s.token(&id, &secret, &[]).await;
    s.token(&id, &secret, &[]).await;
    let wrong = s
        .token_request(
            Some((&id, "tsk_wrong")),
            &[("grant_type", "client_credentials")],
        )
        .await;
    assert_eq!(wrong.status(), 401);
    let after = scrape(&s).await;
    let issued = r#"tessera_token_requests_total{outcome="issued"}"#;
    let refused = r#"tessera_token_requests_total{outcome="invalid_client"}"#;
    assert_eq!(
        sample(&after, issued) - sample(&before, issued),
        2.0,
        "{after}"
    );
    assert_eq!(sample(&after, refused) - sample(&before, refused), 1.0);
    let hit = r#"tessera_credential_cache_lookups_total{result="hit"}"#;
    let miss = r#"tessera_credential_cache_lookups_total{result="miss"}"#;
    assert_eq!(sample(&after, hit), 1.0, "{after}");
    assert_eq!(sample(&after, miss), 2.0, "{after}");
    assert!(sample(&after, "tessera_argon2_verify_duration_seconds_count") >= 2.0);
    let token_latency = r#"tessera_http_request_duration_seconds_count{endpoint="token"}"#;
    assert_eq!(sample(&after, token_latency), 3.0, "{after}");
    // A change made by another process is observed by the change-log poll.
    assert!(t.cli(&["clients", "disable", &id]).status.success());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
    while sample(
        &scrape(&s).await,
        "tessera_change_propagation_seconds_count",
    ) < 1.0
    {
        assert!(
            std::time::Instant::now() < deadline,
            "propagation not measured"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    // Cardinality and privacy: no client id, no secret in the export.
    let last = scrape(&s).await;
    assert!(!last.contains(&id) && !last.contains(&secret));
}
