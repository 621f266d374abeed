//! Start-up, routes, and the background refresh of keys and catalog.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Service;
use actix_web::http::header;
use actix_web::{App, HttpResponse, HttpServer, web};
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
    /// The SQLite database is being restored.
    #[error(transparent)]
    Lock(#[from] store::backup::BackupError),
    /// The listen address could not be bound.
    #[error("cannot listen on {0}: {1}")]
    Bind(std::net::SocketAddr, std::io::Error),
    /// The HTTP server failed.
    #[error("HTTP server: {0}")]
    Http(#[from] std::io::Error),
    /// `server.tls.*` names an unusable certificate, key or CA file.
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
}

/// The response header carrying the request id (also in the access log line).
static REQUEST_ID: actix_web::http::header::HeaderName =
    actix_web::http::header::HeaderName::from_static("x-request-id");

/// What the access line needs from the request, copied only when the line will be written
/// (the request itself moves into the service).
struct AccessFields {
    peer: Option<std::net::IpAddr>,
    method: actix_web::http::Method,
    /// Shares the request's bytes: no copy of the path per request.
    uri: actix_web::http::Uri,
}

impl AccessFields {
    fn of(req: &actix_web::dev::ServiceRequest) -> Self {
        AccessFields {
            peer: req.peer_addr().map(|a| a.ip()),
            method: req.method().clone(),
            uri: req.uri().clone(),
        }
    }
}

/// How often every process re-reads the key set and API catalog (retirement is by time) and
/// checks whether a scheduled rotation is due.
const REFRESH_EVERY: Duration = Duration::from_secs(1);

/// How often every process reads the change log when no notification arrives (SQLite, or a
/// PostgreSQL listener that lost its connection): the bound on cross-process propagation.
const POLL_EVERY: Duration = Duration::from_millis(250);

/// How often expired change-log entries and revocations are deleted.
const PRUNE_EVERY: Duration = Duration::from_secs(600);

/// Keeps glibc's heap close to what is in use.
///
/// - Every allocation of 4 MiB or more is mapped on its own and unmapped when freed. By default
///   glibc raises its mmap threshold to the size of any mapped block that is freed, so after
///   the first argon2 worker released its 19 MiB, the next 19 MiB came from the heap and stayed
///   resident for good (`tests/memory.rs`). A fixed threshold turns that adjustment off.
/// - One arena per core, not glibc's eight per core: the eight SQLite connection threads and the
///   argon2 workers each kept a partly used arena of their own (100k clients, 10k active:
///   63 → 56 MiB RSS).
///
/// A setting the operator gave glibc in the environment (`MALLOC_MMAP_THRESHOLD_`,
/// `MALLOC_ARENA_MAX`, `GLIBC_TUNABLES`) wins.
///
/// # Safety
/// Call it before any other thread exists (first thing in `main`): glibc's `mallopt` is not
/// thread-safe, and arenas created before it are never removed.
pub unsafe fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu", not(feature = "mimalloc")))]
    {
        let tunables = std::env::var_os("GLIBC_TUNABLES").is_some();
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let arenas = libc::c_int::try_from(cores.max(2)).unwrap_or(libc::c_int::MAX);
        // SAFETY: the caller guarantees no other thread runs; mallopt only changes glibc's
        // own allocator state.
        unsafe {
            if !tunables && std::env::var_os("MALLOC_MMAP_THRESHOLD_").is_none() {
                libc::mallopt(libc::M_MMAP_THRESHOLD, 4 << 20);
            }
            if !tunables && std::env::var_os("MALLOC_ARENA_MAX").is_none() {
                libc::mallopt(libc::M_ARENA_MAX, arenas);
            }
        }
    }
}

/// Gives the heap's free pages back to the OS (glibc's `malloc_trim`). Database loads of cold
/// clients and the usage flush of many clients leave free chunks between the long-lived cache
/// entries, which glibc keeps resident (100k clients, 10k active: 62.8 → 58.0 MiB RSS, and
/// it grew back within seconds when only the end of a cold burst trimmed). Walks the free
/// lists under each arena's lock: for a thread off the request path.
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu", not(feature = "mimalloc")))]
    // SAFETY: malloc_trim only returns free memory to the OS; any thread may call it.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Migrates, prepares keys, binds and serves until stopped.
pub async fn serve(settings: Settings) -> Result<(), ServeError> {
    // First, before the database is touched: a missing or malformed key-encryption key stops
    // start-up with one line naming its source.
    let kek = KeyEncryptionKey::load(settings.kek_settings(), true)?;
    // Held until the process ends: `tessera restore` refuses while any server holds it.
    let _serving = store::backup::ServeLock::acquire(&settings.database_url)?;
    let db = store::connect(&settings.database_url).await?;
    store::migrate(&db).await?;
    // Before anything is bound: an unusable certificate or key stops start-up naming the file.
    let client_ca = match settings.client_ca_file.as_deref() {
        Some(path) => Some(crate::tls::ClientCa::load(path)?),
        None => None,
    };
    let tls = match &settings.tls {
        Some(tls) => Some(crate::tls::server_config(tls, client_ca.as_ref())?),
        None => None,
    };
    let listener = std::net::TcpListener::bind(settings.bind)
        .map_err(|e| ServeError::Bind(settings.bind, e))?;
    let bound = listener.local_addr()?;
    let issuer = settings.issuer_for(bound);
    // Every published key must open with the keys given: a wrong KEK stops start-up here,
    // before anything is written (a first key sealed under it, say).
    let max_ttl = settings.token_max_ttl;
    SigningKeyRing::build(
        &store::keys::all(&db).await?,
        &kek,
        chrono::Utc::now(),
        max_ttl,
    )?;
    store::apis::ensure_admin(&db, &issuer, true).await?;
    store::keys::ensure_signing_key(&db, settings.key_algorithm, &kek, max_ttl).await?;
    let ring = SigningKeyRing::build(
        &store::keys::all(&db).await?,
        &kek,
        chrono::Utc::now(),
        max_ttl,
    )?;
    tracing::info!(kek_id = %kek.id(), source = %kek.source(), "key-encryption key loaded");
    let behind = store::keys::sealed_under_other_keks(&db, &kek).await?;
    if behind > 0 {
        tracing::warn!(
            keys = behind,
            kek_id = %kek.id(),
            "signing keys are sealed under an older key-encryption key: once every replica runs \
             with this one, run `tessera keys rewrap --new-kek FILE` with FILE holding it"
        );
    }
    let metadata = discovery::render_metadata(&issuer, &store::apis::list(&db).await?, &settings);
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let db_health = Arc::new(store::health::DatabaseHealth::default());
    let state = web::Data::new(AppState {
        clients: ClientDirectory::new(
            db.clone(),
            100_000,
            Duration::from_secs(600),
            db_health.clone(),
        ),
        db_health,
        credential_key: CredentialKey::generate(),
        verifications: Default::default(),
        argon2: Argon2Pool::start(cores, 64 * cores),
        decoy_hash: Arc::new(VerifiableHash::decoy()),
        keys: ArcSwap::from_pointee(ring),
        metadata: ArcSwap::from_pointee(metadata),
        usage: Default::default(),
        revocations: ArcSwap::from_pointee(store::revocations::load(&db).await?),
        revocations_reload: Default::default(),
        jwks_uris: crate::oauth::authenticate::JwksCache::new(
            settings.client_auth.allow_http_jwks_uri,
        )
        .map_err(|e| std::io::Error::other(format!("jwks_uri client: {e}")))?,
        metrics: Default::default(),
        jwks_cache_control: actix_web::http::header::HeaderValue::from_str(&format!(
            "public, max-age={}",
            settings.jwks_max_age.as_secs()
        ))
        .unwrap_or_else(|_| actix_web::http::header::HeaderValue::from_static("public")),
        draining: Default::default(),
        failures: crate::oauth::brute_force::FailureLimiter::new(
            settings.failed_auth_per_client,
            settings.failed_auth_per_source,
            settings.failed_auth_window,
        ),
        issuer,
        kek,
        db,
        settings,
        client_ca,
    });
    let cursor = store::changes::cursor(&state.db).await?;
    let wake = Arc::new(tokio::sync::Notify::new());
    let change_listener =
        (state.db.get_database_backend() == sea_orm::DbBackend::Postgres).then(|| {
            let url = state.settings.database_url.clone();
            actix_web::rt::spawn(listen_for_changes(url, wake.clone()))
        });
    actix_web::rt::spawn(refresh_loop(state.clone(), cursor, wake));
    actix_web::rt::spawn(flush_loop(state.clone()));

    let app_state = state.clone();
    let mut server = HttpServer::new(move || {
        let timed = app_state.clone();
        App::new()
            .app_data(app_state.clone())
            .wrap_fn(move |req, srv| {
                let endpoint = crate::metrics::endpoint_of(req.path());
                let started = std::time::Instant::now();
                let state = timed.clone();
                // One id a request, in every log line it causes and in X-Request-Id.
                let request_id = crate::logging::RequestId::new();
                // The access line's fields, copied only when the line will be written.
                let access = crate::logging::access_log_enabled().then(|| AccessFields::of(&req));
                let response = crate::logging::in_request(request_id, srv.call(req));
                async move {
                    let mut response = response.await;
                    let took = started.elapsed();
                    state.metrics.request(endpoint, took);
                    if let Some(line) = access {
                        let status = match &response {
                            Ok(r) => r.status().as_u16(),
                            Err(e) => e.as_response_error().status_code().as_u16(),
                        };
                        crate::logging::AccessLine {
                            request_id: request_id.as_str(),
                            peer: line.peer,
                            method: line.method.as_str(),
                            // The path only: a query string may carry anything. An
                            // enrollment link's token is a credential.
                            path: &crate::console::loggable_path(line.uri.path()),
                            status,
                            micros: took.as_micros() as u64,
                        }
                        .write();
                    }
                    if let Ok(r) = response.as_mut() {
                        // Every response, errors included, is to be taken as the type it says
                        // it is. (Set here rather than by `DefaultHeaders`: one middleware
                        // layer less on every request.)
                        let headers = r.headers_mut();
                        if !headers.contains_key(header::X_CONTENT_TYPE_OPTIONS) {
                            headers.insert(
                                header::X_CONTENT_TYPE_OPTIONS,
                                header::HeaderValue::from_static("nosniff"),
                            );
                        }
                        if let Ok(value) =
                            actix_web::http::header::HeaderValue::from_bytes(request_id.as_bytes())
                        {
                            r.headers_mut().insert(REQUEST_ID.clone(), value);
                        }
                        // Shutting down: no request may arrive on this connection after this
                        // answer, so none is caught half-way when the server stops.
                        if state.draining.load(std::sync::atomic::Ordering::Relaxed) {
                            r.response_mut()
                                .head_mut()
                                .set_connection_type(actix_web::http::ConnectionType::Close);
                        }
                    }
                    response
                }
            })
            .configure(routes)
    })
    .client_request_timeout(state.settings.request_timeout)
    .keep_alive(state.settings.keep_alive)
    .max_connections(state.settings.max_connections)
    .shutdown_timeout(state.settings.shutdown_timeout.as_secs())
    .disable_signals();
    let scheme = match tls {
        // The client certificate travels from the handshake to the handlers in the
        // connection's extensions; plain HTTP connections have no such step.
        Some(config) => {
            server = server
                .on_connect(crate::tls::remember_peer_certificate)
                .listen_rustls_0_23(listener, config)?;
            "https"
        }
        None => {
            server = server.listen(listener)?;
            "http"
        }
    };
    let server = server.run();
    actix_web::rt::spawn(stop_on_signal(state.clone(), server.handle()));
    tracing::info!(address = %bound, issuer = %state.issuer, "listening");
    // Tests and scripts read the bound address (port 0 picks one) from this line.
    let mut out = std::io::stdout();
    let _ = writeln!(out, "tessera listening on {scheme}://{bound}");
    let _ = out.flush();
    // Returns once SIGTERM/SIGINT has drained, stopped the listener and in-flight requests
    // finished.
    server.await?;
    // Its connection must close inside the runtime, not when the runtime is torn down.
    if let Some(task) = change_listener {
        task.abort();
        let _ = task.await;
    }
    // A pooled PostgreSQL connection opened by a request on an actix worker belongs to that
    // worker's runtime, which is gone by now, and the pool may hold several of them. If the
    // flush fails on the pool, it runs again on a connection opened here (nothing written by
    // the failed attempt is lost: it stays pending).
    let flushed = match state.usage.flush(&state.db, true).await {
        Ok(n) => Ok(n),
        Err(e) => {
            tracing::warn!(error = %e, "flushing usage on shutdown failed; retrying on a new connection");
            match store::connect(&state.settings.database_url).await {
                Ok(fresh) => {
                    let result = state.usage.flush(&fresh, true).await;
                    let _ = fresh.close().await;
                    result
                }
                Err(e) => Err(e),
            }
        }
    };
    match flushed {
        Ok(n) => tracing::info!(records = n, "flushed usage on shutdown"),
        Err(e) => tracing::error!(error = %e, "flushing usage on shutdown failed"),
    }
    state.db.clone().close().await.map_err(StoreError::from)?;
    Ok(())
}

/// On SIGTERM or SIGINT: drain (keep serving, but close every connection after its response
/// and fail `/readyz`, so load balancers and keep-alive clients move on), then stop
/// accepting and let in-flight requests finish within `server.shutdown_timeout_seconds`.
async fn stop_on_signal(state: web::Data<AppState>, server: actix_web::dev::ServerHandle) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::error!("cannot listen for SIGTERM/SIGINT");
        return;
    };
    let name = tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
    };
    let drain = state.settings.shutdown_drain;
    tracing::info!(signal = name, ?drain, "draining before shutdown");
    state
        .draining
        .store(true, std::sync::atomic::Ordering::Relaxed);
    tokio::select! {
        _ = tokio::time::sleep(drain) => {}
        // A second signal skips the rest of the drain.
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    tracing::info!("stopping: no new connections; finishing requests in flight");
    server.stop(true).await;
}

/// How often buffered `last_used_at` and finished per-minute counters are written.
const FLUSH_EVERY: Duration = Duration::from_secs(5);

/// A flush of at least this many rows is followed by [`release_free_memory`]: a few clients'
/// worth of buffers is not worth a walk of the heap every five seconds.
const TRIM_AFTER_ROWS: usize = 1_000;

async fn flush_loop(state: web::Data<AppState>) {
    let mut tick = tokio::time::interval(FLUSH_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match state.usage.flush(&state.db, false).await {
            // Many clients' buffers and their database writes were freed just now, between
            // long-lived cache entries: give those pages back, off the async worker.
            Ok(written) if written >= TRIM_AFTER_ROWS => {
                let _ = tokio::task::spawn_blocking(release_free_memory).await;
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "flushing usage failed; will retry"),
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
    .service(
        web::resource("/oauth2/introspect")
            .route(web::post().to(oauth::introspect::introspect))
            .default_service(web::to(oauth::method_not_allowed)),
    )
    .service(
        web::resource("/oauth2/revoke")
            .route(web::post().to(oauth::revoke::revoke))
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
    .route("/metrics", web::get().to(crate::metrics::export))
    .route("/readyz", web::get().to(readyz))
    .configure(crate::admin::routes)
    .configure(crate::console::routes);
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"status": "ok"}))
}

/// `200 {"status": "ready"}`, or `503` with `"degraded"` (the database does not answer: known
/// clients still get tokens) or `"unavailable"` (no signing key, or draining), and why.
async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    // Bounded: a database that is gone must not hold the probe for the pool's acquire timeout.
    let ping = tokio::time::timeout(PROBE_TIMEOUT, state.db.ping()).await;
    match ping {
        Ok(Ok(())) => state.db_health.succeeded(),
        Ok(Err(e)) => state.db_health.failed(e),
        Err(_) => state
            .db_health
            .failed(format!("no answer within {PROBE_TIMEOUT:?}")),
    }
    let outage = state.db_health.outage();
    let key = state.keys.load().signer_at(chrono::Utc::now()).is_some();
    let draining = state.draining.load(std::sync::atomic::Ordering::Relaxed);
    let status = match (&outage, key && !draining) {
        (_, false) => "unavailable",
        (Some(_), true) => "degraded",
        (None, true) => "ready",
    };
    let mut body = serde_json::json!({
        "status": status,
        "database": outage.is_none(),
        "signing_key": key,
        "draining": draining,
    });
    if let Some(outage) = &outage {
        body["reason"] = serde_json::json!(format!("database: {}", outage.reason));
        body["degraded_for_seconds"] = serde_json::json!(outage.for_.as_secs());
    }
    if status == "ready" {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable()
            .insert_header((actix_web::http::header::RETRY_AFTER, "5"))
            .json(body)
    }
}

/// How long a health probe or a change-log read may wait before the database counts as down.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// Applies the change log every [`POLL_EVERY`], and at once when PostgreSQL notifies.
/// Keys and the API catalog are also re-read every [`REFRESH_EVERY`] (retirement is by time).
async fn refresh_loop(
    state: web::Data<AppState>,
    mut cursor: store::changes::Cursor,
    wake: Arc<tokio::sync::Notify>,
) {
    let mut poll = tokio::time::interval(POLL_EVERY);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_read = std::time::Instant::now();
    let mut last_refresh = std::time::Instant::now();
    let mut last_prune = std::time::Instant::now();
    // Set when a revocation reload failed: retried every tick until one succeeds.
    let mut revocations_stale = false;
    loop {
        tokio::select! {
            _ = poll.tick() => {}
            _ = wake.notified() => {}
        }
        // While the log cannot be read, cached clients keep serving (static stability) for at
        // most `database.max_stale_seconds`: a change committed elsewhere meanwhile reaches
        // this process within that bound, or the cache goes. Entries older than the log's
        // retention may be gone, so that bound never exceeds half of it.
        let max_stale = state
            .settings
            .database_max_stale
            .min(store::changes::RETENTION.to_std().unwrap_or_default() / 2);
        if last_read.elapsed() > max_stale {
            tracing::warn!(
                ?max_stale,
                "the change log was unreadable for too long; dropping cached clients"
            );
            state.clients.invalidate_all();
            revocations_stale = true;
            last_read = std::time::Instant::now();
        }
        let read = tokio::time::timeout(PROBE_TIMEOUT, store::changes::since(&state.db, &cursor))
            .await
            .unwrap_or_else(|_| {
                Err(store::StoreError::Unavailable(format!(
                    "no answer within {PROBE_TIMEOUT:?}"
                )))
            });
        match read {
            Ok((subjects, next, times)) => {
                state.db_health.succeeded();
                let now = chrono::Utc::now();
                for at in times {
                    state
                        .metrics
                        .propagation((now - at).to_std().unwrap_or_default());
                }
                for subject in &subjects {
                    match subject.as_str() {
                        store::changes::ALL_CLIENTS => state.clients.invalidate_all(),
                        store::revocations::REVOCATIONS => revocations_stale = true,
                        store::changes::KEYS => {
                            if let Err(e) = state.reload_keys().await {
                                tracing::warn!(error = %e, "reloading keys failed; will retry");
                            }
                        }
                        client_id => state.clients.invalidate(client_id).await,
                    }
                }
                cursor = next;
                last_read = std::time::Instant::now();
            }
            Err(e) => {
                // The cursor stays: once the log reads again, every change missed meanwhile is
                // applied, so the cache is kept (up to the bound above), not dropped.
                state.db_health.failed(&e);
                revocations_stale = true;
            }
        }
        // While the database is away, reloads would only wait out their timeouts.
        let db_up = state.db_health.is_up();
        if revocations_stale && db_up {
            match state.reload_revocations().await {
                Ok(()) => revocations_stale = false,
                Err(e) => tracing::warn!(error = %e, "reloading revocations failed; will retry"),
            }
        }
        if last_refresh.elapsed() >= REFRESH_EVERY && db_up {
            last_refresh = std::time::Instant::now();
            state.failures.prune();
            if let Err(e) = refresh(&state).await {
                tracing::warn!(error = %e, "refreshing keys and catalog failed; keeping the current ones");
            }
        }
        if last_prune.elapsed() >= PRUNE_EVERY && db_up {
            last_prune = std::time::Instant::now();
            if let Err(e) = store::changes::prune(&state.db).await {
                tracing::warn!(error = %e, "pruning the change log failed");
            }
            if let Err(e) = store::revocations::prune(&state.db).await {
                tracing::warn!(error = %e, "pruning expired revocations failed");
            }
            let now_ms = chrono::Utc::now().timestamp_millis();
            if let Err(e) = store::failures::prune(&state.db, now_ms).await {
                tracing::warn!(error = %e, "pruning failure counters failed");
            }
            // Two minutes late: a replica whose clock is behind must still find the jtis it
            // would accept.
            if let Err(e) = store::jtis::sweep(&state.db, now_ms / 1000 - 120).await {
                tracing::warn!(error = %e, "sweeping expired assertion and proof ids failed");
            }
        }
    }
}

/// Wakes the refresh loop on every PostgreSQL notification of a change, over a connection of
/// its own (not one of the pool's). The poll stays the source of truth (it reads from its
/// cursor), so a lost connection costs only latency: on reconnecting, the loop is woken to
/// read whatever it missed.
async fn listen_for_changes(url: String, wake: Arc<tokio::sync::Notify>) {
    use sea_orm::sqlx::postgres::PgListener;
    loop {
        let mut listener = match PgListener::connect(&url).await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for changes; polling only, will retry");
                tokio::time::sleep(REFRESH_EVERY).await;
                continue;
            }
        };
        if let Err(e) = listener.listen(store::changes::CHANNEL).await {
            tracing::warn!(error = %e, "LISTEN failed; polling only, will retry");
            tokio::time::sleep(REFRESH_EVERY).await;
            continue;
        }
        wake.notify_one();
        loop {
            match listener.try_recv().await {
                Ok(Some(_)) => wake.notify_one(),
                // The connection dropped; the next try_recv reconnects and re-listens.
                Ok(None) => {
                    tracing::warn!("lost the LISTEN connection; reconnecting");
                    wake.notify_one();
                }
                Err(e) => {
                    tracing::warn!(error = %e, "listening for changes failed; reconnecting");
                    break;
                }
            }
        }
        drop(listener);
        tokio::time::sleep(REFRESH_EVERY).await;
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
    let metadata = discovery::render_metadata(
        &state.issuer,
        &store::apis::list(&state.db).await?,
        &state.settings,
    );
    if metadata.etag != state.metadata.load().etag {
        state.metadata.store(Arc::new(metadata));
    }
    Ok(())
}
