//! Start-up, routes, and the background refresh of keys and catalog.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use actix_web::{App, HttpResponse, HttpServer, middleware, web};
use arc_swap::ArcSwap;

use crate::config::Settings;
use crate::keys::{KeyEncryptionKey, KeyError, SigningKeyRing};
use crate::oauth::{self, discovery};
use crate::secret::{Argon2Pool, CredentialKey, VerifiableHash};
use crate::state::AppState;
use crate::store::{self, ClientDirectory, StoreError};

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The database or migrations failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The key-encryption key or a signing key is unusable.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The listen address could not be bound.
    #[error("cannot listen on {0}: {1}")]
    Bind(std::net::SocketAddr, std::io::Error),
    /// The HTTP server failed.
    #[error("HTTP server: {0}")]
    Http(#[from] std::io::Error),
}

/// How often every process re-reads the key set and API catalog (keys rotated by the CLI or
/// another replica; retirement by time) and checks whether a scheduled rotation is due.
const REFRESH_EVERY: Duration = Duration::from_secs(1);

/// Migrates, prepares keys, binds and serves until stopped.
pub async fn serve(settings: Settings) -> Result<(), ServeError> {
    let db = store::connect(&settings.database_url).await?;
    store::migrate(&db).await?;
    let kek = KeyEncryptionKey::load_or_create(&settings.keys_dir)?;
    let listener = std::net::TcpListener::bind(settings.bind)
        .map_err(|e| ServeError::Bind(settings.bind, e))?;
    let bound = listener.local_addr()?;
    let issuer = settings.issuer_for(bound);
    store::apis::ensure_admin(&db, &issuer, true).await?;
    store::keys::ensure_signing_key(&db, settings.key_algorithm, &kek, settings.token_max_ttl)
        .await?;
    let ring = SigningKeyRing::build(
        &store::keys::all(&db).await?,
        &kek,
        chrono::Utc::now(),
        settings.token_max_ttl,
    )?;
    let metadata = discovery::Metadata::render(&issuer, &store::apis::list(&db).await?);
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let state = web::Data::new(AppState {
        clients: ClientDirectory::new(db.clone(), 100_000, Duration::from_secs(600)),
        credential_key: CredentialKey::generate(),
        verifications: Default::default(),
        argon2: Argon2Pool::start(cores, 64 * cores),
        decoy_hash: Arc::new(VerifiableHash::decoy()),
        keys: ArcSwap::from_pointee(ring),
        metadata: ArcSwap::from_pointee(metadata),
        usage: Default::default(),
        issuer,
        kek,
        db,
        settings,
    });
    let cursor = store::changes::cursor(&state.db).await?;
    actix_web::rt::spawn(refresh_loop(state.clone(), cursor));
    actix_web::rt::spawn(flush_loop(state.clone()));

    let app_state = state.clone();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(app_state.clone())
            .wrap(middleware::Logger::new("%a \"%r\" %s %b %Dms").log_target("tessera::http"))
            .configure(routes)
    })
    .listen(listener)?
    .run();
    tracing::info!(address = %bound, issuer = %state.issuer, "listening");
    // Tests and scripts read the bound address (port 0 picks one) from this line.
    let mut out = std::io::stdout();
    let _ = writeln!(out, "tessera listening on http://{bound}");
    let _ = out.flush();
    // Returns once SIGTERM/SIGINT has stopped the listener and in-flight requests finished.
    server.await?;
    match state.usage.flush(&state.db, true).await {
        Ok(n) => tracing::info!(records = n, "flushed usage on shutdown"),
        Err(e) => tracing::error!(error = %e, "flushing usage on shutdown failed"),
    }
    state.db.clone().close().await.map_err(StoreError::from)?;
    Ok(())
}

/// How often buffered `last_used_at` and finished per-minute counters are written.
const FLUSH_EVERY: Duration = Duration::from_secs(5);

async fn flush_loop(state: web::Data<AppState>) {
    let mut tick = tokio::time::interval(FLUSH_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) = state.usage.flush(&state.db, false).await {
            tracing::warn!(error = %e, "flushing usage failed; will retry");
        }
    }
}

/// Every route of the server.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/oauth2/token")
            .route(web::post().to(oauth::token))
            .default_service(web::to(oauth::method_not_allowed)),
    )
    .route("/.well-known/jwks.json", web::get().to(discovery::jwks))
    .route(
        "/.well-known/oauth-authorization-server",
        web::get().to(discovery::metadata),
    )
    .route(
        "/.well-known/openid-configuration",
        web::get().to(discovery::metadata),
    )
    .route("/healthz", web::get().to(healthz))
    .route("/readyz", web::get().to(readyz))
    .configure(crate::admin::routes);
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"status": "ok"}))
}

async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let db = state.db.ping().await.is_ok();
    let key = state.keys.load().signer_at(chrono::Utc::now()).is_some();
    let body = serde_json::json!({"database": db, "signing_key": key});
    if db && key {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}

async fn refresh_loop(state: web::Data<AppState>, mut cursor: store::changes::Cursor) {
    let mut tick = tokio::time::interval(REFRESH_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    for round in 0u64.. {
        tick.tick().await;
        match store::changes::since(&state.db, &cursor).await {
            Ok((subjects, next)) => {
                for subject in &subjects {
                    if subject == store::changes::ALL_CLIENTS {
                        state.clients.invalidate_all();
                    } else {
                        state.clients.invalidate(subject).await;
                    }
                }
                cursor = next;
            }
            Err(e) => {
                // Without the log we cannot trust the cache: start again from empty.
                tracing::warn!(error = %e, "reading the change log failed; dropping cached clients");
                state.clients.invalidate_all();
            }
        }
        if let Err(e) = refresh(&state).await {
            tracing::warn!(error = %e, "refreshing keys and catalog failed; keeping the current ones");
        }
        if round % 600 == 599
            && let Err(e) = store::changes::prune(&state.db).await
        {
            tracing::warn!(error = %e, "pruning the change log failed");
        }
    }
}

async fn refresh(state: &AppState) -> Result<(), ServeError> {
    let settings = &state.settings;
    store::keys::rotate_if_due(
        &state.db,
        settings.key_algorithm,
        &state.kek,
        settings.rotate_after,
        settings.jwks_max_age,
        settings.token_max_ttl,
    )
    .await?;
    state.reload_keys().await?;
    let metadata = discovery::Metadata::render(&state.issuer, &store::apis::list(&state.db).await?);
    if metadata.etag != state.metadata.load().etag {
        state.metadata.store(Arc::new(metadata));
    }
    Ok(())
}
