//! Whether the database answers, as the refresh loop last saw it: while it does not, the token
//! path serves the clients it has in memory and refuses the others at once (503) instead of
//! waiting on a connection that will not come.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// The database's state seen from this process.
#[derive(Debug, Default)]
pub struct DatabaseHealth {
    /// Set while the last attempt failed: checked on the token path (one atomic load).
    down: AtomicBool,
    /// Since when, and why.
    outage: Mutex<Option<(Instant, String)>>,
}

/// What `/readyz` and `/metrics` report.
#[derive(Debug, Clone)]
pub struct Outage {
    /// How long the database has not answered.
    pub for_: Duration,
    /// The last error, for operators (never a credential: database errors carry none).
    pub reason: String,
}

impl DatabaseHealth {
    /// Whether the database answered last time it was asked.
    pub fn is_up(&self) -> bool {
        !self.down.load(Ordering::Relaxed)
    }

    /// A query succeeded.
    pub fn succeeded(&self) {
        if self.down.swap(false, Ordering::Relaxed) {
            let was = self.lock().take();
            if let Some((since, _)) = was {
                tracing::warn!(
                    after_ms = since.elapsed().as_millis() as u64,
                    "the database answers again"
                );
            }
        }
    }

    /// A query failed: the outage begins now unless it already had.
    pub fn failed(&self, reason: impl std::fmt::Display) {
        let mut outage = self.lock();
        if outage.is_none() {
            tracing::warn!(reason = %reason, "the database does not answer: serving from memory");
            *outage = Some((Instant::now(), reason.to_string()));
        }
        self.down.store(true, Ordering::Relaxed);
    }

    /// The current outage, if any.
    pub fn outage(&self) -> Option<Outage> {
        self.lock().as_ref().map(|(since, reason)| Outage {
            for_: since.elapsed(),
            reason: reason.clone(),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<(Instant, String)>> {
        self.outage.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_outage_starts_once_and_ends_on_success() {
        let h = DatabaseHealth::default();
        assert!(h.is_up() && h.outage().is_none());
        h.failed("connection refused");
        h.failed("later error");
        let outage = h.outage().unwrap();
        assert_eq!(outage.reason, "connection refused");
        assert!(!h.is_up());
        h.succeeded();
        assert!(h.is_up() && h.outage().is_none());
    }
}
