//! Failed-authentication counters shared by every replica through the database, so N replicas
//! lock a client id or a source out at the same count as one.
//!
//! Each counted thing has one row holding GCRA state (the generic cell rate algorithm, the
//! same one governor uses in memory): its theoretical arrival time. `limit` failures per
//! `window` are allowed in a burst and refill at `window / limit` each; the failure past that
//! starts a lockout that lasts until the bucket has room again. One upsert per failure; a
//! successful token request writes nothing.

use entity::auth_failure;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait,
    QueryFilter, QuerySelect, Set,
};
use sha2::{Digest, Sha256};

use super::StoreError;

/// What a failure counts against.
#[derive(Debug, Clone, Copy)]
pub enum Counted<'a> {
    /// A client id (which may not exist, or may even be a secret sent in the wrong field).
    Client(&'a str),
    /// A source address.
    Source(std::net::IpAddr),
    /// Wrong second factors of one administrator (by id): a key nothing else can reach.
    SecondFactor(&'a str),
}

impl Counted<'_> {
    /// The row key: a digest, so neither an id nor a mistyped secret is stored.
    fn key(&self) -> String {
        let mut h = Sha256::new();
        match self {
            Counted::Client(id) => {
                h.update(b"client:");
                h.update(id.as_bytes());
            }
            Counted::Source(ip) => {
                h.update(b"source:");
                h.update(ip.to_canonical().to_string().as_bytes());
            }
            Counted::SecondFactor(id) => {
                h.update(b"second-factor:");
                h.update(id.as_bytes());
            }
        }
        let digest = h.finalize();
        digest.iter().take(16).map(|b| format!("{b:02x}")).collect()
    }
}

/// A limit: `limit` failures per `window`.
#[derive(Debug, Clone, Copy)]
pub struct Limit {
    /// Emission interval: the window divided by the limit (ms).
    period_ms: i64,
    /// How far ahead of now the arrival time may run before a failure is refused (ms).
    tolerance_ms: i64,
}

impl Limit {
    /// `limit` failures per `window`; `None` when `limit` is 0 (no limit).
    pub fn new(limit: u32, window: std::time::Duration) -> Option<Self> {
        let limit = i64::from(limit);
        if limit == 0 {
            return None;
        }
        let period_ms = (window.as_millis() as i64 / limit).max(1);
        Some(Limit {
            period_ms,
            tolerance_ms: period_ms * (limit - 1),
        })
    }

    /// How long a thing whose arrival time is `tat_ms` stays locked out at `now_ms`. An
    /// accepted failure leaves the arrival time at most `tolerance + period` ahead; a refused
    /// one pushes it one period further, which is what marks the lockout.
    fn remaining(&self, tat_ms: i64, now_ms: i64) -> Option<i64> {
        let until = tat_ms - self.tolerance_ms - self.period_ms;
        (until > now_ms).then_some(until - now_ms)
    }
}

/// How long `counted` is locked out at `now_ms` (milliseconds), if it is.
pub async fn locked_for(
    db: &impl ConnectionTrait,
    counted: Counted<'_>,
    limit: Limit,
    now_ms: i64,
) -> Result<Option<i64>, StoreError> {
    let row = auth_failure::Entity::find_by_id(counted.key())
        .one(db)
        .await?;
    Ok(row.and_then(|r| limit.remaining(r.tat_ms, now_ms)))
}

/// Counts one failure of `counted` at `now_ms`; returns the lockout it starts (milliseconds),
/// if this failure is past the limit. Atomic across replicas: the row is locked (PostgreSQL)
/// or the database is (SQLite's `BEGIN IMMEDIATE`) between the read and the write.
pub async fn record(
    db: &DatabaseConnection,
    counted: Counted<'_>,
    limit: Limit,
    now_ms: i64,
) -> Result<Option<i64>, StoreError> {
    let key = counted.key();
    let txn = super::begin_write(db).await?;
    let mut find = auth_failure::Entity::find_by_id(key.clone());
    if db.get_database_backend() == DbBackend::Postgres {
        // Two replicas counting the same key wait for each other here.
        auth_failure::Entity::insert(auth_failure::ActiveModel {
            key: Set(key.clone()),
            tat_ms: Set(now_ms),
        })
        .on_conflict(
            sea_orm::sea_query::OnConflict::column(auth_failure::Column::Key)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(&txn)
        .await?;
        find = find.lock_exclusive();
    }
    let existing = find.one(&txn).await?;
    let tat = existing.as_ref().map_or(now_ms, |r| r.tat_ms).max(now_ms);
    // Accepted, or past the limit: either way one period more, which for a refusal marks the
    // lockout (see `Limit::remaining`).
    let refused = tat - now_ms > limit.tolerance_ms;
    let next = tat + limit.period_ms;
    let row = auth_failure::ActiveModel {
        key: Set(key),
        tat_ms: Set(next),
    };
    if existing.is_some() {
        row.update(&txn).await?;
    } else {
        row.insert(&txn).await?;
    }
    let outcome = if refused {
        limit.remaining(next, now_ms)
    } else {
        None
    };
    txn.commit().await?;
    Ok(outcome)
}

/// Drops rows whose bucket is full again (their arrival time has passed).
pub async fn prune(db: &impl ConnectionTrait, now_ms: i64) -> Result<u64, StoreError> {
    Ok(auth_failure::Entity::delete_many()
        .filter(auth_failure::Column::TatMs.lte(now_ms))
        .exec(db)
        .await?
        .rows_affected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_limit_of_three_allows_three_then_locks_for_one_period() {
        let l = Limit::new(3, std::time::Duration::from_secs(30)).unwrap();
        let now = 1_000_000;
        let mut tat = now;
        for _ in 0..3 {
            assert!(tat.max(now) - now <= l.tolerance_ms);
            tat = tat.max(now) + l.period_ms;
        }
        assert_eq!(l.remaining(tat, now), None, "three failures lock nothing");
        assert!(tat - now > l.tolerance_ms, "the fourth is refused");
        let tat = tat + l.period_ms;
        assert_eq!(l.remaining(tat, now), Some(10_000));
        assert_eq!(l.remaining(tat, now + 10_000), None);
        assert!(Limit::new(0, std::time::Duration::from_secs(1)).is_none());
    }

    #[test]
    fn keys_are_digests_that_do_not_contain_what_they_count() {
        let k = Counted::Client("tsk_secret-sent-as-id").key();
        assert_eq!(k.len(), 32);
        assert!(!k.contains("tsk_"));
        let v4 = Counted::Source("10.0.0.1".parse().unwrap()).key();
        let mapped = Counted::Source("::ffff:10.0.0.1".parse().unwrap()).key();
        assert_eq!(v4, mapped);
    }
}
