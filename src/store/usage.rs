//! Token use recorded in memory and written in batches: no database write per token.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use entity::{client, client_secret};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};

use super::StoreError;
use super::audit::record_at;

/// The audit event a client's tokens are counted under.
const TOKEN_ISSUED: &str = "token.issued";

/// Distinct clients held between flushes; past it, counters for new ids are dropped (a flood of
/// made-up client ids must not grow memory without bound).
const MAX_PENDING: usize = 100_000;

#[derive(Default)]
struct Pending {
    /// Issuance by client, looked up by the id as borrowed: a known client's token adds to
    /// its entry without allocating or hashing twice. An entry stays while its minute is
    /// counting, so an active client's id is copied once a minute, not once a token.
    issued: HashMap<String, Issued>,
    secret_last_used: HashMap<String, DateTime<Utc>>,
    /// (event type, client id, minute) → count, for the events the server counts (failures,
    /// refusals).
    counters: HashMap<(&'static str, String, DateTime<Utc>), u64>,
    /// Events the server itself recorded (lockouts), written with the next flush so none is
    /// lost while the database is away.
    events: Vec<SystemEvent>,
}

/// One client's tokens since the last flush.
#[derive(Default)]
struct Issued {
    /// Unwritten `last_used_at`, if a token was issued since the last flush.
    last_used: Option<DateTime<Utc>>,
    /// (minute, count), oldest first; the current minute is the last.
    per_minute: Vec<(DateTime<Utc>, u64)>,
}

impl Issued {
    fn record(&mut self, at: DateTime<Utc>) {
        self.last_used = Some(at);
        self.add(minute(at), 1);
    }

    fn add(&mut self, minute: DateTime<Utc>, count: u64) {
        match self.per_minute.iter_mut().rev().find(|(m, _)| *m == minute) {
            Some((_, n)) => *n += count,
            None => {
                self.per_minute.push((minute, count));
                self.per_minute.sort_unstable_by_key(|(m, _)| *m);
            }
        }
    }
}

/// An audit event of the server's own, waiting for the next flush.
#[derive(Clone)]
struct SystemEvent {
    at: DateTime<Utc>,
    kind: &'static str,
    target: String,
    details: serde_json::Value,
}

/// Buffers `last_used_at` and per-minute usage counters until the next flush.
#[derive(Default)]
pub struct UsageRecorder {
    pending: Mutex<Pending>,
}

fn minute(t: DateTime<Utc>) -> DateTime<Utc> {
    t.duration_trunc(TimeDelta::minutes(1)).unwrap_or(t)
}

impl UsageRecorder {
    fn lock(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A token was issued to `client_id`, authenticated with `secret_id` (if by a secret).
    pub fn token_issued(&self, client_id: &str, secret_id: Option<&str>, at: DateTime<Utc>) {
        let mut p = self.lock();
        match p.issued.get_mut(client_id) {
            Some(issued) => issued.record(at),
            None => {
                if p.issued.len() >= MAX_PENDING {
                    return;
                }
                p.issued.entry(client_id.to_owned()).or_default().record(at);
            }
        }
        if let Some(secret_id) = secret_id {
            match p.secret_last_used.get_mut(secret_id) {
                Some(t) => *t = at,
                None => {
                    p.secret_last_used.insert(secret_id.to_owned(), at);
                }
            }
        }
    }

    /// Authentication as `client_id` failed (the id may not exist).
    pub fn authentication_failed(&self, client_id: &str, at: DateTime<Utc>) {
        self.count("client.authentication_failed", client_id, at);
    }

    /// A correct secret came from outside the client's `allowed_ips`.
    pub fn source_refused(&self, client_id: &str, at: DateTime<Utc>) {
        self.count("token.source_refused", client_id, at);
    }

    /// An audit event the server records itself (e.g. a lockout), written with the next flush.
    pub fn system_event(
        &self,
        kind: &'static str,
        target: &str,
        details: serde_json::Value,
        at: DateTime<Utc>,
    ) {
        let mut p = self.lock();
        if p.events.len() < MAX_PENDING {
            p.events.push(SystemEvent {
                at,
                kind,
                target: target.chars().take(64).collect(),
                details,
            });
        }
    }

    fn count(&self, kind: &'static str, client_id: &str, at: DateTime<Utc>) {
        let mut p = self.lock();
        if p.counters.len() >= MAX_PENDING {
            return;
        }
        // Ids are attacker-chosen: keep them short in the audit log.
        let id: String = client_id.chars().take(64).collect();
        *p.counters.entry((kind, id, minute(at))).or_default() += 1;
    }

    /// Writes what is pending in one transaction. Counters of the current minute wait for the
    /// minute to end (one row per client per minute) unless `all` (shutdown).
    pub async fn flush(&self, db: &DatabaseConnection, all: bool) -> Result<usize, StoreError> {
        let now_minute = minute(Utc::now());
        let pending = {
            let mut p = self.lock();
            let mut counters: Counters = if all {
                p.counters.drain().collect()
            } else {
                let done: Vec<_> = p
                    .counters
                    .keys()
                    .filter(|(_, _, m)| *m < now_minute)
                    .cloned()
                    .collect();
                done.into_iter()
                    .filter_map(|k| p.counters.remove_entry(&k))
                    .collect()
            };
            let mut last_used = HashMap::new();
            p.issued.retain(|client_id, issued| {
                if let Some(at) = issued.last_used.take() {
                    last_used.insert(client_id.clone(), at);
                }
                issued.per_minute.retain(|&(m, n)| {
                    let done = all || m < now_minute;
                    if done {
                        counters.push(((TOKEN_ISSUED, client_id.clone(), m), n));
                    }
                    !done
                });
                !issued.per_minute.is_empty()
            });
            (
                last_used,
                std::mem::take(&mut p.secret_last_used),
                counters,
                std::mem::take(&mut p.events),
            )
        };
        let (last_used, secret_last_used, counters, events) = pending;
        let written = last_used.len() + secret_last_used.len() + counters.len() + events.len();
        if written == 0 {
            return Ok(0);
        }
        let result = write(db, &last_used, &secret_last_used, &counters, &events).await;
        if result.is_err() {
            // Keep what could not be written for the next flush; what arrived since is newer.
            let mut p = self.lock();
            let newer = std::mem::replace(&mut p.events, events);
            p.events.extend(newer);
            for (k, v) in last_used {
                p.issued.entry(k).or_default().last_used.get_or_insert(v);
            }
            for (k, v) in secret_last_used {
                p.secret_last_used.entry(k).or_insert(v);
            }
            for ((kind, client_id, m), n) in counters {
                if kind == TOKEN_ISSUED {
                    p.issued.entry(client_id).or_default().add(m, n);
                } else {
                    *p.counters.entry((kind, client_id, m)).or_default() += n;
                }
            }
        }
        result.map(|()| written)
    }
}

type Counters = Vec<((&'static str, String, DateTime<Utc>), u64)>;

async fn write(
    db: &DatabaseConnection,
    last_used: &HashMap<String, DateTime<Utc>>,
    secret_last_used: &HashMap<String, DateTime<Utc>>,
    counters: &Counters,
    events: &[SystemEvent],
) -> Result<(), StoreError> {
    {
        let txn = super::begin_write(db).await?;
        for (client_id, at) in last_used {
            client::Entity::update_many()
                .col_expr(client::Column::LastUsedAt, Expr::value(*at))
                .filter(client::Column::ClientId.eq(client_id.as_str()))
                .exec(&txn)
                .await?;
        }
        for (secret_id, at) in secret_last_used {
            client_secret::Entity::update_many()
                .col_expr(client_secret::Column::LastUsedAt, Expr::value(*at))
                .filter(client_secret::Column::SecretId.eq(secret_id.as_str()))
                .exec(&txn)
                .await?;
        }
        for ((kind, client_id, at), count) in counters {
            // Issuance is the client's act; failures and refusals are counted by the server.
            let actor = if *kind == TOKEN_ISSUED {
                super::audit::Actor::Client(client_id.clone())
            } else {
                super::audit::Actor::System
            };
            record_at(
                &txn,
                *at,
                kind,
                &actor,
                Some(client_id),
                serde_json::json!({"count": count}),
            )
            .await?;
        }
        for e in events {
            let actor = super::audit::Actor::System;
            record_at(
                &txn,
                e.at,
                e.kind,
                &actor,
                Some(&e.target),
                e.details.clone(),
            )
            .await?;
        }
        txn.commit().await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use entity::audit_event;

    async fn issued_counts(db: &DatabaseConnection, client_id: &str) -> Vec<(DateTime<Utc>, u64)> {
        let rows = audit_event::Entity::find()
            .filter(audit_event::Column::Type.eq("token.issued"))
            .filter(audit_event::Column::Target.eq(client_id))
            .all(db)
            .await
            .expect("audit events");
        let mut counts: Vec<_> = rows
            .iter()
            .map(|r| {
                let details: serde_json::Value =
                    serde_json::from_str(&r.details).expect("details are JSON");
                (r.time, details["count"].as_u64().expect("count"))
            })
            .collect();
        counts.sort();
        counts
    }

    /// A finished minute is written by the periodic flush; the minute still counting waits
    /// (one row a client a minute) and is written whole at shutdown.
    #[tokio::test]
    async fn finished_minutes_are_flushed_and_the_current_one_waits() {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}/u.db?mode=rwc", dir.path().display());
        let db = crate::store::connect(&url).await.expect("connect");
        crate::store::migrate(&db).await.expect("migrate");
        let usage = UsageRecorder::default();
        // "Now" two minutes ahead, so that a minute ending while the test runs changes nothing.
        let now = Utc::now() + TimeDelta::minutes(2);
        let earlier = minute(now) - TimeDelta::minutes(5);
        usage.token_issued("c1", Some("s1"), earlier + TimeDelta::seconds(5));
        usage.token_issued("c1", Some("s1"), earlier + TimeDelta::seconds(50));
        usage.token_issued("c2", None, earlier);
        usage.token_issued("c1", Some("s1"), now);

        usage.flush(&db, false).await.expect("flush");
        assert_eq!(issued_counts(&db, "c1").await, vec![(earlier, 2)]);
        assert_eq!(issued_counts(&db, "c2").await, vec![(earlier, 1)]);
        {
            let p = usage.lock();
            assert_eq!(p.issued.len(), 1, "c2 has nothing pending any more");
            let c1 = &p.issued["c1"];
            assert_eq!(c1.last_used, None, "last_used_at was written");
            assert_eq!(c1.per_minute, vec![(minute(now), 1)]);
            assert!(p.secret_last_used.is_empty());
        }

        usage.token_issued("c1", None, now);
        usage.flush(&db, true).await.expect("flush at shutdown");
        assert_eq!(
            issued_counts(&db, "c1").await,
            vec![(earlier, 2), (minute(now), 2)]
        );
        assert!(usage.lock().issued.is_empty());
    }

    #[test]
    fn counts_add_into_their_minute_in_order() {
        let t = minute(Utc::now());
        let mut issued = Issued::default();
        issued.add(t, 1);
        issued.add(t - TimeDelta::minutes(2), 4);
        issued.add(t, 2);
        assert_eq!(
            issued.per_minute,
            vec![(t - TimeDelta::minutes(2), 4), (t, 3)]
        );
    }
}
