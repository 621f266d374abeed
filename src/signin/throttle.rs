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
    for lockout in brute_force::count_failure(state, &key, source).await {
        // One event per lockout, not per request. The email is not recorded: attackers
        // choose it, and people mistype passwords into it.
        let (kind, details) = match lockout {
            brute_force::Lockout::Client(_) => ("console.email_locked_out", serde_json::json!({})),
            brute_force::Lockout::Source(ip) => (
                "source.locked_out",
                serde_json::json!({"source": ip.to_string(), "by": "console sign-in"}),
            ),
        };
        tracing::warn!(
            lockout = kind,
            "console sign-in locked out after repeated failures"
        );
        let actor = crate::store::audit::Actor::System;
        if let Err(e) = crate::store::audit::record(&state.db, kind, &actor, None, details).await {
            tracing::warn!(error = %e, "recording a lockout failed");
        }
    }
    state
        .failures
        .source_locked(source)
        .max(state.failures.client_locked(&key))
}

/// Wrong second factors allowed per administrator per day, whatever the sessions and sources:
/// at the per-email rate alone, a 6-digit code would fall to a patient guesser within weeks.
const SECOND_FACTOR_PER_DAY: u32 = 20;

fn second_factor_limit() -> Option<crate::store::failures::Limit> {
    crate::store::failures::Limit::new(SECOND_FACTOR_PER_DAY, Duration::from_secs(86_400))
}

/// How long `administrator_id`'s second factor stays refused, if it is.
pub async fn second_factor_locked(state: &AppState, administrator_id: &str) -> Option<Duration> {
    let limit = second_factor_limit()?;
    let now = chrono::Utc::now().timestamp_millis();
    match crate::store::failures::locked_for(
        &state.db,
        crate::store::failures::Counted::SecondFactor(administrator_id),
        limit,
        now,
    )
    .await
    {
        Ok(ms) => ms.map(|ms| Duration::from_millis(ms.max(0) as u64)),
        // The database is down: the in-memory per-email limit still applies.
        Err(_) => None,
    }
}

/// Counts a wrong second factor of `administrator_id`; how long it is now refused, if it is.
pub async fn second_factor_failed(state: &AppState, administrator_id: &str) -> Option<Duration> {
    let limit = second_factor_limit()?;
    let now = chrono::Utc::now().timestamp_millis();
    match crate::store::failures::record(
        &state.db,
        crate::store::failures::Counted::SecondFactor(administrator_id),
        limit,
        now,
    )
    .await
    {
        Ok(Some(ms)) => {
            tracing::warn!(administrator = %administrator_id, "second factor locked for the day");
            Some(Duration::from_millis(ms.max(0) as u64))
        }
        _ => None,
    }
}
