//! Failed sign-ins are limited per email and per source address with the same counters as
//! failed client authentications (`oauth::brute_force`: in memory, and shared by every replica
//! through the database), so a guessing source is slowed across the console and the token
//! endpoint alike.

use std::net::IpAddr;
use std::time::Duration;

use crate::oauth::brute_force;
use crate::state::AppState;

/// The counter key of an email: never equal to a client id's, and never stored as is (the
/// shared counters keep a digest).
fn key(email: &str) -> String {
    format!("console-email:{email}")
}

/// How long sign-in for `email` from `source` stays refused, if it is (checked before any
/// argon2 work).
pub async fn locked(state: &AppState, email: &str, source: Option<IpAddr>) -> Option<Duration> {
    let key = key(email);
    let here = state
        .failures
        .source_locked(source)
        .max(state.failures.client_locked(&key));
    if here.is_some() {
        return here;
    }
    brute_force::shared_lockout(state, &key, source).await
}

/// Counts a failed sign-in (unknown email, wrong password or wrong code alike); returns how
/// long sign-in is now refused, if this failure started or met a lockout.
pub async fn failed(state: &AppState, email: &str, source: Option<IpAddr>) -> Option<Duration> {
    let key = key(email);
    let started = brute_force::count_failure(state, &key, source).await;
    if !started.is_empty() {
        tracing::warn!(
            lockouts = started.len(),
            "console sign-in locked out after repeated failures"
        );
    }
    state
        .failures
        .source_locked(source)
        .max(state.failures.client_locked(&key))
}
