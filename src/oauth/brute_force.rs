//! Brute-force bounds on client authentication: failures are counted per client id and per
//! source address in token buckets (governor's GCRA); past the limit, requests are refused
//! with 429 before any argon2 work.
//!
//! A locked-out **source** is refused everything, even a correct (cached) secret, until its
//! bucket refills. A locked-out **client id** is refused only attempts that would need argon2:
//! a secret already verified keeps working, so an attacker who merely knows a client id
//! cannot lock its real integration out.

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::RwLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};

use crate::state::AppState;
use crate::store;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// A lockout that has just begun (audited once).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lockout {
    /// Too many failures for this client id.
    Client(String),
    /// Too many failures from this address.
    Source(IpAddr),
}

/// Counts failed authentications and says who is locked out: in memory for the warm path's
/// one-atomic check and as the fallback while the database is away; the counts themselves are
/// shared by every replica through the database ([`count_failure`], [`shared_lockout`]).
pub struct FailureLimiter {
    /// The same limits, for the shared counters.
    shared_client: Option<store::failures::Limit>,
    shared_source: Option<store::failures::Limit>,
    per_client: Option<DefaultKeyedRateLimiter<String>>,
    per_source: Option<DefaultKeyedRateLimiter<IpAddr>>,
    clock: DefaultClock,
    clients: RwLock<HashMap<String, Instant>>,
    sources: RwLock<HashMap<IpAddr, Instant>>,
    /// Whether any lockout may be in force: the warm path checks one atomic, not a lock.
    any: AtomicBool,
}

fn quota(failures: u32, window: Duration) -> Option<Quota> {
    let burst = NonZeroU32::new(failures)?;
    let period = window.checked_div(failures)?.max(Duration::from_millis(1));
    Some(Quota::with_period(period)?.allow_burst(burst))
}

impl FailureLimiter {
    /// `per_client` and `per_source` failures per `window` (0: no limit).
    pub fn new(per_client: u32, per_source: u32, window: Duration) -> Self {
        FailureLimiter {
            shared_client: store::failures::Limit::new(per_client, window),
            shared_source: store::failures::Limit::new(per_source, window),
            per_client: quota(per_client, window).map(RateLimiter::keyed),
            per_source: quota(per_source, window).map(RateLimiter::keyed),
            clock: DefaultClock::default(),
            clients: RwLock::default(),
            sources: RwLock::default(),
            any: AtomicBool::new(false),
        }
    }

    /// How long `source` stays locked out, if it is.
    pub fn source_locked(&self, source: Option<IpAddr>) -> Option<Duration> {
        if !self.any.load(Ordering::Relaxed) {
            return None;
        }
        let source = source?;
        remaining(&self.sources, &source)
    }

    /// How long uncached attempts for `client_id` stay refused, if they are.
    pub fn client_locked(&self, client_id: &str) -> Option<Duration> {
        if !self.any.load(Ordering::Relaxed) {
            return None;
        }
        remaining(&self.clients, client_id)
    }

    /// Counts a failure; returns the lockouts it started.
    pub fn failed(&self, client_id: &str, source: Option<IpAddr>) -> Vec<Lockout> {
        let mut started = Vec::new();
        let now = Instant::now();
        if let Some(limiter) = &self.per_client {
            let key = client_id.to_owned();
            if let Err(not_until) = limiter.check_key(&key) {
                let until = now + not_until.wait_time_from(self.clock.now());
                if lock(&self.clients, key, until, now) {
                    started.push(Lockout::Client(client_id.to_owned()));
                }
            }
        }
        if let (Some(limiter), Some(ip)) = (&self.per_source, source)
            && let Err(not_until) = limiter.check_key(&ip)
        {
            let until = now + not_until.wait_time_from(self.clock.now());
            if lock(&self.sources, ip, until, now) {
                started.push(Lockout::Source(ip));
            }
        }
        if !started.is_empty() || self.is_locking() {
            self.any.store(true, Ordering::Relaxed);
        }
        started
    }

    /// Records here a lockout decided by the shared counters; true when it is new here.
    fn lock_out(&self, lockout: &Lockout, wait: Duration) -> bool {
        let now = Instant::now();
        let until = now + wait;
        let new = match lockout {
            Lockout::Client(id) => lock(&self.clients, id.clone(), until, now),
            Lockout::Source(ip) => lock(&self.sources, *ip, until, now),
        };
        self.any.store(true, Ordering::Relaxed);
        new
    }

    fn is_locking(&self) -> bool {
        let clients = !self
            .clients
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .is_empty();
        clients
            || !self
                .sources
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .is_empty()
    }

    /// Forgets finished lockouts and idle buckets, so memory follows current attackers only.
    pub fn prune(&self) {
        let now = Instant::now();
        self.clients
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|_, until| *until > now);
        self.sources
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|_, until| *until > now);
        self.any.store(self.is_locking(), Ordering::Relaxed);
        if let Some(l) = &self.per_client {
            l.retain_recent();
            l.shrink_to_fit();
        }
        if let Some(l) = &self.per_source {
            l.retain_recent();
            l.shrink_to_fit();
        }
    }
}

/// What each of a failed attempt's counters is: the client id, and the source if known.
fn counted<'a>(
    limiter: &FailureLimiter,
    client_id: &'a str,
    source: Option<IpAddr>,
) -> Vec<(
    store::failures::Counted<'a>,
    store::failures::Limit,
    Lockout,
)> {
    use store::failures::Counted;
    let mut out = Vec::with_capacity(2);
    if let Some(limit) = limiter.shared_client {
        out.push((
            Counted::Client(client_id),
            limit,
            Lockout::Client(client_id.to_owned()),
        ));
    }
    if let (Some(limit), Some(ip)) = (limiter.shared_source, source) {
        out.push((Counted::Source(ip), limit, Lockout::Source(ip)));
    }
    out
}

/// Before argon2 work: whether another replica's failures have locked this client id or
/// source out (one read; learned into memory so later requests here need none). `None` while
/// the database is away: the in-memory counters decide then.
pub async fn shared_lockout(
    state: &AppState,
    client_id: &str,
    source: Option<IpAddr>,
) -> Option<Duration> {
    if !state.db_health.is_up() {
        return None;
    }
    let now = chrono::Utc::now().timestamp_millis();
    let mut longest: Option<Duration> = None;
    for (what, limit, lockout) in counted(&state.failures, client_id, source) {
        match store::failures::locked_for(&state.db, what, limit, now).await {
            Ok(Some(ms)) => {
                let wait = Duration::from_millis(ms.unsigned_abs());
                state.failures.lock_out(&lockout, wait);
                longest = longest.max(Some(wait));
            }
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(error = %e, "reading shared failure counters failed");
                return longest;
            }
        }
    }
    longest
}

/// Counts a failed authentication for every replica (one upsert per counter); returns the
/// lockouts it started. While the database is away, counts in memory instead.
pub async fn count_failure(
    state: &AppState,
    client_id: &str,
    source: Option<IpAddr>,
) -> Vec<Lockout> {
    if !state.db_health.is_up() {
        return state.failures.failed(client_id, source);
    }
    let now = chrono::Utc::now().timestamp_millis();
    let mut started = Vec::new();
    for (what, limit, lockout) in counted(&state.failures, client_id, source) {
        match store::failures::record(&state.db, what, limit, now).await {
            Ok(Some(ms)) => {
                if state
                    .failures
                    .lock_out(&lockout, Duration::from_millis(ms.unsigned_abs()))
                {
                    started.push(lockout);
                }
            }
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(error = %e, "counting a failure in the database failed; counting in memory");
                return state.failures.failed(client_id, source);
            }
        }
    }
    started
}

fn remaining<K, Q>(map: &RwLock<HashMap<K, Instant>>, key: &Q) -> Option<Duration>
where
    K: std::borrow::Borrow<Q> + std::hash::Hash + Eq,
    Q: std::hash::Hash + Eq + ?Sized,
{
    let until = *map.read().unwrap_or_else(|p| p.into_inner()).get(key)?;
    until
        .checked_duration_since(Instant::now())
        .filter(|d| !d.is_zero())
}

/// Records a lockout until `until`; true when none was in force (a new lockout).
fn lock<K: std::hash::Hash + Eq>(
    map: &RwLock<HashMap<K, Instant>>,
    key: K,
    until: Instant,
    now: Instant,
) -> bool {
    let mut map = map.write().unwrap_or_else(|p| p.into_inner());
    let previous = map.insert(key, until);
    previous.is_none_or(|p| p <= now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_is_locked_after_its_failures_and_others_are_not() {
        let limiter = FailureLimiter::new(3, 100, Duration::from_secs(60));
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        for _ in 0..3 {
            assert!(limiter.failed("a", Some(ip)).is_empty());
        }
        assert_eq!(limiter.client_locked("a"), None);
        assert_eq!(
            limiter.failed("a", Some(ip)),
            vec![Lockout::Client("a".into())]
        );
        assert!(limiter.client_locked("a").is_some());
        // Later failures extend nothing new: one lockout, one audit event.
        assert!(limiter.failed("a", Some(ip)).is_empty());
        assert_eq!(limiter.client_locked("b"), None);
        assert_eq!(limiter.source_locked(Some(ip)), None);
    }

    #[test]
    fn zero_means_no_limit() {
        let limiter = FailureLimiter::new(0, 0, Duration::from_secs(60));
        for _ in 0..100 {
            assert!(limiter.failed("a", None).is_empty());
        }
        assert_eq!(limiter.client_locked("a"), None);
    }
}
