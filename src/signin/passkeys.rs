//! Passkeys (WebAuthn) as a second factor, with `webauthn-rs` (from the kanidm project; its
//! passkey API requires user verification and checks origins, counters and backup flags).
//! The ceremony state lives server-side with the session (`admin_sessions.pending`), never in
//! the browser. The relying party is the issuer: its host is the RP id, its origin the only
//! origin accepted. WebAuthn needs a domain name, so an issuer with an IP address has none.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sea_orm::DatabaseConnection;
use sha2::{Digest, Sha256};
use webauthn_rs::prelude::{
    CreationChallengeResponse, Passkey, PasskeyAuthentication, PasskeyRegistration,
    PublicKeyCredential, RegisterPublicKeyCredential, RequestChallengeResponse, Url, Uuid,
};
use webauthn_rs::{Webauthn, WebauthnBuilder};

use super::SigninError;
use crate::store::{self, StoreError, signin::Person, signin::StoredPasskey};

/// Longest name of a passkey.
pub const MAX_NAME: usize = 100;

/// Why a passkey ceremony failed (an attacker learns nothing more than "no").
#[derive(Debug, thiserror::Error)]
pub enum PasskeyError {
    /// The issuer is not a domain name (WebAuthn needs one).
    #[error("passkeys need an issuer with a domain name")]
    Unavailable,
    /// The browser's answer did not verify.
    #[error("the passkey did not verify")]
    Rejected,
    /// The name is empty or too long.
    #[error("name must be 1 to 100 characters")]
    BadName,
    /// Storage or state failed.
    #[error(transparent)]
    Signin(#[from] SigninError),
}

impl From<StoreError> for PasskeyError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict { .. } => PasskeyError::Rejected,
            e => PasskeyError::Signin(e.into()),
        }
    }
}

/// The relying party of `issuer`.
pub fn relying_party(issuer: &str) -> Result<Webauthn, PasskeyError> {
    let origin = Url::parse(issuer).map_err(|_| PasskeyError::Unavailable)?;
    let rp_id = origin.domain().ok_or(PasskeyError::Unavailable)?.to_owned();
    // The origin alone: an issuer with a path (`https://host/tessera`) still has its host's.
    let origin = Url::parse(&origin.origin().ascii_serialization())
        .map_err(|_| PasskeyError::Unavailable)?;
    WebauthnBuilder::new(&rp_id, &origin)
        .and_then(|b| b.rp_name("Tessera").build())
        .map_err(|_| PasskeyError::Unavailable)
}

/// The WebAuthn user handle of an administrator: stable, and not their id itself.
fn user_handle(administrator_id: &str) -> Uuid {
    let digest = Sha256::digest(format!("tessera administrator\0{administrator_id}"));
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    Uuid::from_bytes(bytes)
}

fn decode(stored: &[StoredPasskey]) -> Result<Vec<Passkey>, SigninError> {
    stored
        .iter()
        .map(|p| serde_json::from_str(&p.passkey).map_err(|_| SigninError::Corrupt("passkey")))
        .collect()
}

/// Serialised ceremony state, for `admin_sessions.pending`.
fn to_state<T: serde::Serialize>(state: &T) -> Result<String, SigninError> {
    serde_json::to_string(state).map_err(|_| SigninError::Corrupt("passkey ceremony"))
}

fn from_state<T: serde::de::DeserializeOwned>(state: &str) -> Result<T, SigninError> {
    serde_json::from_str(state).map_err(|_| SigninError::Corrupt("passkey ceremony"))
}

/// Starts registering a passkey for `person`: the options for the browser, and the state to
/// keep server-side.
pub async fn start_registration(
    db: &DatabaseConnection,
    rp: &Webauthn,
    person: &Person,
) -> Result<(CreationChallengeResponse, String), PasskeyError> {
    let existing = decode(&store::signin::passkeys_of(db, &person.id).await?)?;
    let exclude = existing.iter().map(|p| p.cred_id().clone()).collect();
    let (options, state) = rp
        .start_passkey_registration(
            user_handle(&person.id),
            &person.email,
            &person.display_name,
            Some(exclude),
        )
        .map_err(|_| PasskeyError::Unavailable)?;
    Ok((options, to_state(&state)?))
}

/// Finishes a registration begun with `state`; stores the passkey under `name`.
pub async fn finish_registration(
    db: &DatabaseConnection,
    rp: &Webauthn,
    person: &Person,
    state: &str,
    name: &str,
    credential: &RegisterPublicKeyCredential,
) -> Result<String, PasskeyError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME {
        return Err(PasskeyError::BadName);
    }
    let state: PasskeyRegistration = from_state(state)?;
    let passkey = rp
        .finish_passkey_registration(credential, &state)
        .map_err(|_| PasskeyError::Rejected)?;
    let credential_id = URL_SAFE_NO_PAD.encode(passkey.cred_id().as_slice());
    let json = serde_json::to_string(&passkey).map_err(|_| SigninError::Corrupt("passkey"))?;
    store::signin::insert_passkey(
        db,
        &person.id,
        StoredPasskey {
            credential_id: credential_id.clone(),
            name: name.to_owned(),
            passkey: json,
        },
        chrono::Utc::now(),
    )
    .await?;
    Ok(credential_id)
}

/// Starts a passkey sign-in step for `person`; `None` when they have no passkey.
pub async fn start_authentication(
    db: &DatabaseConnection,
    rp: &Webauthn,
    person: &Person,
) -> Result<Option<(RequestChallengeResponse, String)>, PasskeyError> {
    let passkeys = decode(&store::signin::passkeys_of(db, &person.id).await?)?;
    if passkeys.is_empty() {
        return Ok(None);
    }
    let (options, state) = rp
        .start_passkey_authentication(&passkeys)
        .map_err(|_| PasskeyError::Unavailable)?;
    Ok(Some((options, to_state(&state)?)))
}

/// Finishes a sign-in step begun with `state`; records the passkey's use (and its new counter).
pub async fn finish_authentication(
    db: &DatabaseConnection,
    rp: &Webauthn,
    person: &Person,
    state: &str,
    credential: &PublicKeyCredential,
) -> Result<(), PasskeyError> {
    let state: PasskeyAuthentication = from_state(state)?;
    let result = rp
        .finish_passkey_authentication(credential, &state)
        .map_err(|_| PasskeyError::Rejected)?;
    let credential_id = URL_SAFE_NO_PAD.encode(result.cred_id().as_slice());
    let stored = store::signin::passkeys_of(db, &person.id).await?;
    let Some(row) = stored.iter().find(|p| p.credential_id == credential_id) else {
        return Err(PasskeyError::Rejected);
    };
    let mut passkey: Passkey =
        serde_json::from_str(&row.passkey).map_err(|_| SigninError::Corrupt("passkey"))?;
    let updated = match passkey.update_credential(&result) {
        Some(true) => {
            Some(serde_json::to_string(&passkey).map_err(|_| SigninError::Corrupt("passkey"))?)
        }
        _ => None,
    };
    store::signin::passkey_used(db, &credential_id, updated, chrono::Utc::now()).await?;
    Ok(())
}

/// Whether `person` has a passkey.
pub async fn has_passkey(db: &DatabaseConnection, person_id: &str) -> Result<bool, SigninError> {
    Ok(!store::signin::passkeys_of(db, person_id).await?.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_relying_party_is_the_issuer_host_and_needs_a_domain() {
        assert!(relying_party("https://id.example.com").is_ok());
        assert!(relying_party("https://id.example.com/tessera").is_ok());
        assert!(relying_party("http://localhost:8080").is_ok());
        assert!(matches!(
            relying_party("http://127.0.0.1:8080"),
            Err(PasskeyError::Unavailable)
        ));
        assert_eq!(user_handle("a"), user_handle("a"));
        assert_ne!(user_handle("a"), user_handle("b"));
    }
}
