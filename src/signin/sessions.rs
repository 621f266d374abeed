//! Server-side console sessions (SPEC §7): the cookie holds 256 random bits, the database
//! their SHA-256. A session whose second factor is pending grants nothing; idle and absolute
//! timeouts, and a disabled administrator, end a session on its next use.

use std::net::IpAddr;

use chrono::{DateTime, Utc};
use sea_orm::DatabaseConnection;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::{SigninError, sha256_hex};
use crate::config::ConsoleSettings;
use crate::secret::random_token;
use crate::store::{self, signin::Person, signin::SessionRecord};

/// Name of the session cookie.
pub const COOKIE: &str = "tessera_session";

/// `last_seen_at` is written at most this often per session (not on every request).
const TOUCH_EVERY: chrono::TimeDelta = chrono::TimeDelta::seconds(15);

/// How long the second factor may take after the password: a half-done sign-in older than
/// this is over.
pub const SECOND_FACTOR_WITHIN: chrono::TimeDelta = chrono::TimeDelta::minutes(5);

fn delta(d: std::time::Duration) -> chrono::TimeDelta {
    chrono::TimeDelta::from_std(d).unwrap_or(chrono::TimeDelta::MAX)
}

/// A step in progress, kept server-side with the session.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum Pending {
    /// The password was right; a second factor is due (with the state of a passkey ceremony
    /// once one has begun).
    SecondFactor {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        passkey: Option<String>,
    },
    /// Enrollment through the token with this hash; the TOTP secret offered (sealed).
    Enroll { token_hash: String, totp: String },
    /// A signed-in session registering a passkey: the ceremony's state.
    PasskeyRegistration { state: String },
    /// A client secret just made, to be shown once by the page the change redirects to
    /// (POST → redirect → GET, so a reload never posts again): sealed under the KEK, and
    /// taken (cleared) by the one GET that shows it.
    Reveal {
        client_id: String,
        kind: RevealKind,
        sealed: String,
    },
}

/// Why a secret is being shown.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum RevealKind {
    /// A new client's first secret.
    Created,
    /// A secret added beside the others.
    Added,
    /// The one secret left after a reset.
    Reset,
}

impl Pending {
    /// The second step of sign-in, before any passkey ceremony.
    pub const SECOND_FACTOR: Pending = Pending::SecondFactor { passkey: None };
}

/// A live session.
#[derive(Debug, Clone)]
pub struct Session {
    /// SHA-256 of the cookie value.
    pub id_hash: String,
    /// Checked against every form the session posts.
    pub csrf_token: String,
    /// Whose session it is.
    pub person: Person,
    /// When the second factor was last entered; `None` while sign-in is half done.
    pub second_factor_at: Option<DateTime<Utc>>,
    /// The step in progress, if any.
    pub pending: Option<Pending>,
}

impl Session {
    /// Whether sign-in is complete: only then does the session grant anything.
    pub fn signed_in(&self) -> bool {
        self.second_factor_at.is_some()
    }

    /// Whether the password was right and a second factor is due.
    pub fn second_factor_due(&self) -> bool {
        !self.signed_in() && matches!(self.pending, Some(Pending::SecondFactor { .. }))
    }

    /// Whether a second factor was entered within `window` of `now` (the re-authentication
    /// window of sensitive changes, `console.reauth_minutes`).
    pub fn reauthenticated_within(&self, window: std::time::Duration, now: DateTime<Utc>) -> bool {
        self.second_factor_at
            .is_some_and(|at| now - at <= delta(window))
    }

    /// Compares a presented CSRF token in constant time.
    pub fn csrf_matches(&self, presented: &str) -> bool {
        !presented.is_empty() && bool::from(self.csrf_token.as_bytes().ct_eq(presented.as_bytes()))
    }
}

/// A new session's cookie value (shown to the browser once) and CSRF token.
pub struct Started {
    pub cookie: Zeroizing<String>,
    pub csrf_token: String,
}

impl std::fmt::Debug for Started {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Started(…)")
    }
}

fn record(
    administrator_id: &str,
    signed_in: bool,
    pending: Option<&Pending>,
    source: Option<IpAddr>,
) -> Result<(Started, SessionRecord), SigninError> {
    let cookie = Zeroizing::new(random_token(32));
    let csrf_token = random_token(32);
    let now = Utc::now();
    let pending = pending
        .map(serde_json::to_string)
        .transpose()
        .map_err(|_| SigninError::Corrupt("pending step"))?;
    let row = SessionRecord {
        id_hash: sha256_hex(&cookie),
        administrator_id: administrator_id.to_owned(),
        csrf_token: csrf_token.clone(),
        created_at: now,
        last_seen_at: now,
        second_factor_at: signed_in.then_some(now),
        pending,
        source: source.map(|s| s.to_string()),
    };
    Ok((Started { cookie, csrf_token }, row))
}

/// Starts a session for an administrator: signed in (`signed_in`), or with `pending` due.
/// Their sessions that expired unseen are deleted on the way.
pub async fn start(
    db: &DatabaseConnection,
    settings: &ConsoleSettings,
    administrator_id: &str,
    signed_in: bool,
    pending: Option<&Pending>,
    source: Option<IpAddr>,
) -> Result<Started, SigninError> {
    let (started, row) = record(administrator_id, signed_in, pending, source)?;
    let now = row.created_at;
    store::signin::delete_expired_sessions_of(
        db,
        administrator_id,
        now - delta(settings.session_idle),
        now - delta(settings.session_max),
    )
    .await?;
    store::signin::insert_session(db, row).await?;
    if signed_in {
        store::signin::record_sign_in(db, administrator_id, Utc::now()).await?;
    }
    Ok(started)
}

/// Completes a half-done sign-in: the session is replaced by a signed-in one under a new id
/// (an id known before sign-in must not carry into it). `None` if the session ended meanwhile.
pub async fn complete_sign_in(
    db: &DatabaseConnection,
    session: &Session,
    source: Option<IpAddr>,
) -> Result<Option<Started>, SigninError> {
    let (started, row) = record(&session.person.id, true, None, source)?;
    if !store::signin::replace_session(db, &session.id_hash, row).await? {
        return Ok(None);
    }
    store::signin::record_sign_in(db, &session.person.id, Utc::now()).await?;
    Ok(Some(started))
}

/// The live session a cookie names, if any. An expired session (idle or absolute timeout) or
/// one of a disabled administrator is deleted and `None`.
pub async fn load(
    db: &DatabaseConnection,
    settings: &ConsoleSettings,
    cookie: &str,
    now: DateTime<Utc>,
) -> Result<Option<Session>, SigninError> {
    if cookie.is_empty() || cookie.len() > 64 {
        return Ok(None);
    }
    let id_hash = sha256_hex(cookie);
    let Some((row, person)) = store::signin::session(db, &id_hash).await? else {
        return Ok(None);
    };
    let pending: Option<Pending> = match row.pending.as_deref() {
        None => None,
        Some(json) => {
            Some(serde_json::from_str(json).map_err(|_| SigninError::Corrupt("pending step"))?)
        }
    };
    let expired = now - row.last_seen_at > delta(settings.session_idle)
        || now - row.created_at > delta(settings.session_max)
        || (matches!(pending, Some(Pending::SecondFactor { .. }))
            && now - row.created_at > SECOND_FACTOR_WITHIN);
    if expired || !person.enabled {
        store::signin::delete_session(db, &id_hash).await?;
        return Ok(None);
    }
    if now - row.last_seen_at > TOUCH_EVERY {
        store::signin::touch_session(db, &id_hash, now).await?;
    }
    let pending = match row.pending.as_deref() {
        None => None,
        Some(json) => {
            Some(serde_json::from_str(json).map_err(|_| SigninError::Corrupt("pending step"))?)
        }
    };
    Ok(Some(Session {
        id_hash,
        csrf_token: row.csrf_token,
        person,
        second_factor_at: row.second_factor_at,
        pending,
    }))
}

/// Replaces the step in progress of a session.
pub async fn set_pending(
    db: &DatabaseConnection,
    session: &Session,
    pending: Option<&Pending>,
) -> Result<(), SigninError> {
    let json = pending
        .map(serde_json::to_string)
        .transpose()
        .map_err(|_| SigninError::Corrupt("pending step"))?;
    store::signin::set_pending(db, &session.id_hash, json).await?;
    Ok(())
}

/// Clears `expected` as the session's step in progress; true for the one caller that did
/// (two tabs cannot both take it).
pub async fn take_pending(
    db: &DatabaseConnection,
    session: &Session,
    expected: &Pending,
) -> Result<bool, SigninError> {
    let json = serde_json::to_string(expected).map_err(|_| SigninError::Corrupt("pending step"))?;
    Ok(store::signin::take_pending(db, &session.id_hash, &json).await?)
}

/// How a sign-in was completed, for the audit trail.
#[derive(Debug, Clone, Copy)]
pub enum Method {
    /// Password and a TOTP code.
    Totp,
    /// Password and a passkey.
    Passkey,
    /// Password alone (`console.require_second_factor = false`, no factor enrolled).
    Password,
    /// The upstream OpenID provider.
    OpenIdConnect,
}

/// Records a sign-in or sign-out of an administrator (`administrator.signed_in` with its
/// method, `administrator.signed_out`). A failure to record is logged, not fatal: the
/// session exists already.
pub async fn audit(db: &DatabaseConnection, administrator_id: &str, method: Option<Method>) {
    let (kind, details) = match method {
        Some(m) => (
            "administrator.signed_in",
            serde_json::json!({"method": match m {
                Method::Totp => "totp",
                Method::Passkey => "passkey",
                Method::Password => "password",
                Method::OpenIdConnect => "oidc",
            }}),
        ),
        None => ("administrator.signed_out", serde_json::json!({})),
    };
    let actor = store::audit::Actor::Administrator(administrator_id.to_owned());
    if let Err(e) = store::audit::record(db, kind, &actor, Some(administrator_id), details).await {
        tracing::warn!(error = %e, kind, "recording a console audit event failed");
    }
}

/// Ends one session (sign-out).
pub async fn end(db: &DatabaseConnection, session: &Session) -> Result<(), SigninError> {
    store::signin::delete_session(db, &session.id_hash).await?;
    Ok(())
}

/// Ends every session of an administrator: on disable, delete or a password change.
pub async fn end_all(db: &DatabaseConnection, administrator_id: &str) -> Result<u64, SigninError> {
    Ok(store::signin::delete_sessions_of(db, administrator_id).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(second_factor_at: Option<DateTime<Utc>>) -> Session {
        Session {
            id_hash: String::new(),
            csrf_token: "token".into(),
            person: Person {
                id: "a".into(),
                email: "a@example.com".into(),
                display_name: "A".into(),
                enabled: true,
                password_hash: None,
            },
            second_factor_at,
            pending: None,
        }
    }

    #[test]
    fn the_reauthentication_window_counts_from_the_last_second_factor() {
        let now = Utc::now();
        let ten = std::time::Duration::from_secs(600);
        assert!(
            session(Some(now - chrono::TimeDelta::minutes(9))).reauthenticated_within(ten, now)
        );
        assert!(
            !session(Some(now - chrono::TimeDelta::minutes(11))).reauthenticated_within(ten, now)
        );
        assert!(!session(None).reauthenticated_within(ten, now));
        assert!(!session(None).signed_in());
    }

    #[test]
    fn pending_steps_round_trip_and_read_the_plain_second_factor() {
        let plain: Pending = serde_json::from_str(r#"{"step":"second_factor"}"#).unwrap();
        assert_eq!(plain, Pending::SECOND_FACTOR);
        for p in [
            Pending::SECOND_FACTOR,
            Pending::SecondFactor {
                passkey: Some("{}".into()),
            },
            Pending::PasskeyRegistration { state: "{}".into() },
        ] {
            let json = serde_json::to_string(&p).unwrap();
            assert_eq!(serde_json::from_str::<Pending>(&json).unwrap(), p);
        }
    }

    #[test]
    fn csrf_tokens_compare_exactly_and_never_empty() {
        let s = session(None);
        assert!(s.csrf_matches("token"));
        assert!(!s.csrf_matches("tokeN") && !s.csrf_matches("toke") && !s.csrf_matches(""));
    }
}
