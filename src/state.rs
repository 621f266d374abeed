//! What every request handler shares.

use std::sync::Arc;

use arc_swap::ArcSwap;
use sea_orm::DatabaseConnection;

use crate::config::Settings;
use crate::keys::KeyEncryptionKey;
use crate::oauth::discovery::Metadata;
use crate::secret::{Argon2Pool, CredentialKey, SingleFlight, VerifiableHash};
use crate::store::ClientDirectory;
use crate::store::revocations::RevocationList;
use crate::store::usage::UsageRecorder;

/// Shared server state.
pub struct AppState {
    /// Validated configuration.
    pub settings: Settings,
    /// The `iss` claim and base of advertised URLs.
    pub issuer: String,
    /// The database.
    pub db: DatabaseConnection,
    /// Whether the database answers; while it does not, the token path serves from memory.
    pub db_health: Arc<crate::store::health::DatabaseHealth>,
    /// Clients in use, in memory.
    pub clients: ClientDirectory,
    /// Published signing keys; swapped whole when the key set changes.
    pub keys: ArcSwap<crate::keys::SigningKeyRing>,
    /// Unseals signing keys loaded later.
    pub kek: KeyEncryptionKey,
    /// Runs argon2 off the async workers.
    pub argon2: Argon2Pool,
    /// Checked for unknown clients so timing reveals nothing.
    pub decoy_hash: Arc<VerifiableHash>,
    /// Keys the tags of verified credentials.
    pub credential_key: CredentialKey,
    /// Concurrent verifications of one credential share one argon2id run.
    pub verifications: SingleFlight,
    /// RFC 8414 metadata, serialised once per catalog change.
    pub metadata: ArcSwap<Metadata>,
    /// `Cache-Control` of the JWKS (`jwks_max_age`), built once.
    pub jwks_cache_control: actix_web::http::header::HeaderValue,
    /// `last_used_at` and usage counters waiting to be written.
    pub usage: UsageRecorder,
    /// Revoked tokens still unexpired; swapped whole when any replica revokes.
    pub revocations: ArcSwap<RevocationList>,
    /// Set on SIGTERM/SIGINT: responses close their connections and `/readyz` fails.
    pub draining: std::sync::atomic::AtomicBool,
    /// Failed authentications per client id and source; lockouts.
    pub failures: crate::oauth::brute_force::FailureLimiter,
    /// Counters, histograms and gauges for `/metrics`.
    pub metrics: crate::metrics::Metrics,
    /// The JWK sets of `private_key_jwt` clients registered with a `jwks_uri`.
    pub jwks_uris: crate::oauth::authenticate::JwksCache,
    /// Held while reloading revocations: a load that began before a revocation committed
    /// must not replace the list loaded after it.
    pub revocations_reload: tokio::sync::Mutex<()>,
    /// `server.tls.client_ca_file`, loaded: what `tls_client_auth` certificates chain to.
    pub client_ca: Option<crate::tls::ClientCa>,
}

impl AppState {
    /// The audience of the built-in admin API.
    pub fn admin_audience(&self) -> String {
        format!("{}/admin", self.issuer)
    }

    /// Re-reads every revocation in force.
    pub async fn reload_revocations(&self) -> Result<(), crate::store::StoreError> {
        let _one_at_a_time = self.revocations_reload.lock().await;
        let list = crate::store::revocations::load(&self.db).await?;
        self.revocations.store(Arc::new(list));
        Ok(())
    }

    /// Re-reads the stored keys and swaps the ring if the published set changed.
    pub async fn reload_keys(&self) -> Result<(), crate::server::ServeError> {
        let now = chrono::Utc::now();
        let max_ttl = self.settings.token_max_ttl;
        let stored = crate::store::keys::all(&self.db).await?;
        let current = self.keys.load();
        if current.is_stale(&stored, now, max_ttl) {
            // Keys held already are kept as they are, never decrypted again: a KEK rewrap
            // while this process runs changes nothing for it.
            let (ring, failures) = current.rebuild(&stored, &self.kek, now, max_ttl);
            for e in &failures {
                tracing::error!(
                    error = %e,
                    "a published signing key cannot be used for signing here; restart this \
                     process with the key-encryption key it was sealed under"
                );
            }
            tracing::info!(published = ring.len(), "key set changed");
            self.keys.store(Arc::new(ring));
        }
        Ok(())
    }
}
