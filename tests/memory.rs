//! Memory the server gives back: argon2id's 19 MiB a worker is held only while verifications
//! run, not for the life of the process.
// Reads /proc; with mimalloc the glibc tuning that makes the release visible is off.
#![cfg(all(target_os = "linux", not(feature = "mimalloc")))]

mod common;

use std::time::{Duration, Instant};

use common::{Server, Tessera};

const ORDERS: &str = "https://orders.example";
const MIB: u64 = 1024 * 1024;

/// Resident set size of the server process, in bytes.
fn rss(s: &Server) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", s.child.id())).unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("VmRSS in /proc/PID/status");
    kib * 1024
}

#[tokio::test]
async fn argon2_memory_is_released_when_the_pool_is_idle() {
    let t = Tessera::new();
    t.create_api("orders", ORDERS, "read");
    let (first, first_secret) = t.create_client("first", "orders:read");
    let (second, second_secret) = t.create_client("second", "orders:read");
    let s = t.serve();

    // Twice: after a first release, allocators tend to keep the next 19 MiB (glibc raises its
    // mmap threshold when a mapped block is freed), so the second cycle is the one that counts.
    for (id, secret) in [(&first, &first_secret), (&second, &second_secret)] {
        let before = rss(&s);
        s.token(id, secret, &[]).await;
        let busy = rss(&s);
        assert!(
            busy >= before + 15 * MIB,
            "an argon2id verification should touch ≈ 19 MiB: {} → {} MiB",
            before / MIB,
            busy / MIB
        );
        // Idle for longer than the release delay: the memory goes back to the OS.
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut now = rss(&s);
        // 12 MiB of the 19: other memory may grow a little while we wait.
        while now + 12 * MIB > busy && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(200)).await;
            now = rss(&s);
        }
        assert!(
            now + 12 * MIB <= busy,
            "argon2 memory still resident after the pool went idle: {} MiB busy, {} MiB now",
            busy / MIB,
            now / MIB
        );
    }

    // After the release: the cached credential needs no argon2, and argon2 still answers
    // (fresh memory) for a wrong secret.
    s.token(&first, &first_secret, &[]).await;
    s.token(&second, &second_secret, &[]).await;
    let form = [("grant_type", "client_credentials")];
    let again = s.token_request(Some((&second, "tsk_wrong")), &form).await;
    assert_eq!(again.status(), 401);
}
