//! Administrators (people), their memberships in projects, and the ceiling on what they may
//! grant (SPEC §7).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use entity::{admin_session, administrator, client, enrollment_token, membership};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, Set,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::StoreError;
use super::apis::now;
use super::audit::{self, Actor};

/// How long an enrollment link works.
pub const ENROLLMENT_TTL: chrono::TimeDelta = chrono::TimeDelta::hours(24);

/// An administrator's role in a project.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum ProjectRole {
    /// Reads everything in the project; never a secret.
    Viewer,
    /// Manages its clients, secrets, roles and APIs.
    Admin,
    /// Admin, plus the project's memberships.
    Owner,
}

impl ProjectRole {
    fn as_str(self) -> &'static str {
        match self {
            ProjectRole::Viewer => "viewer",
            ProjectRole::Admin => "admin",
            ProjectRole::Owner => "owner",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s {
            "viewer" => Some(ProjectRole::Viewer),
            "admin" => Some(ProjectRole::Admin),
            "owner" => Some(ProjectRole::Owner),
            _ => None,
        }
    }

    /// Whether it manages clients (admin or owner).
    pub fn manages(self) -> bool {
        self >= ProjectRole::Admin
    }
}

/// A role in one project, with an optional ceiling on the scopes its holder may grant there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Membership {
    /// The project.
    pub project: String,
    /// `viewer`, `admin` or `owner`.
    pub role: ProjectRole,
    /// The scopes this administrator may grant in the project; `null` or absent: all,
    /// `[]`: none.
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
}

/// An administrator as users see it. Never carries a password or its hash.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Administrator {
    /// Opaque id.
    pub id: String,
    /// The sign-in name, lower-cased.
    pub email: String,
    /// Display name.
    pub display_name: String,
    /// Whether they may sign in and their clients work.
    pub enabled: bool,
    /// Every project; manages projects, administrators and signing keys.
    pub superadmin: bool,
    /// Whether enrollment is done (a password is set).
    pub enrolled: bool,
    /// Their roles in projects.
    pub memberships: Vec<Membership>,
    /// When they were made.
    pub created_at: DateTime<Utc>,
    /// Last completed sign-in.
    pub last_sign_in_at: Option<DateTime<Utc>>,
}

impl Administrator {
    /// Their membership in `project`.
    pub fn membership(&self, project: &str) -> Option<&Membership> {
        self.memberships.iter().find(|m| m.project == project)
    }

    /// Whether they manage clients in `project` now (enabled, and superadmin or admin/owner
    /// there).
    pub fn manages(&self, project: &str) -> bool {
        self.enabled
            && (self.superadmin || self.membership(project).is_some_and(|m| m.role.manages()))
    }

    /// What they may grant in `project`: `None` for anything, else the ceiling. The built-in
    /// admin API only by owners and superadmins.
    pub fn ceiling(&self, project: &str) -> Ceiling {
        if !self.manages(project) {
            return Ceiling::Nothing;
        }
        if self.superadmin {
            return Ceiling::Anything;
        }
        let Some(m) = self.membership(project) else {
            return Ceiling::Nothing;
        };
        Ceiling::Limited {
            scopes: m.scopes.as_ref().map(|s| s.iter().cloned().collect()),
            admin_api: m.role == ProjectRole::Owner,
        }
    }
}

/// What an administrator may grant in a project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ceiling {
    /// Superadmins.
    Anything,
    /// Not a manager of the project (disabled, viewer, no membership): nothing, and their
    /// clients there are not effective.
    Nothing,
    /// A project admin or owner.
    Limited {
        /// The membership's ceiling; `None` for every scope of the project.
        scopes: Option<BTreeSet<String>>,
        /// Whether `admin:*` scopes may be granted (owners).
        admin_api: bool,
    },
}

impl Ceiling {
    /// Whether `scope` is within the ceiling.
    pub fn allows(&self, scope: &str) -> bool {
        match self {
            Ceiling::Anything => true,
            Ceiling::Nothing => false,
            Ceiling::Limited { scopes, admin_api } => {
                let is_admin = scope
                    .split_once(':')
                    .is_some_and(|(api, _)| api == super::apis::ADMIN_API);
                (!is_admin || *admin_api) && scopes.as_ref().is_none_or(|s| s.contains(scope))
            }
        }
    }
}

/// What it takes to make an administrator.
#[derive(Debug, Clone, Default)]
pub struct NewAdministrator {
    /// Sign-in name (any case).
    pub email: String,
    /// Display name; the email when empty.
    pub display_name: String,
    /// Every project.
    pub superadmin: bool,
    /// Roles in projects.
    pub memberships: Vec<Membership>,
}

/// Changes to an administrator; `None` keeps a field.
#[derive(Debug, Clone, Default)]
pub struct AdministratorChange {
    /// Display name.
    pub display_name: Option<String>,
    /// Enabled.
    pub enabled: Option<bool>,
    /// Superadmin.
    pub superadmin: Option<bool>,
    /// Replaces every membership.
    pub memberships: Option<Vec<Membership>>,
}

/// Lower-cases and checks an email address.
pub fn normalise_email(email: &str) -> Result<String, StoreError> {
    let e = email.trim().to_lowercase();
    let ok = e.len() <= 254
        && !e.chars().any(|c| c.is_whitespace() || c.is_control())
        && e.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && !domain.is_empty() && !domain.contains('@')
        });
    if ok {
        Ok(e)
    } else {
        Err(StoreError::invalid("email", "must be an email address"))
    }
}

async fn check_memberships(
    db: &impl ConnectionTrait,
    memberships: &[Membership],
) -> Result<Vec<Membership>, StoreError> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::with_capacity(memberships.len());
    for m in memberships {
        if !seen.insert(m.project.clone()) {
            return Err(StoreError::invalid(
                "memberships",
                format!("project {:?} is listed twice", m.project),
            ));
        }
        if super::projects::get(db, &m.project).await.is_err() {
            return Err(StoreError::invalid(
                "memberships",
                format!("no project named {:?}", m.project),
            ));
        }
        let scopes = match &m.scopes {
            None => None,
            Some(list) => {
                let resolved = super::clients::resolve_scopes(db, Some(&m.project), list)
                    .await
                    .map_err(|e| match e {
                        StoreError::Invalid { message, .. } => {
                            StoreError::invalid("memberships", message)
                        }
                        other => other,
                    })?;
                Some(resolved.iter().map(ToString::to_string).collect())
            }
        };
        out.push(Membership {
            project: m.project.clone(),
            role: m.role,
            scopes,
        });
    }
    out.sort_by(|a, b| a.project.cmp(&b.project));
    Ok(out)
}

fn hash_token(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Issues a one-time enrollment token for `administrator_id` (valid [`ENROLLMENT_TTL`]);
/// only its SHA-256 is stored. Earlier unused tokens of the same person stop working.
pub async fn issue_enrollment(
    db: &impl ConnectionTrait,
    administrator_id: &str,
) -> Result<String, StoreError> {
    enrollment_token::Entity::delete_many()
        .filter(enrollment_token::Column::AdministratorId.eq(administrator_id))
        .filter(enrollment_token::Column::UsedAt.is_null())
        .exec(db)
        .await?;
    let token = crate::secret::random_token(32);
    enrollment_token::ActiveModel {
        token_hash: Set(hash_token(&token)),
        administrator_id: Set(administrator_id.to_owned()),
        expires_at: Set(now() + ENROLLMENT_TTL),
        used_at: Set(None),
    }
    .insert(db)
    .await?;
    Ok(token)
}

async fn memberships_of(
    db: &impl ConnectionTrait,
    ids: &[String],
) -> Result<BTreeMap<String, Vec<Membership>>, StoreError> {
    let mut out: BTreeMap<String, Vec<Membership>> = BTreeMap::new();
    if ids.is_empty() {
        return Ok(out);
    }
    for m in membership::Entity::find()
        .filter(membership::Column::AdministratorId.is_in(ids.iter().cloned()))
        .order_by_asc(membership::Column::Project)
        .all(db)
        .await?
    {
        let Some(role) = ProjectRole::parse(&m.role) else {
            continue;
        };
        out.entry(m.administrator_id).or_default().push(Membership {
            project: m.project,
            role,
            scopes: m.scopes.and_then(|s| serde_json::from_str(&s).ok()),
        });
    }
    Ok(out)
}

fn to_view(m: administrator::Model, memberships: Vec<Membership>) -> Administrator {
    Administrator {
        enrolled: m.password_hash.is_some(),
        id: m.id,
        email: m.email,
        display_name: m.display_name,
        enabled: m.enabled,
        superadmin: m.superadmin,
        memberships,
        created_at: m.created_at,
        last_sign_in_at: m.last_sign_in_at,
    }
}

/// Administrators, by email; with `project`, only those with a membership there (and
/// superadmins).
pub async fn list(
    db: &impl ConnectionTrait,
    projects: Option<&[String]>,
) -> Result<Vec<Administrator>, StoreError> {
    let models = administrator::Entity::find()
        .order_by_asc(administrator::Column::Email)
        .all(db)
        .await?;
    let ids: Vec<String> = models.iter().map(|m| m.id.clone()).collect();
    let mut memberships = memberships_of(db, &ids).await?;
    Ok(models
        .into_iter()
        .map(|m| {
            let ms = memberships.remove(&m.id).unwrap_or_default();
            to_view(m, ms)
        })
        .filter(|a| projects.is_none_or(|p| a.memberships.iter().any(|m| p.contains(&m.project))))
        .collect())
}

/// One administrator by id.
pub async fn get(db: &impl ConnectionTrait, id: &str) -> Result<Administrator, StoreError> {
    let m = administrator::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("administrator {id}")))?;
    let ms = memberships_of(db, std::slice::from_ref(&m.id))
        .await?
        .remove(&m.id);
    Ok(to_view(m, ms.unwrap_or_default()))
}

/// One administrator by email (any case).
pub async fn find_by_email(
    db: &impl ConnectionTrait,
    email: &str,
) -> Result<Option<Administrator>, StoreError> {
    let email = email.trim().to_lowercase();
    let Some(m) = administrator::Entity::find()
        .filter(administrator::Column::Email.eq(email))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let ms = memberships_of(db, std::slice::from_ref(&m.id))
        .await?
        .remove(&m.id);
    Ok(Some(to_view(m, ms.unwrap_or_default())))
}

/// Whether `id` manages clients in `project` now.
pub async fn manages(
    db: &impl ConnectionTrait,
    id: &str,
    project: &str,
) -> Result<bool, StoreError> {
    match get(db, id).await {
        Ok(a) => Ok(a.manages(project)),
        Err(StoreError::NotFound(_)) => Ok(false),
        Err(e) => Err(e),
    }
}

async fn write_memberships(
    txn: &impl ConnectionTrait,
    id: &str,
    memberships: &[Membership],
) -> Result<(), StoreError> {
    membership::Entity::delete_many()
        .filter(membership::Column::AdministratorId.eq(id))
        .exec(txn)
        .await?;
    for m in memberships {
        membership::ActiveModel {
            administrator_id: Set(id.to_owned()),
            project: Set(m.project.clone()),
            role: Set(m.role.as_str().to_owned()),
            scopes: Set(m
                .scopes
                .as_ref()
                .map(|s| serde_json::to_string(s).unwrap_or_else(|_| "[]".into()))),
        }
        .insert(txn)
        .await?;
    }
    Ok(())
}

/// Makes an administrator and their first enrollment token.
pub async fn create(
    db: &DatabaseConnection,
    new: NewAdministrator,
    actor: &Actor,
) -> Result<(Administrator, String), StoreError> {
    let email = normalise_email(&new.email)?;
    if new.display_name.chars().count() > 200 {
        return Err(StoreError::invalid(
            "display_name",
            "must be at most 200 characters",
        ));
    }
    let memberships = check_memberships(db, &new.memberships).await?;
    let txn = super::begin_write(db).await?;
    if administrator::Entity::find()
        .filter(administrator::Column::Email.eq(email.as_str()))
        .one(&txn)
        .await?
        .is_some()
    {
        return Err(StoreError::Conflict {
            field: "email",
            message: format!("an administrator with email {email:?} exists"),
        });
    }
    let id = crate::secret::random_id(12);
    let display_name = match new.display_name.trim() {
        "" => email.clone(),
        d => d.to_owned(),
    };
    let now = now();
    administrator::ActiveModel {
        id: Set(id.clone()),
        email: Set(email.clone()),
        display_name: Set(display_name),
        enabled: Set(true),
        superadmin: Set(new.superadmin),
        password_hash: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        last_sign_in_at: Set(None),
    }
    .insert(&txn)
    .await?;
    write_memberships(&txn, &id, &memberships).await?;
    let token = issue_enrollment(&txn, &id).await?;
    audit::record(
        &txn,
        "administrator.created",
        actor,
        Some(&id),
        serde_json::json!({"email": email, "superadmin": new.superadmin, "memberships": memberships}),
    )
    .await?;
    txn.commit().await?;
    Ok((get(db, &id).await?, token))
}

/// Disables the clients `id` owns in `projects` (`None`: every project), and the clients those
/// own, in the caller's transaction. Returns the ids disabled.
async fn disable_clients_of(
    txn: &impl ConnectionTrait,
    id: &str,
    projects: Option<&[String]>,
    actor: &Actor,
) -> Result<Vec<String>, StoreError> {
    let mut q = client::Entity::find().filter(client::Column::OwnerAdministrator.eq(id));
    if let Some(p) = projects {
        q = q.filter(client::Column::Project.is_in(p.iter().cloned()));
    }
    let mut out = Vec::new();
    for c in q.all(txn).await? {
        if c.enabled {
            let now = now();
            client::Entity::update_many()
                .col_expr(client::Column::Enabled, Expr::value(false))
                .col_expr(client::Column::UpdatedAt, Expr::value(now))
                .col_expr(client::Column::TokensValidAfter, Expr::value(Some(now)))
                .filter(client::Column::ClientId.eq(c.client_id.as_str()))
                .exec(txn)
                .await?;
            audit::record(
                txn,
                "client.disabled",
                actor,
                Some(&c.client_id),
                serde_json::json!({"changed": ["enabled"], "because_administrator": id}),
            )
            .await?;
            out.push(c.client_id.clone());
        }
        super::changes::record(txn, &c.client_id).await?;
        out.extend(super::clients::disable_owned(txn, &c.client_id, actor).await?);
    }
    Ok(out)
}

/// Ends every session of `id`.
pub async fn end_sessions(txn: &impl ConnectionTrait, id: &str) -> Result<(), StoreError> {
    admin_session::Entity::delete_many()
        .filter(admin_session::Column::AdministratorId.eq(id))
        .exec(txn)
        .await?;
    Ok(())
}

/// Changes an administrator. Disabling ends their sessions and disables their clients;
/// removing a membership (or demoting it to viewer) disables their clients in that project.
/// Returns the administrator and the ids of the clients disabled.
pub async fn update(
    db: &DatabaseConnection,
    id: &str,
    change: AdministratorChange,
    actor: &Actor,
) -> Result<(Administrator, Vec<String>), StoreError> {
    let before = get(db, id).await?;
    if let Some(d) = &change.display_name
        && (d.trim().is_empty() || d.chars().count() > 200)
    {
        return Err(StoreError::invalid(
            "display_name",
            "must be 1 to 200 characters",
        ));
    }
    let memberships = match &change.memberships {
        Some(ms) => Some(check_memberships(db, ms).await?),
        None => None,
    };
    let txn = super::begin_write(db).await?;
    let model = administrator::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("administrator {id}")))?;
    let mut active: administrator::ActiveModel = model.into();
    let mut changed = Vec::new();
    if let Some(d) = &change.display_name
        && d.trim() != before.display_name
    {
        active.display_name = Set(d.trim().to_owned());
        changed.push("display_name");
    }
    if let Some(e) = change.enabled
        && e != before.enabled
    {
        active.enabled = Set(e);
        changed.push("enabled");
    }
    if let Some(s) = change.superadmin
        && s != before.superadmin
    {
        active.superadmin = Set(s);
        changed.push("superadmin");
    }
    active.updated_at = Set(now());
    active.update(&txn).await?;
    if let Some(ms) = &memberships
        && *ms != before.memberships
    {
        write_memberships(&txn, id, ms).await?;
        changed.push("memberships");
    }
    let after_enabled = change.enabled.unwrap_or(before.enabled);
    let after_superadmin = change.superadmin.unwrap_or(before.superadmin);
    let mut disabled = Vec::new();
    if before.enabled && !after_enabled {
        end_sessions(&txn, id).await?;
        disabled = disable_clients_of(&txn, id, None, actor).await?;
    } else if let Some(ms) = &memberships {
        // Projects where they managed clients before and no longer do.
        let manages_after =
            |p: &str| after_superadmin || ms.iter().any(|m| m.project == p && m.role.manages());
        let lost: Vec<String> = client::Entity::find()
            .filter(client::Column::OwnerAdministrator.eq(id))
            .all(&txn)
            .await?
            .into_iter()
            .map(|c| c.project)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .filter(|p| !manages_after(p))
            .collect();
        if !lost.is_empty() {
            disabled = disable_clients_of(&txn, id, Some(&lost), actor).await?;
        }
    } else if before.superadmin && !after_superadmin {
        let lost: Vec<String> = client::Entity::find()
            .filter(client::Column::OwnerAdministrator.eq(id))
            .all(&txn)
            .await?
            .into_iter()
            .map(|c| c.project)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .filter(|p| !before.membership(p).is_some_and(|m| m.role.manages()))
            .collect();
        if !lost.is_empty() {
            disabled = disable_clients_of(&txn, id, Some(&lost), actor).await?;
        }
    }
    // Their clients' effective scopes follow the ceiling: every replica reloads them.
    for c in client::Entity::find()
        .filter(client::Column::OwnerAdministrator.eq(id))
        .all(&txn)
        .await?
    {
        super::changes::record(&txn, &c.client_id).await?;
        for owned in super::clients::owned_transitively(&txn, &c.client_id).await? {
            super::changes::record(&txn, &owned).await?;
        }
    }
    let kind = match (before.enabled, after_enabled) {
        (true, false) => "administrator.disabled",
        (false, true) => "administrator.enabled",
        _ => "administrator.updated",
    };
    audit::record(
        &txn,
        kind,
        actor,
        Some(id),
        serde_json::json!({"changed": changed, "clients_disabled": disabled.len()}),
    )
    .await?;
    txn.commit().await?;
    Ok((get(db, id).await?, disabled))
}

/// Deletes an administrator: their sessions, factors and memberships go; their clients stay,
/// disabled, until transferred. Returns the ids of the clients disabled.
pub async fn delete(
    db: &DatabaseConnection,
    id: &str,
    actor: &Actor,
) -> Result<Vec<String>, StoreError> {
    let txn = super::begin_write(db).await?;
    let Some(model) = administrator::Entity::find_by_id(id).one(&txn).await? else {
        return Err(StoreError::NotFound(format!("administrator {id}")));
    };
    let disabled = disable_clients_of(&txn, id, None, actor).await?;
    end_sessions(&txn, id).await?;
    administrator::Entity::delete_by_id(id).exec(&txn).await?;
    audit::record(
        &txn,
        "administrator.deleted",
        actor,
        Some(id),
        serde_json::json!({"email": model.email, "clients_disabled": disabled.len()}),
    )
    .await?;
    txn.commit().await?;
    Ok(disabled)
}

/// Makes `new_owner` the owner of `client_id` (a person; the client stops being owned by a
/// client). The client keeps its state: a disabled one can then be re-enabled.
pub async fn transfer(
    db: &DatabaseConnection,
    client_id: &str,
    new_owner: &str,
    actor: &Actor,
) -> Result<(), StoreError> {
    let txn = super::begin_write(db).await?;
    let c = client::Entity::find_by_id(client_id)
        .one(&txn)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("client {client_id}")))?;
    let from = c
        .owner_administrator
        .clone()
        .map(|a| serde_json::json!({"type": "administrator", "id": a}))
        .or_else(|| {
            c.owner
                .clone()
                .map(|o| serde_json::json!({"type": "client", "id": o}))
        });
    let mut active: client::ActiveModel = c.into();
    active.owner_administrator = Set(Some(new_owner.to_owned()));
    active.owner = Set(None);
    active.updated_at = Set(now());
    active.update(&txn).await?;
    super::changes::record(&txn, client_id).await?;
    for owned in super::clients::owned_transitively(&txn, client_id).await? {
        super::changes::record(&txn, &owned).await?;
    }
    audit::record(
        &txn,
        "client.transferred",
        actor,
        Some(client_id),
        serde_json::json!({"from": from, "to": {"type": "administrator", "id": new_owner}}),
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceilings() {
        let limited = Ceiling::Limited {
            scopes: Some(BTreeSet::from(["orders:read".to_owned()])),
            admin_api: false,
        };
        assert!(limited.allows("orders:read"));
        assert!(!limited.allows("orders:write"));
        let open = Ceiling::Limited {
            scopes: None,
            admin_api: false,
        };
        assert!(open.allows("orders:write"));
        assert!(!open.allows("admin:read"));
        assert!(!Ceiling::Nothing.allows("orders:read"));
        assert!(Ceiling::Anything.allows("admin:write"));
    }

    #[test]
    fn emails() {
        assert_eq!(
            normalise_email(" Ada@Example.COM ").unwrap(),
            "ada@example.com"
        );
        assert!(normalise_email("nobody").is_err());
        assert!(normalise_email("a@b@c").is_err());
        assert!(normalise_email("a b@c").is_err());
    }
}
