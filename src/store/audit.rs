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

/// Who acted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// The command line, acting directly on the database.
    Cli,
    /// The server itself: scheduled key rotation, lockouts.
    System,
    /// A client, through the admin API or the OAuth endpoints.
    Client(String),
    /// A person, through the console (or the command line acting for them).
    Administrator(String),
}

impl Actor {
    /// The command line, acting directly on the database.
    pub fn cli() -> Self {
        Actor::Cli
    }

    /// The stored `actor_type`.
    fn kind(&self) -> &'static str {
        match self {
            Actor::Cli => "cli",
            Actor::System => "system",
            Actor::Client(_) => "client",
            Actor::Administrator(_) => "administrator",
        }
    }

    /// The acting client, if a client acted.
    pub fn client_id(&self) -> Option<&str> {
        match self {
            Actor::Client(id) => Some(id),
            Actor::Cli | Actor::System | Actor::Administrator(_) => None,
        }
    }

    /// The stored `actor` id: the client's or the administrator's.
    fn id(&self) -> Option<&str> {
        match self {
            Actor::Client(id) | Actor::Administrator(id) => Some(id),
            Actor::Cli | Actor::System => None,
        }
    }
}

/// Who acted, as the admin API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ActorView {
    /// `administrator`, `client`, `cli` or `system`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The administrator's or client's id; `null` for the CLI and the server.
    pub id: Option<String>,
    /// A name for people: the administrator's email, the client's name, "command line",
    /// "Tessera"; the id when the actor no longer exists.
    pub display: String,
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
    /// Who acted.
    pub actor: ActorView,
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
    record_at(db, now(), kind, actor, target, details).await
}

pub(crate) async fn record_at(
    db: &impl ConnectionTrait,
    time: DateTime<Utc>,
    kind: &str,
    actor: &Actor,
    target: Option<&str>,
    details: serde_json::Value,
) -> Result<(), StoreError> {
    audit_event::ActiveModel {
        time: Set(time),
        r#type: Set(kind.to_owned()),
        actor: Set(actor.id().map(str::to_owned)),
        actor_type: Set(Some(actor.kind().to_owned())),
        // A caller may send a secret where an id belongs: never store one.
        target: Set(target.map(|t| crate::secret::loggable_id(t).to_owned())),
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
    /// When set, only events whose actor or target is one of these (a delegated admin's view).
    pub among: Option<Vec<String>>,
    /// When set, only events about these projects: their clients (as actor or target), and
    /// the projects, APIs, roles and members themselves as targets of their own event kinds.
    pub projects: Option<Vec<String>>,
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
    if let Some(ids) = &filter.among {
        q = q.filter(
            sea_orm::Condition::any()
                .add(audit_event::Column::Actor.is_in(ids.iter().cloned()))
                .add(audit_event::Column::Target.is_in(ids.iter().cloned())),
        );
    }
    if let Some(ps) = &filter.projects {
        q = q.filter(about_projects(ps));
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

/// Events about `projects`, by subqueries (no id list is bound, whatever the number of
/// clients). Each kind of object matches only events of its own kind, so a role named like
/// another project's client or project never matches.
fn about_projects(projects: &[String]) -> sea_orm::Condition {
    use entity::{api, client, membership, role};
    use sea_orm::sea_query::Query;
    let ps = || projects.iter().cloned();
    let clients = Query::select()
        .column(client::Column::ClientId)
        .from(client::Entity)
        .and_where(client::Column::Project.is_in(ps()))
        .to_owned();
    let apis = Query::select()
        .column(api::Column::Name)
        .from(api::Entity)
        .and_where(api::Column::Project.is_in(ps()))
        .and_where(api::Column::Builtin.eq(false))
        .to_owned();
    let roles = Query::select()
        .column(role::Column::Name)
        .from(role::Entity)
        .and_where(role::Column::Project.is_in(ps()))
        .to_owned();
    let members = Query::select()
        .column(membership::Column::AdministratorId)
        .from(membership::Entity)
        .and_where(membership::Column::Project.is_in(ps()))
        .to_owned();
    let of_kind = |prefix: &str, c: sea_orm::Condition| {
        sea_orm::Condition::all()
            .add(audit_event::Column::Type.starts_with(prefix))
            .add(c)
    };
    sea_orm::Condition::any()
        .add(audit_event::Column::Actor.in_subquery(clients.clone()))
        .add(audit_event::Column::Target.in_subquery(clients))
        .add(of_kind(
            "project.",
            sea_orm::Condition::all().add(audit_event::Column::Target.is_in(ps())),
        ))
        .add(of_kind(
            "api.",
            sea_orm::Condition::all().add(audit_event::Column::Target.in_subquery(apis)),
        ))
        .add(of_kind(
            "role.",
            sea_orm::Condition::all().add(audit_event::Column::Target.in_subquery(roles)),
        ))
        .add(of_kind(
            "administrator.",
            sea_orm::Condition::all().add(audit_event::Column::Target.in_subquery(members)),
        ))
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
    // Names for the actors on this page, in two queries.
    let ids = |kind: &str| -> Vec<String> {
        rows.iter()
            .filter(|r| r.actor_type.as_deref().unwrap_or("client") == kind)
            .filter_map(|r| r.actor.clone())
            .collect()
    };
    let clients: std::collections::BTreeMap<String, String> = entity::client::Entity::find()
        .filter(entity::client::Column::ClientId.is_in(ids("client")))
        .all(db)
        .await?
        .into_iter()
        .map(|c| (c.client_id, c.name))
        .collect();
    let people: std::collections::BTreeMap<String, String> = entity::administrator::Entity::find()
        .filter(entity::administrator::Column::Id.is_in(ids("administrator")))
        .all(db)
        .await?
        .into_iter()
        .map(|a| (a.id, a.email))
        .collect();
    Ok((
        rows.into_iter()
            .map(|r| {
                let kind = r
                    .actor_type
                    .clone()
                    .unwrap_or_else(|| if r.actor.is_some() { "client" } else { "cli" }.to_owned());
                let display = match (kind.as_str(), &r.actor) {
                    ("client", Some(id)) => clients.get(id).cloned().unwrap_or_else(|| id.clone()),
                    ("administrator", Some(id)) => {
                        people.get(id).cloned().unwrap_or_else(|| id.clone())
                    }
                    ("system", _) => "Tessera".to_owned(),
                    _ => "command line".to_owned(),
                };
                AuditEvent {
                    id: r.id,
                    time: r.time,
                    kind: r.r#type,
                    actor: ActorView {
                        kind,
                        id: r.actor,
                        display,
                    },
                    target: r.target,
                    details: serde_json::from_str(&r.details).unwrap_or_default(),
                }
            })
            .collect(),
        total,
    ))
}

/// Tokens issued to `client_id` in each of the `hours` hours from `since`, from the
/// per-minute counters (one row per minute with use, so at most 60 a hour).
pub async fn tokens_issued_hourly(
    db: &impl ConnectionTrait,
    client_id: &str,
    since: DateTime<Utc>,
    hours: usize,
) -> Result<Vec<u64>, StoreError> {
    let rows = audit_event::Entity::find()
        .filter(audit_event::Column::Type.eq("token.issued"))
        .filter(audit_event::Column::Target.eq(client_id))
        .filter(audit_event::Column::Time.gte(since))
        .all(db)
        .await?;
    let mut buckets = vec![0u64; hours];
    for r in rows {
        let Ok(hour) = usize::try_from((r.time - since).num_hours()) else {
            continue;
        };
        let count = serde_json::from_str::<serde_json::Value>(&r.details)
            .ok()
            .and_then(|d| d["count"].as_u64())
            .unwrap_or(0);
        if let Some(b) = buckets.get_mut(hour) {
            *b += count;
        }
    }
    Ok(buckets)
}

/// Tokens issued to `client_id` since `since` (at most a day or so ago), from the
/// per-minute counters.
pub async fn tokens_issued_since(
    db: &impl ConnectionTrait,
    client_id: &str,
    since: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let hours = usize::try_from((Utc::now() - since).num_hours()).unwrap_or(0) + 2;
    Ok(tokens_issued_hourly(db, client_id, since, hours)
        .await?
        .iter()
        .sum())
}
