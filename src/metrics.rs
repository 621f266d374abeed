//! Prometheus metrics at `GET /metrics` (prometheus-client: the Prometheus project's own Rust
//! client, small and without a global registry). No per-client labels: per-client usage
//! lives in the admin API, and a label per client would grow without bound.

use std::time::Duration;

use actix_web::{HttpResponse, web};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::state::AppState;

/// `outcome` of a token request: `issued` or the RFC 6749 error code.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabel {
    outcome: &'static str,
}

/// `endpoint` of a request: a fixed name per route family.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EndpointLabel {
    endpoint: &'static str,
}

/// `result` of a credential-cache lookup: `hit` or `miss`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CacheLabel {
    result: &'static str,
}

/// `state` of database connections: `idle` or `busy`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PoolLabel {
    state: &'static str,
}

/// Every metric the server exports.
pub struct Metrics {
    registry: Registry,
    token_requests: Family<OutcomeLabel, Counter>,
    request_seconds: Family<EndpointLabel, Histogram>,
    argon2_seconds: Histogram,
    argon2_queue: Gauge,
    propagation_seconds: Histogram,
    signing_key_age: Gauge,
    db_connections: Family<PoolLabel, Gauge>,
    database_up: Gauge,
    /// The token path's series, resolved once: a family lookup hashes its label every time.
    hot: HotSeries,
}

/// Handles onto the series requests touch all the time, resolved once (they share the
/// families' storage).
struct HotSeries {
    issued: Counter,
    cache_hit: Counter,
    cache_miss: Counter,
    /// The latency series of every endpoint registered at start, in their order there.
    latency: Vec<(&'static str, Histogram)>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Registers every metric, all at zero.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("tessera");
        let token_requests = Family::<OutcomeLabel, Counter>::default();
        registry.register(
            "token_requests",
            "Token requests by outcome (issued, or the OAuth error code)",
            token_requests.clone(),
        );
        // 50 µs … ≈ 1.6 s: the warm path is tens of µs, argon2id tens of ms.
        let request_seconds = Family::<EndpointLabel, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.000_05, 2.0, 16))
        });
        registry.register(
            "http_request_duration_seconds",
            "Request latency by endpoint",
            request_seconds.clone(),
        );
        let credential_cache = Family::<CacheLabel, Counter>::default();
        registry.register(
            "credential_cache_lookups",
            "Client authentications answered from the verified-credential cache (hit) or by argon2id (miss)",
            credential_cache.clone(),
        );
        let argon2_seconds = Histogram::new(exponential_buckets(0.001, 2.0, 14));
        registry.register(
            "argon2_verify_duration_seconds",
            "argon2id verifications including the wait in the pool's queue",
            argon2_seconds.clone(),
        );
        let argon2_queue = Gauge::default();
        registry.register(
            "argon2_queue_depth",
            "Verifications waiting for an argon2 worker",
            argon2_queue.clone(),
        );
        let propagation_seconds = Histogram::new(exponential_buckets(0.001, 2.0, 14));
        registry.register(
            "change_propagation_seconds",
            "Delay from a change's commit (any process) to this process applying it",
            propagation_seconds.clone(),
        );
        let signing_key_age = Gauge::default();
        registry.register(
            "signing_key_age_seconds",
            "Time since the key that signs now became active",
            signing_key_age.clone(),
        );
        let db_connections = Family::<PoolLabel, Gauge>::default();
        registry.register(
            "db_connections",
            "Database pool connections by state",
            db_connections.clone(),
        );
        let database_up = Gauge::default();
        registry.register(
            "database_up",
            "1 while the database answers; 0 while tokens are served from memory (degraded)",
            database_up.clone(),
        );
        // Every series exists from the start, so dashboards and rate() see zeros, not gaps.
        for outcome in [
            "issued",
            "invalid_request",
            "invalid_client",
            "unauthorized_client",
            "unsupported_grant_type",
            "invalid_scope",
            "invalid_target",
            "temporarily_unavailable",
            "server_error",
        ] {
            let _ = token_requests.get_or_create(&OutcomeLabel { outcome });
        }
        for result in ["hit", "miss"] {
            let _ = credential_cache.get_or_create(&CacheLabel { result });
        }
        let hot = HotSeries {
            issued: token_requests
                .get_or_create(&OutcomeLabel { outcome: "issued" })
                .clone(),
            cache_hit: credential_cache
                .get_or_create(&CacheLabel { result: "hit" })
                .clone(),
            cache_miss: credential_cache
                .get_or_create(&CacheLabel { result: "miss" })
                .clone(),
            latency: ["token", "introspect", "revoke", "jwks", "metadata", "admin"]
                .into_iter()
                .map(|endpoint| {
                    let series = request_seconds.get_or_create(&EndpointLabel { endpoint });
                    (endpoint, series.clone())
                })
                .collect(),
        };
        Metrics {
            hot,
            registry,
            token_requests,
            request_seconds,
            argon2_seconds,
            argon2_queue,
            propagation_seconds,
            signing_key_age,
            db_connections,
            database_up,
        }
    }

    /// Counts one token request's outcome.
    pub fn token_request(&self, outcome: &'static str) {
        if outcome == "issued" {
            self.hot.issued.inc();
            return;
        }
        self.token_requests
            .get_or_create(&OutcomeLabel { outcome })
            .inc();
    }

    /// Records one request's latency.
    pub fn request(&self, endpoint: &'static str, took: Duration) {
        if let Some((_, series)) = self.hot.latency.iter().find(|(e, _)| *e == endpoint) {
            return series.observe(took.as_secs_f64());
        }
        self.request_seconds
            .get_or_create(&EndpointLabel { endpoint })
            .observe(took.as_secs_f64());
    }

    /// Counts a credential-cache lookup.
    pub fn credential_cache(&self, hit: bool) {
        if hit {
            self.hot.cache_hit.inc();
        } else {
            self.hot.cache_miss.inc();
        }
    }

    /// Records one argon2id verification, queue wait included.
    pub fn argon2(&self, took: Duration) {
        self.argon2_seconds.observe(took.as_secs_f64());
    }

    /// Records how long a change took to reach this process.
    pub fn propagation(&self, took: Duration) {
        self.propagation_seconds.observe(took.as_secs_f64());
    }

    /// The registry as Prometheus/OpenMetrics text, with gauges read now.
    fn render(&self, state: &AppState) -> Result<String, std::fmt::Error> {
        let now = chrono::Utc::now();
        self.argon2_queue.set(state.argon2.queued() as i64);
        let ring = state.keys.load();
        if let Some(key) = ring.signer_at(now) {
            self.signing_key_age
                .set((now.timestamp_millis() - key.activates_at_ms()) / 1000);
        }
        let (size, idle) = pool_use(&state.db);
        for (label, value) in [("idle", idle), ("busy", size.saturating_sub(idle))] {
            self.db_connections
                .get_or_create(&PoolLabel { state: label })
                .set(value as i64);
        }
        self.database_up.set(i64::from(state.db_health.is_up()));
        let mut out = String::with_capacity(4096);
        prometheus_client::encoding::text::encode(&mut out, &self.registry)?;
        Ok(out)
    }
}

/// `(open, idle)` connections of the database pool.
fn pool_use(db: &sea_orm::DatabaseConnection) -> (u32, u32) {
    match db.get_database_backend() {
        sea_orm::DbBackend::Postgres => {
            let pool = db.get_postgres_connection_pool();
            (pool.size(), pool.num_idle() as u32)
        }
        sea_orm::DbBackend::Sqlite => {
            let pool = db.get_sqlite_connection_pool();
            (pool.size(), pool.num_idle() as u32)
        }
        _ => (0, 0),
    }
}

/// The `endpoint` label for a request path: fixed names, so no label grows with input.
pub fn endpoint_of(path: &str) -> &'static str {
    match path {
        "/oauth2/token" => "token",
        "/oauth2/introspect" => "introspect",
        "/oauth2/revoke" => "revoke",
        "/.well-known/jwks.json" => "jwks",
        "/.well-known/oauth-authorization-server" | "/.well-known/openid-configuration" => {
            "metadata"
        }
        "/metrics" => "metrics",
        "/healthz" | "/readyz" => "health",
        p if p.starts_with("/admin/") => "admin",
        _ => "other",
    }
}

/// `GET /metrics`.
pub async fn export(state: web::Data<AppState>) -> HttpResponse {
    match state.metrics.render(&state) {
        Ok(body) => HttpResponse::Ok()
            .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
            .insert_header(("X-Content-Type-Options", "nosniff"))
            .body(body),
        Err(_) => HttpResponse::InternalServerError().finish(),
    }
}
