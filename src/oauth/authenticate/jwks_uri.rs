//! The JWK sets `private_key_jwt` clients publish at a `jwks_uri` (SPEC §9): fetched with a
//! 5 s timeout and a 64 KiB limit, redirects only within the host, private keys refused, cached
//! per `Cache-Control` within [60 s, 24 h], one fetch in flight per URL, and fetched again for
//! an unknown `kid` at most once a minute. Once a set is cached, requests never wait for a
//! fetch: a stale set is served while it is refreshed in the background.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arc_swap::ArcSwapOption;
use openidconnect::reqwest;
use url::Url;

use crate::store::client_auth::PublicJwkSet;

/// The most a JWK set may weigh.
pub const MAX_BODY: usize = 64 * 1024;
/// How long a fetch may take, body included.
pub const TIMEOUT: Duration = Duration::from_secs(5);
/// Bounds of the cache lifetime `Cache-Control` may ask for.
pub const MIN_AGE: Duration = Duration::from_secs(60);
/// See [`MIN_AGE`].
pub const MAX_AGE: Duration = Duration::from_secs(24 * 60 * 60);
/// The lifetime of a set served without `max-age`.
const DEFAULT_AGE: Duration = Duration::from_secs(5 * 60);
/// How often an unknown `kid` may cause a fetch of one URL.
pub const KID_REFETCH_INTERVAL: Duration = Duration::from_secs(60);

/// Why a JWK set could not be had.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// Connecting, a redirect elsewhere, the timeout, or reading the body.
    #[error("fetching the JWK set failed: {0}")]
    Http(#[from] reqwest::Error),
    /// Not a 2xx answer (a refused redirect ends here too).
    #[error("the JWK set URL answered HTTP {0}")]
    Status(u16),
    /// Over [`MAX_BODY`].
    #[error("the JWK set is larger than {MAX_BODY} bytes")]
    TooLarge,
    /// Not JSON.
    #[error("the JWK set is not JSON")]
    NotJson,
    /// Not a public JWK set (private members, unknown key types…).
    #[error("the JWK set is refused: {0}")]
    Refused(String),
    /// `http` while `token.allow_http_jwks_uri` is off.
    #[error("the JWK set URL is not https")]
    NotHttps,
    /// The fetch this request waited for failed a moment ago.
    #[error("the JWK set could not be fetched just now")]
    JustFailed,
}

/// Every `jwks_uri` in use, with its cached set.
pub struct JwksCache {
    fetcher: Fetcher,
    slots: Mutex<HashMap<Url, Arc<Slot>>>,
}

#[derive(Clone)]
struct Fetcher {
    http: reqwest::Client,
    allow_http: bool,
}

/// One URL: its set, readable without a lock, and the lock its fetches hold.
#[derive(Default)]
struct Slot {
    cached: ArcSwapOption<Cached>,
    fetching: Arc<tokio::sync::Mutex<Fetches>>,
}

struct Cached {
    keys: Arc<PublicJwkSet>,
    fresh_until: Instant,
}

/// When this URL was last fetched, and last fetched for an unknown `kid`.
#[derive(Default)]
struct Fetches {
    last: Option<Instant>,
    last_for_kid: Option<Instant>,
}

impl JwksCache {
    /// A cache whose fetches follow `http` URLs only when `allow_http` (tests on loopback).
    pub fn new(allow_http: bool) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .redirect(reqwest::redirect::Policy::custom(move |attempt| {
                // Only within the host (and port) the administrator registered, and never down
                // to http.
                let first = attempt
                    .previous()
                    .first()
                    .map(|u| (u.host_str().map(str::to_owned), u.port_or_known_default()));
                let next = (
                    attempt.url().host_str().map(str::to_owned),
                    attempt.url().port_or_known_default(),
                );
                if attempt.previous().len() > 3 {
                    attempt.error("too many redirects")
                } else if Some(next) != first {
                    attempt.error("redirect to another host")
                } else if !scheme_allowed(attempt.url(), allow_http) {
                    attempt.error("redirect to a URL that is not https")
                } else {
                    attempt.follow()
                }
            }))
            .build()?;
        Ok(JwksCache {
            fetcher: Fetcher { http, allow_http },
            slots: Mutex::default(),
        })
    }

    fn slot(&self, url: &Url) -> Arc<Slot> {
        // Poisoning needs a panic while the map is held, which nothing here can cause.
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        slots.entry(url.clone()).or_default().clone()
    }

    /// The set at `url`: from the cache (refreshed in the background once stale), or fetched
    /// when none is cached yet, by one request while the others wait for its outcome.
    pub async fn keys(&self, url: &Url) -> Result<Arc<PublicJwkSet>, FetchError> {
        let slot = self.slot(url);
        if let Some(cached) = slot.cached.load_full() {
            if cached.fresh_until <= Instant::now() {
                self.refresh_in_background(url, &slot);
            }
            return Ok(cached.keys.clone());
        }
        let asked = Instant::now();
        let mut fetches = slot.fetching.lock().await;
        if let Some(cached) = slot.cached.load_full() {
            return Ok(cached.keys.clone());
        }
        if fetches.last.is_some_and(|t| t >= asked) {
            // The fetch this request waited for failed: it is not tried again at once.
            return Err(FetchError::JustFailed);
        }
        self.fetcher.fetch_into(url, &slot, &mut fetches).await
    }

    /// The set at `url` again, because `seen` lacks the `kid` an assertion names: fetched at
    /// most once a [`KID_REFETCH_INTERVAL`]. `None` when no newer set is to be had.
    pub async fn keys_for_unknown_kid(
        &self,
        url: &Url,
        seen: &Arc<PublicJwkSet>,
    ) -> Result<Option<Arc<PublicJwkSet>>, FetchError> {
        let slot = self.slot(url);
        let mut fetches = slot.fetching.lock().await;
        if let Some(cached) = slot.cached.load_full()
            && !Arc::ptr_eq(&cached.keys, seen)
        {
            // Fetched while this request waited: that set may know the kid.
            return Ok(Some(cached.keys.clone()));
        }
        if fetches
            .last_for_kid
            .is_some_and(|t| t.elapsed() < KID_REFETCH_INTERVAL)
        {
            return Ok(None);
        }
        fetches.last_for_kid = Some(Instant::now());
        let keys = self.fetcher.fetch_into(url, &slot, &mut fetches).await?;
        Ok((!Arc::ptr_eq(&keys, seen)).then_some(keys))
    }

    fn refresh_in_background(&self, url: &Url, slot: &Arc<Slot>) {
        // A refresh already in flight (or a first fetch) will do.
        let Ok(mut fetches) = slot.fetching.clone().try_lock_owned() else {
            return;
        };
        let fetcher = self.fetcher.clone();
        let slot = slot.clone();
        let url = url.clone();
        actix_web::rt::spawn(async move {
            // Failures are logged, and the stale set kept, by fetch_into.
            let _ = fetcher.fetch_into(&url, &slot, &mut fetches).await;
        });
    }
}

impl Fetcher {
    /// Fetches `url` into `slot`; on failure a cached set stays in use for another
    /// [`MIN_AGE`] (logged).
    async fn fetch_into(
        &self,
        url: &Url,
        slot: &Slot,
        fetches: &mut Fetches,
    ) -> Result<Arc<PublicJwkSet>, FetchError> {
        let now = Instant::now();
        fetches.last = Some(now);
        match self.fetch(url).await {
            Ok((keys, age)) => {
                let keys = Arc::new(keys);
                tracing::info!(jwks_uri = %url, keys = keys.keys.len(), "fetched a client JWK set");
                slot.cached.store(Some(Arc::new(Cached {
                    keys: keys.clone(),
                    fresh_until: now + age,
                })));
                Ok(keys)
            }
            Err(e) => match slot.cached.load_full() {
                Some(cached) => {
                    tracing::warn!(jwks_uri = %url, error = %e, "refreshing a client JWK set failed; keeping the cached one");
                    slot.cached.store(Some(Arc::new(Cached {
                        keys: cached.keys.clone(),
                        fresh_until: now + MIN_AGE,
                    })));
                    Ok(cached.keys.clone())
                }
                None => {
                    tracing::warn!(jwks_uri = %url, error = %e, "fetching a client JWK set failed");
                    Err(e)
                }
            },
        }
    }

    async fn fetch(&self, url: &Url) -> Result<(PublicJwkSet, Duration), FetchError> {
        // Checked again here: the setting may have been turned off since registration.
        if !scheme_allowed(url, self.allow_http) {
            return Err(FetchError::NotHttps);
        }
        let mut response = self
            .http
            .get(url.clone())
            .header(
                reqwest::header::ACCEPT,
                "application/jwk-set+json, application/json",
            )
            .send()
            .await?;
        if !response.status().is_success() {
            return Err(FetchError::Status(response.status().as_u16()));
        }
        if response
            .content_length()
            .is_some_and(|n| n > MAX_BODY as u64)
        {
            return Err(FetchError::TooLarge);
        }
        let age = cache_lifetime(response.headers());
        // Read chunk by chunk so a body without (or lying about) its length stops at the limit.
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await? {
            if body.len() + chunk.len() > MAX_BODY {
                return Err(FetchError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        let value: serde_json::Value =
            serde_json::from_slice(&body).map_err(|_| FetchError::NotJson)?;
        let keys = PublicJwkSet::parse(&value).map_err(FetchError::Refused)?;
        Ok((keys, age))
    }
}

fn scheme_allowed(url: &Url, allow_http: bool) -> bool {
    url.scheme() == "https" || (allow_http && url.scheme() == "http")
}

/// `max-age` of `Cache-Control`, within [`MIN_AGE`, `MAX_AGE`]; `no-store`/`no-cache` is the
/// minimum, no `max-age` [`DEFAULT_AGE`].
fn cache_lifetime(headers: &reqwest::header::HeaderMap) -> Duration {
    let mut age = None;
    for value in headers.get_all(reqwest::header::CACHE_CONTROL) {
        let Ok(value) = value.to_str() else { continue };
        for directive in value.split(',').map(str::trim) {
            let lower = directive.to_ascii_lowercase();
            if lower == "no-store" || lower == "no-cache" {
                return MIN_AGE;
            }
            if let Some(secs) = lower.strip_prefix("max-age=") {
                age = secs
                    .trim_matches('"')
                    .parse::<u64>()
                    .ok()
                    .map(Duration::from_secs);
            }
        }
    }
    age.unwrap_or(DEFAULT_AGE).clamp(MIN_AGE, MAX_AGE)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{CACHE_CONTROL, HeaderMap, HeaderValue};

    fn lifetime(value: Option<&str>) -> Duration {
        let mut headers = HeaderMap::new();
        if let Some(v) = value {
            headers.insert(CACHE_CONTROL, HeaderValue::from_str(v).unwrap());
        }
        cache_lifetime(&headers)
    }

    #[test]
    fn cache_control_is_kept_within_bounds() {
        assert_eq!(
            lifetime(Some("public, max-age=600")),
            Duration::from_secs(600)
        );
        assert_eq!(lifetime(Some("max-age=1")), MIN_AGE);
        assert_eq!(lifetime(Some("max-age=99999999")), MAX_AGE);
        assert_eq!(lifetime(Some("no-store")), MIN_AGE);
        assert_eq!(lifetime(Some("Max-Age=120")), Duration::from_secs(120));
        assert_eq!(lifetime(Some("max-age=junk")), DEFAULT_AGE);
        assert_eq!(lifetime(None), DEFAULT_AGE);
    }
}
