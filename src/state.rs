//! What every request handler shares.

use std::sync::Arc;

use arc_swap::ArcSwap;
use sea_orm::DatabaseConnection;

use crate::config::Settings;
use crate::keys::{KeyEncryptionKey, SigningKeyRing};
use crate::oauth::discovery::Metadata;
use crate::secret::{Argon2Pool, VerifiableHash};
use crate::store::ClientDirectory;

/// Shared server state.
pub struct AppState {
    /// Validated configuration.
    pub settings: Settings,
    /// The `iss` claim and base of advertised URLs.
    pub issuer: String,
    /// The database.
    pub db: DatabaseConnection,
    /// Clients in use, in memory.
    pub clients: ClientDirectory,
    /// Published signing keys; swapped whole when the key set changes.
    pub keys: ArcSwap<SigningKeyRing>,
    /// Unseals signing keys loaded later.
    pub kek: KeyEncryptionKey,
    /// Runs argon2 off the async workers.
    pub argon2: Argon2Pool,
    /// Checked for unknown clients so timing reveals nothing.
    pub decoy_hash: Arc<VerifiableHash>,
    /// RFC 8414 metadata, serialised once per catalog change.
    pub metadata: ArcSwap<Metadata>,
}
