//! Audit events: who changed what, and per-minute counters of token use.

use chrono::{DateTime, Utc};
use entity::audit_event;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
};
use serde::Serialize;

use super::StoreError;
use super::apis::now;

/// Who acted: a client through the admin API, or the CLI (`None`).
#[derive(Debug, Clone, Default)]
pub struct Actor(pub Option<String>);

impl Actor {
    /// The command line, acting directly on the database.
    pub fn cli() -> Self {
        Actor(None)
    }
}

/// An audit event as the admin API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AuditEvent {
    /// Sequence number.
    pub id: i64,
    /// When it happened (for counters: the minute they cover).
    pub time: DateTime<Utc>,
    /// e.g. `client.created`, `secret.reset`, `token.issued`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The acting client, `null` for the CLI.
    pub actor: Option<String>,
    /// The object changed.
    pub target: Option<String>,
    /// What changed (field names, never secret values), or counts.
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
}

/// Writes one event (inside the caller's transaction).
pub async fn record(
    db: &impl ConnectionTrait,
    kind: &str,
    actor: &Actor,
    target: Option<&str>,
    details: serde_json::Value,
) -> Result<(), StoreError> {
    record_at(db, now(), kind, actor.0.as_deref(), target, details).await
}

pub(crate) async fn record_at(
    db: &impl ConnectionTrait,
    time: DateTime<Utc>,
    kind: &str,
    actor: Option<&str>,
    target: Option<&str>,
    details: serde_json::Value,
) -> Result<(), StoreError> {
    audit_event::ActiveModel {
        time: Set(time),
        r#type: Set(kind.to_owned()),
        actor: Set(actor.map(str::to_owned)),
        target: Set(target.map(str::to_owned)),
        details: Set(details.to_string()),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(())
}

/// Filters for listing events.
#[derive(Debug, Default, Clone)]
pub struct AuditFilter {
    /// Matches actor or target.
    pub client_id: Option<String>,
    /// Exact type.
    pub kind: Option<String>,
    /// Inclusive lower bound.
    pub since: Option<DateTime<Utc>>,
    /// Exclusive upper bound.
    pub until: Option<DateTime<Utc>>,
}

fn filtered(filter: &AuditFilter) -> sea_orm::Select<audit_event::Entity> {
    let mut q = audit_event::Entity::find();
    if let Some(c) = &filter.client_id {
        q = q.filter(
            sea_orm::Condition::any()
                .add(audit_event::Column::Actor.eq(c.clone()))
                .add(audit_event::Column::Target.eq(c.clone())),
        );
    }
    if let Some(k) = &filter.kind {
        q = q.filter(audit_event::Column::Type.eq(k.clone()));
    }
    if let Some(t) = filter.since {
        q = q.filter(audit_event::Column::Time.gte(t));
    }
    if let Some(t) = filter.until {
        q = q.filter(audit_event::Column::Time.lt(t));
    }
    q
}

/// A page of events, newest first, and the total matching.
pub async fn page(
    db: &impl ConnectionTrait,
    filter: &AuditFilter,
    offset: u64,
    limit: u64,
) -> Result<(Vec<AuditEvent>, u64), StoreError> {
    let total = filtered(filter).count(db).await?;
    let rows = filtered(filter)
        .order_by_desc(audit_event::Column::Time)
        .order_by_desc(audit_event::Column::Id)
        .offset(offset)
        .limit(limit)
        .all(db)
        .await?;
    Ok((
        rows.into_iter()
            .map(|r| AuditEvent {
                id: r.id,
                time: r.time,
                kind: r.r#type,
                actor: r.actor,
                target: r.target,
                details: serde_json::from_str(&r.details).unwrap_or_default(),
            })
            .collect(),
        total,
    ))
}

/// Tokens issued to `client_id` since `since`, from the per-minute counters.
pub async fn tokens_issued_since(
    db: &impl ConnectionTrait,
    client_id: &str,
    since: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let rows = audit_event::Entity::find()
        .filter(audit_event::Column::Type.eq("token.issued"))
        .filter(audit_event::Column::Target.eq(client_id))
        .filter(audit_event::Column::Time.gte(since))
        .all(db)
        .await?;
    Ok(rows
        .iter()
        .filter_map(|r| serde_json::from_str::<serde_json::Value>(&r.details).ok())
        .filter_map(|d| d["count"].as_u64())
        .sum())
}
