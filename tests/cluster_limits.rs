//! Brute-force limits hold for the cluster: failures counted by any replica count for all, so
//! three replicas lock a client id or a source out at the same count as one.

mod common;

use common::{Server, Tessera, http};

async fn attempt(s: &Server, id: &str, secret: &str, source: &str) -> u16 {
    http()
        .post(s.url("/oauth2/token"))
        .basic_auth(id, Some(secret))
        .header("X-Forwarded-For", source)
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Wrong secrets for `id` sent round-robin to `servers` (each from a fresh source address, so
/// only the client-id limit applies); the attempt number of the first 429.
async fn first_refusal(servers: &[&Server], id: &str, source_prefix: &str) -> usize {
    for n in 1..=40 {
        let s = servers[(n - 1) % servers.len()];
        let status = attempt(
            s,
            id,
            &format!("tsk_wrong{n}"),
            &format!("{source_prefix}.{n}"),
        )
        .await;
        match status {
            401 => {}
            429 => return n,
            other => panic!("attempt {n}: unexpected {other}"),
        }
    }
    panic!("never locked out");
}

#[tokio::test]
async fn three_replicas_lock_a_client_id_out_at_the_same_count_as_one() {
    let mut t = Tessera::new();
    t.set("TESSERA__LIMITS__FAILED_AUTH_PER_CLIENT", "5")
        .set("TESSERA__LIMITS__FAILED_AUTH_PER_SOURCE", "1000")
        .set("TESSERA__LIMITS__FAILED_AUTH_WINDOW_SECONDS", "600")
        .set("TESSERA__SERVER__TRUSTED_PROXIES", "127.0.0.1/32");
    t.create_api("orders", "https://api.example.com/orders", "read");
    let (alone, _) = t.create_client("attacked-on-one", "orders:read");
    let (spread, spread_secret) = t.create_client("attacked-on-three", "orders:read");
    let (t2, t3) = (t.sharing(), t.sharing());
    let (a, b, c) = (t.serve(), t2.serve(), t3.serve());

    let on_one = first_refusal(&[&a], &alone, "10.1.0").await;
    let on_three = first_refusal(&[&a, &b, &c], &spread, "10.2.0").await;
    eprintln!("first 429 at attempt {on_one} on one replica, {on_three} across three");
    assert_eq!(
        on_one, 7,
        "limit 5: five failures, the sixth trips the limit, the seventh is refused"
    );
    assert_eq!(on_three, on_one, "the same count with three replicas");
    // Every replica refuses the locked-out id now, even the right secret's first (uncached) use.
    for s in [&a, &b, &c] {
        assert_eq!(attempt(s, &spread, &spread_secret, "10.3.0.1").await, 429);
    }
}

#[tokio::test]
async fn three_replicas_lock_a_source_out_at_the_same_count_as_one() {
    let mut t = Tessera::new();
    t.set("TESSERA__LIMITS__FAILED_AUTH_PER_CLIENT", "1000")
        .set("TESSERA__LIMITS__FAILED_AUTH_PER_SOURCE", "4")
        .set("TESSERA__LIMITS__FAILED_AUTH_WINDOW_SECONDS", "600")
        .set("TESSERA__SERVER__TRUSTED_PROXIES", "127.0.0.1/32");
    let (t2, t3) = (t.sharing(), t.sharing());
    let (a, b, c) = (t.serve(), t2.serve(), t3.serve());
    let servers = [&a, &b, &c];
    let mut refused_at = None;
    for n in 1..=20 {
        // Made-up ids from one address, spread over the replicas.
        let status = attempt(
            servers[n % 3],
            &format!("nobody{n}"),
            "tsk_x",
            "203.0.113.7",
        )
        .await;
        if status == 429 {
            refused_at = Some(n);
            break;
        }
        assert_eq!(status, 401, "attempt {n}");
    }
    assert_eq!(
        refused_at,
        Some(6),
        "limit 4: the fifth trips it, the sixth is refused"
    );
}
