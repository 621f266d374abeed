//! Cache invalidation across processes: every change to a client is logged in its own
//! transaction, and every process polls the log, so the CLI and other replicas reach the
//! token path's caches within a poll interval. On PostgreSQL each entry also sends a
//! `NOTIFY` (delivered at commit), so listeners poll at once instead of at the next tick.

use chrono::{DateTime, Utc};
use entity::change_log;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter,
    QueryOrder, Set,
};

use super::StoreError;
use super::apis::now;

/// Subject that stands for every client.
pub const ALL_CLIENTS: &str = "*";

/// Subject telling every process to reload the signing keys. Client ids never start with `#`.
pub const KEYS: &str = "#keys";

/// The PostgreSQL channel every process listens on.
pub const CHANNEL: &str = "tessera_changes";

/// Logs that `subject` (a client id, or [`ALL_CLIENTS`]) changed.
pub async fn record(db: &impl ConnectionTrait, subject: &str) -> Result<(), StoreError> {
    change_log::ActiveModel {
        subject: Set(subject.to_owned()),
        at: Set(now()),
        ..Default::default()
    }
    .insert(db)
    .await?;
    if db.get_database_backend() == DbBackend::Postgres {
        db.execute_unprepared(&format!("NOTIFY {CHANNEL}")).await?;
    }
    Ok(())
}

/// Where a process has read the log up to.
#[derive(Debug, Clone)]
pub struct Cursor {
    seq: i64,
    at: DateTime<Utc>,
    /// Entries already applied within the overlap window.
    recent: Vec<(i64, DateTime<Utc>)>,
}

/// Overlap when re-reading: on PostgreSQL a lower sequence number can commit after a higher
/// one was seen, so entries of the last seconds are read again (invalidation is idempotent).
const OVERLAP: chrono::TimeDelta = chrono::TimeDelta::seconds(10);

/// The current end of the log.
pub async fn cursor(db: &impl ConnectionTrait) -> Result<Cursor, StoreError> {
    let at = Utc::now();
    let last = change_log::Entity::find()
        .order_by_desc(change_log::Column::Seq)
        .one(db)
        .await?;
    // Entries already visible are reflected in whatever the process loads after this: mark
    // the overlap window's as applied, so the first read does not replay them (it would drop
    // caches filled since start-up, e.g. a secret verified a moment ago).
    let recent = change_log::Entity::find()
        .filter(change_log::Column::At.gte(at - OVERLAP))
        .all(db)
        .await?
        .into_iter()
        .map(|r| (r.seq, r.at))
        .collect();
    Ok(Cursor {
        seq: last.as_ref().map_or(0, |r| r.seq),
        at,
        recent,
    })
}

/// Subjects changed since `cursor`, the new cursor, and when each new entry was written.
pub async fn since(
    db: &impl ConnectionTrait,
    cursor: &Cursor,
) -> Result<(Vec<String>, Cursor, Vec<DateTime<Utc>>), StoreError> {
    let rows = change_log::Entity::find()
        .filter(
            sea_orm::Condition::any()
                .add(change_log::Column::Seq.gt(cursor.seq))
                .add(change_log::Column::At.gte(cursor.at - OVERLAP)),
        )
        .order_by_asc(change_log::Column::Seq)
        .all(db)
        .await?;
    let now = Utc::now();
    let fresh: Vec<change_log::Model> = rows
        .into_iter()
        .filter(|r| !cursor.recent.iter().any(|(s, _)| *s == r.seq))
        .collect();
    let mut recent: Vec<(i64, DateTime<Utc>)> = cursor
        .recent
        .iter()
        .copied()
        .chain(fresh.iter().map(|r| (r.seq, r.at)))
        .filter(|(_, at)| *at >= now - OVERLAP - OVERLAP)
        .collect();
    recent.sort_unstable();
    recent.dedup();
    let next = Cursor {
        seq: fresh
            .iter()
            .map(|r| r.seq)
            .max()
            .unwrap_or(cursor.seq)
            .max(cursor.seq),
        at: now,
        recent,
    };
    let times = fresh.iter().map(|r| r.at).collect();
    let mut subjects: Vec<String> = fresh.into_iter().map(|r| r.subject).collect();
    subjects.sort();
    subjects.dedup();
    Ok((subjects, next, times))
}

/// How long entries are kept. A process that has not read the log for longer may have missed
/// some, so it drops its caches instead of trusting them.
pub const RETENTION: chrono::TimeDelta = chrono::TimeDelta::hours(1);

/// Drops entries older than [`RETENTION`].
pub async fn prune(db: &impl ConnectionTrait) -> Result<(), StoreError> {
    change_log::Entity::delete_many()
        .filter(change_log::Column::At.lt(Utc::now() - RETENTION))
        .exec(db)
        .await?;
    Ok(())
}
