//! Token use recorded in memory and written in batches: no database write per token.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use entity::{client, client_secret};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};

use super::StoreError;
use super::audit::record_at;

/// Distinct clients held between flushes; past it, counters for new ids are dropped (a flood of
/// made-up client ids must not grow memory without bound).
const MAX_PENDING: usize = 100_000;

#[derive(Default)]
struct Pending {
    last_used: HashMap<String, DateTime<Utc>>,
    secret_last_used: HashMap<String, (String, DateTime<Utc>)>,
    /// (event type, client id, minute) → count.
    counters: HashMap<(&'static str, String, DateTime<Utc>), u64>,
    /// Events the server itself recorded (lockouts), written with the next flush so none is
    /// lost while the database is away.
    events: Vec<SystemEvent>,
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
        if p.last_used.len() >= MAX_PENDING && !p.last_used.contains_key(client_id) {
            return;
        }
        match p.last_used.get_mut(client_id) {
            Some(t) => *t = at,
            None => {
                p.last_used.insert(client_id.to_owned(), at);
            }
        }
        if let Some(secret_id) = secret_id {
            match p.secret_last_used.get_mut(secret_id) {
                Some(entry) => entry.1 = at,
                None => {
                    p.secret_last_used
                        .insert(secret_id.to_owned(), (client_id.to_owned(), at));
                }
            }
        }
        *p.counters
            .entry(("token.issued", client_id.to_owned(), minute(at)))
            .or_default() += 1;
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
            let counters: Vec<_> = if all {
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
            (
                std::mem::take(&mut p.last_used),
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
            // Keep what could not be written for the next flush.
            let mut p = self.lock();
            let newer = std::mem::replace(&mut p.events, events);
            p.events.extend(newer);
            for (k, v) in last_used {
                p.last_used.entry(k).or_insert(v);
            }
            for (k, v) in secret_last_used {
                p.secret_last_used.entry(k).or_insert(v);
            }
            for (k, v) in counters {
                *p.counters.entry(k).or_default() += v;
            }
        }
        result.map(|()| written)
    }
}

type Counters = Vec<((&'static str, String, DateTime<Utc>), u64)>;

async fn write(
    db: &DatabaseConnection,
    last_used: &HashMap<String, DateTime<Utc>>,
    secret_last_used: &HashMap<String, (String, DateTime<Utc>)>,
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
        for (secret_id, (_, at)) in secret_last_used {
            client_secret::Entity::update_many()
                .col_expr(client_secret::Column::LastUsedAt, Expr::value(*at))
                .filter(client_secret::Column::SecretId.eq(secret_id.as_str()))
                .exec(&txn)
                .await?;
        }
        for ((kind, client_id, at), count) in counters {
            // Issuance is the client's act; failures and refusals are counted by the server.
            let actor = if *kind == "token.issued" {
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
