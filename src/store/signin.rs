//! What sign-in reads and writes: administrators' passwords, enrollment tokens, TOTP
//! credentials and console sessions (SPEC §7). Tokens and session ids are stored as their
//! SHA-256 only; TOTP secrets sealed under the key-encryption key.

use chrono::{DateTime, Utc};
use entity::{admin_session, administrator, enrollment_token, passkey, totp_credential};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, EntityTrait,
    QueryFilter, QueryOrder, Set, TransactionTrait,
};

use super::StoreError;

/// An administrator as sign-in sees one.
#[derive(Clone)]
pub struct Person {
    pub id: String,
    pub email: String,
    pub display_name: String,
    pub enabled: bool,
    /// argon2id PHC string; `None` until enrollment.
    pub password_hash: Option<String>,
}

impl std::fmt::Debug for Person {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Person")
            .field("id", &self.id)
            .field("enabled", &self.enabled)
            .finish_non_exhaustive()
    }
}

impl From<administrator::Model> for Person {
    fn from(m: administrator::Model) -> Self {
        Person {
            id: m.id,
            email: m.email,
            display_name: m.display_name,
            enabled: m.enabled,
            password_hash: m.password_hash,
        }
    }
}

/// One console session row.
#[derive(Clone)]
pub struct SessionRecord {
    /// SHA-256 hex of the cookie value.
    pub id_hash: String,
    pub administrator_id: String,
    pub csrf_token: String,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub second_factor_at: Option<DateTime<Utc>>,
    pub pending: Option<String>,
    pub source: Option<String>,
}

impl std::fmt::Debug for SessionRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionRecord")
            .field("administrator_id", &self.administrator_id)
            .field("second_factor_at", &self.second_factor_at)
            .finish_non_exhaustive()
    }
}

impl From<admin_session::Model> for SessionRecord {
    fn from(m: admin_session::Model) -> Self {
        SessionRecord {
            id_hash: m.id_hash,
            administrator_id: m.administrator_id,
            csrf_token: m.csrf_token,
            created_at: m.created_at,
            last_seen_at: m.last_seen_at,
            second_factor_at: m.second_factor_at,
            pending: m.pending,
            source: m.source,
        }
    }
}

/// The administrator with this (lower-cased) email.
pub async fn person_by_email(
    db: &impl ConnectionTrait,
    email: &str,
) -> Result<Option<Person>, StoreError> {
    Ok(administrator::Entity::find()
        .filter(administrator::Column::Email.eq(email))
        .one(db)
        .await?
        .map(Person::from))
}

/// The administrator with this id.
pub async fn person(db: &impl ConnectionTrait, id: &str) -> Result<Option<Person>, StoreError> {
    Ok(administrator::Entity::find_by_id(id.to_owned())
        .one(db)
        .await?
        .map(Person::from))
}

/// Records a completed sign-in.
pub async fn record_sign_in(
    db: &impl ConnectionTrait,
    administrator_id: &str,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    administrator::Entity::update_many()
        .col_expr(administrator::Column::LastSignInAt, Expr::value(at))
        .filter(administrator::Column::Id.eq(administrator_id))
        .exec(db)
        .await?;
    Ok(())
}

/// The administrator an unused, unexpired enrollment token belongs to.
pub async fn enrollment_holder(
    db: &impl ConnectionTrait,
    token_hash: &str,
    now: DateTime<Utc>,
) -> Result<Option<Person>, StoreError> {
    let Some(token) = enrollment_token::Entity::find_by_id(token_hash.to_owned())
        .filter(enrollment_token::Column::UsedAt.is_null())
        .filter(enrollment_token::Column::ExpiresAt.gt(now))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    person(db, &token.administrator_id).await
}

/// What completing an enrollment stores.
pub struct Enrolled<'a> {
    pub token_hash: &'a str,
    pub administrator_id: &'a str,
    pub password_hash: &'a str,
    pub totp_secret_jwe: String,
    /// The TOTP step of the code that confirmed the secret: it is not accepted again.
    pub totp_step: i64,
}

/// Spends the enrollment token and stores the password and the TOTP secret, all or nothing.
/// `false` (nothing stored) when the token was spent or expired meanwhile. Sessions the
/// administrator had end: the password changed.
pub async fn complete_enrollment(
    db: &DatabaseConnection,
    e: Enrolled<'_>,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let txn = super::begin_write(db).await?;
    let spent = enrollment_token::Entity::update_many()
        .col_expr(enrollment_token::Column::UsedAt, Expr::value(now))
        .filter(enrollment_token::Column::TokenHash.eq(e.token_hash))
        .filter(enrollment_token::Column::AdministratorId.eq(e.administrator_id))
        .filter(enrollment_token::Column::UsedAt.is_null())
        .filter(enrollment_token::Column::ExpiresAt.gt(now))
        .exec(&txn)
        .await?;
    if spent.rows_affected != 1 {
        txn.rollback().await?;
        return Ok(false);
    }
    let changed = administrator::Entity::update_many()
        .col_expr(
            administrator::Column::PasswordHash,
            Expr::value(e.password_hash.to_owned()),
        )
        .col_expr(administrator::Column::UpdatedAt, Expr::value(now))
        .filter(administrator::Column::Id.eq(e.administrator_id))
        .filter(administrator::Column::Enabled.eq(true))
        .exec(&txn)
        .await?;
    if changed.rows_affected != 1 {
        txn.rollback().await?;
        return Ok(false);
    }
    totp_credential::Entity::delete_by_id(e.administrator_id.to_owned())
        .exec(&txn)
        .await?;
    // A recovery link starts from nothing: a passkey someone else added does not survive it.
    passkey::Entity::delete_many()
        .filter(passkey::Column::AdministratorId.eq(e.administrator_id))
        .exec(&txn)
        .await?;
    totp_credential::ActiveModel {
        administrator_id: Set(e.administrator_id.to_owned()),
        secret_jwe: Set(e.totp_secret_jwe),
        last_step: Set(Some(e.totp_step)),
        created_at: Set(now),
    }
    .insert(&txn)
    .await?;
    admin_session::Entity::delete_many()
        .filter(admin_session::Column::AdministratorId.eq(e.administrator_id))
        .exec(&txn)
        .await?;
    let actor = super::audit::Actor::Administrator(e.administrator_id.to_owned());
    super::audit::record(
        &txn,
        "administrator.enrolled",
        &actor,
        Some(e.administrator_id),
        serde_json::json!({"second_factor": "totp"}),
    )
    .await?;
    txn.commit().await?;
    Ok(true)
}

/// The sealed TOTP secret of an administrator, if one is set.
pub async fn totp_secret(
    db: &impl ConnectionTrait,
    administrator_id: &str,
) -> Result<Option<String>, StoreError> {
    Ok(
        totp_credential::Entity::find_by_id(administrator_id.to_owned())
            .one(db)
            .await?
            .map(|t| t.secret_jwe),
    )
}

/// Accepts TOTP step `step` once: true only for the one caller that moved `last_step` up to
/// it (a single conditional UPDATE, so two replicas cannot both accept the same code).
pub async fn accept_totp_step(
    db: &impl ConnectionTrait,
    administrator_id: &str,
    step: i64,
) -> Result<bool, StoreError> {
    let result = totp_credential::Entity::update_many()
        .col_expr(totp_credential::Column::LastStep, Expr::value(step))
        .filter(totp_credential::Column::AdministratorId.eq(administrator_id))
        .filter(
            Condition::any()
                .add(totp_credential::Column::LastStep.is_null())
                .add(totp_credential::Column::LastStep.lt(step)),
        )
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Stores a new session.
pub async fn insert_session(db: &impl ConnectionTrait, s: SessionRecord) -> Result<(), StoreError> {
    admin_session::ActiveModel {
        id_hash: Set(s.id_hash),
        administrator_id: Set(s.administrator_id),
        csrf_token: Set(s.csrf_token),
        created_at: Set(s.created_at),
        last_seen_at: Set(s.last_seen_at),
        second_factor_at: Set(s.second_factor_at),
        pending: Set(s.pending),
        source: Set(s.source),
    }
    .insert(db)
    .await?;
    Ok(())
}

/// A session and its administrator.
pub async fn session(
    db: &impl ConnectionTrait,
    id_hash: &str,
) -> Result<Option<(SessionRecord, Person)>, StoreError> {
    let Some(s) = admin_session::Entity::find_by_id(id_hash.to_owned())
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let Some(p) = person(db, &s.administrator_id).await? else {
        return Ok(None);
    };
    Ok(Some((s.into(), p)))
}

/// Marks a session as used now.
pub async fn touch_session(
    db: &impl ConnectionTrait,
    id_hash: &str,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    admin_session::Entity::update_many()
        .col_expr(admin_session::Column::LastSeenAt, Expr::value(at))
        .filter(admin_session::Column::IdHash.eq(id_hash))
        .exec(db)
        .await?;
    Ok(())
}

/// Records a fresh second factor in a signed-in session (re-authentication).
pub async fn second_factor_entered(
    db: &impl ConnectionTrait,
    id_hash: &str,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    admin_session::Entity::update_many()
        .col_expr(admin_session::Column::SecondFactorAt, Expr::value(at))
        .col_expr(admin_session::Column::LastSeenAt, Expr::value(at))
        .filter(admin_session::Column::IdHash.eq(id_hash))
        .filter(admin_session::Column::SecondFactorAt.is_not_null())
        .exec(db)
        .await?;
    Ok(())
}

/// Clears the step in progress of a session if it is still `expected`; true if it was.
pub async fn take_pending(
    db: &impl ConnectionTrait,
    id_hash: &str,
    expected: &str,
) -> Result<bool, StoreError> {
    let done = admin_session::Entity::update_many()
        .col_expr(admin_session::Column::Pending, Expr::value(None::<String>))
        .filter(admin_session::Column::IdHash.eq(id_hash))
        .filter(admin_session::Column::Pending.eq(expected))
        .exec(db)
        .await?;
    Ok(done.rows_affected == 1)
}

/// Replaces the step in progress of a session.
pub async fn set_pending(
    db: &impl ConnectionTrait,
    id_hash: &str,
    pending: Option<String>,
) -> Result<(), StoreError> {
    admin_session::Entity::update_many()
        .col_expr(admin_session::Column::Pending, Expr::value(pending))
        .filter(admin_session::Column::IdHash.eq(id_hash))
        .exec(db)
        .await?;
    Ok(())
}

/// Ends one session; true if it existed.
pub async fn delete_session(db: &impl ConnectionTrait, id_hash: &str) -> Result<bool, StoreError> {
    Ok(admin_session::Entity::delete_by_id(id_hash.to_owned())
        .exec(db)
        .await?
        .rows_affected
        == 1)
}

/// Ends every session of an administrator (disabled, deleted, or a new password).
pub async fn delete_sessions_of(
    db: &impl ConnectionTrait,
    administrator_id: &str,
) -> Result<u64, StoreError> {
    Ok(admin_session::Entity::delete_many()
        .filter(admin_session::Column::AdministratorId.eq(administrator_id))
        .exec(db)
        .await?
        .rows_affected)
}

/// Ends the sessions of an administrator unused since `idle_before` or begun before
/// `started_before` (expired ones that were never used again, so never refused and deleted).
pub async fn delete_expired_sessions_of(
    db: &impl ConnectionTrait,
    administrator_id: &str,
    idle_before: DateTime<Utc>,
    started_before: DateTime<Utc>,
) -> Result<u64, StoreError> {
    Ok(admin_session::Entity::delete_many()
        .filter(admin_session::Column::AdministratorId.eq(administrator_id))
        .filter(
            Condition::any()
                .add(admin_session::Column::LastSeenAt.lt(idle_before))
                .add(admin_session::Column::CreatedAt.lt(started_before)),
        )
        .exec(db)
        .await?
        .rows_affected)
}

/// Replaces a session by another in one transaction (a new id once sign-in completes, so an
/// id learned before cannot ride the signed-in session).
pub async fn replace_session(
    db: &DatabaseConnection,
    old_hash: &str,
    new: SessionRecord,
) -> Result<bool, StoreError> {
    let txn = db.begin().await?;
    if !delete_session(&txn, old_hash).await? {
        txn.rollback().await?;
        return Ok(false);
    }
    insert_session(&txn, new).await?;
    txn.commit().await?;
    Ok(true)
}

/// A registered passkey.
#[derive(Clone)]
pub struct StoredPasskey {
    /// base64url credential id.
    pub credential_id: String,
    pub name: String,
    /// The webauthn-rs `Passkey`, as JSON.
    pub passkey: String,
}

/// The passkeys of an administrator.
pub async fn passkeys_of(
    db: &impl ConnectionTrait,
    administrator_id: &str,
) -> Result<Vec<StoredPasskey>, StoreError> {
    Ok(passkey::Entity::find()
        .filter(passkey::Column::AdministratorId.eq(administrator_id))
        .all(db)
        .await?
        .into_iter()
        .map(|p| StoredPasskey {
            credential_id: p.credential_id,
            name: p.name,
            passkey: p.passkey,
        })
        .collect())
}

/// Registers a passkey; a credential id registered already (to anyone) is a conflict.
pub async fn insert_passkey(
    db: &impl ConnectionTrait,
    administrator_id: &str,
    p: StoredPasskey,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    if passkey::Entity::find_by_id(p.credential_id.clone())
        .one(db)
        .await?
        .is_some()
    {
        return Err(StoreError::Conflict {
            field: "credential",
            message: "this passkey is registered already".into(),
        });
    }
    let details = serde_json::json!({"name": p.name});
    passkey::ActiveModel {
        credential_id: Set(p.credential_id),
        administrator_id: Set(administrator_id.to_owned()),
        name: Set(p.name),
        passkey: Set(p.passkey),
        created_at: Set(now),
        last_used_at: Set(None),
    }
    .insert(db)
    .await?;
    let actor = super::audit::Actor::Administrator(administrator_id.to_owned());
    super::audit::record(
        db,
        "administrator.passkey_added",
        &actor,
        Some(administrator_id),
        details,
    )
    .await?;
    Ok(())
}

/// Records a passkey's use, with its updated state (signature counter, backup flags).
pub async fn passkey_used(
    db: &impl ConnectionTrait,
    credential_id: &str,
    updated: Option<String>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let mut update = passkey::Entity::update_many()
        .col_expr(passkey::Column::LastUsedAt, Expr::value(now))
        .filter(passkey::Column::CredentialId.eq(credential_id));
    if let Some(json) = updated {
        update = update.col_expr(passkey::Column::Passkey, Expr::value(json));
    }
    update.exec(db).await?;
    Ok(())
}

/// The sessions of an administrator, newest first (expired ones not yet deleted included:
/// the caller knows the timeouts).
pub async fn sessions_of(
    db: &impl ConnectionTrait,
    administrator_id: &str,
) -> Result<Vec<SessionRecord>, StoreError> {
    Ok(admin_session::Entity::find()
        .filter(admin_session::Column::AdministratorId.eq(administrator_id))
        .order_by_desc(admin_session::Column::CreatedAt)
        .all(db)
        .await?
        .into_iter()
        .map(SessionRecord::from)
        .collect())
}

/// Stores a new password and ends every session of the administrator but `keep` (the one
/// that changed it), all or nothing; audited. Returns how many sessions ended.
pub async fn change_password(
    db: &DatabaseConnection,
    administrator_id: &str,
    password_hash: &str,
    keep: &str,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let txn = super::begin_write(db).await?;
    let changed = administrator::Entity::update_many()
        .col_expr(
            administrator::Column::PasswordHash,
            Expr::value(password_hash.to_owned()),
        )
        .col_expr(administrator::Column::UpdatedAt, Expr::value(now))
        .filter(administrator::Column::Id.eq(administrator_id))
        .filter(administrator::Column::Enabled.eq(true))
        .exec(&txn)
        .await?;
    if changed.rows_affected != 1 {
        txn.rollback().await?;
        return Err(StoreError::NotFound(format!(
            "administrator {administrator_id}"
        )));
    }
    let ended = admin_session::Entity::delete_many()
        .filter(admin_session::Column::AdministratorId.eq(administrator_id))
        .filter(admin_session::Column::IdHash.ne(keep))
        .exec(&txn)
        .await?
        .rows_affected;
    let actor = super::audit::Actor::Administrator(administrator_id.to_owned());
    super::audit::record(
        &txn,
        "administrator.password_changed",
        &actor,
        Some(administrator_id),
        serde_json::json!({"other_sessions_ended": ended}),
    )
    .await?;
    txn.commit().await?;
    Ok(ended)
}

/// When an administrator's TOTP secret was set, if one is.
pub async fn totp_enrolled_at(
    db: &impl ConnectionTrait,
    administrator_id: &str,
) -> Result<Option<DateTime<Utc>>, StoreError> {
    Ok(
        totp_credential::Entity::find_by_id(administrator_id.to_owned())
            .one(db)
            .await?
            .map(|t| t.created_at),
    )
}

/// A passkey as its owner sees it in a list: never its key material.
#[derive(Debug, Clone)]
pub struct PasskeySummary {
    /// base64url credential id.
    pub credential_id: String,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
}

/// The passkeys of an administrator, oldest first.
pub async fn passkey_summaries(
    db: &impl ConnectionTrait,
    administrator_id: &str,
) -> Result<Vec<PasskeySummary>, StoreError> {
    Ok(passkey::Entity::find()
        .filter(passkey::Column::AdministratorId.eq(administrator_id))
        .order_by_asc(passkey::Column::CreatedAt)
        .all(db)
        .await?
        .into_iter()
        .map(|p| PasskeySummary {
            credential_id: p.credential_id,
            name: p.name,
            created_at: p.created_at,
            last_used_at: p.last_used_at,
        })
        .collect())
}

/// Removes one of an administrator's passkeys (only theirs); audited. False if they hold no
/// passkey with that id.
pub async fn delete_passkey(
    db: &DatabaseConnection,
    administrator_id: &str,
    credential_id: &str,
) -> Result<bool, StoreError> {
    let txn = super::begin_write(db).await?;
    let Some(found) = passkey::Entity::find_by_id(credential_id.to_owned())
        .filter(passkey::Column::AdministratorId.eq(administrator_id))
        .one(&txn)
        .await?
    else {
        txn.rollback().await?;
        return Ok(false);
    };
    passkey::Entity::delete_by_id(credential_id.to_owned())
        .exec(&txn)
        .await?;
    let actor = super::audit::Actor::Administrator(administrator_id.to_owned());
    super::audit::record(
        &txn,
        "administrator.passkey_removed",
        &actor,
        Some(administrator_id),
        serde_json::json!({"name": found.name}),
    )
    .await?;
    txn.commit().await?;
    Ok(true)
}
