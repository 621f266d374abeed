//! Layered configuration: built-in defaults, then a TOML file, then `TESSERA__SECTION__KEY`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use config::{Config, Environment, File, FileFormat};
use ipnet::IpNet;

use crate::keys::SigningAlgorithm;

/// Why the configuration could not be loaded; printed as one line at start-up.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A key holds a value outside what it allows.
    #[error("invalid configuration: {key} = {value:?}: {allowed}")]
    Invalid {
        key: &'static str,
        value: String,
        allowed: &'static str,
    },
    /// The file or the environment could not be read at all.
    #[error("cannot read configuration: {0}")]
    Source(#[from] config::ConfigError),
}

/// Every setting Tessera reads, validated.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Listen address (`server.bind`).
    pub bind: SocketAddr,
    /// `iss` and base of advertised URLs; `None` means derived from the bound address.
    pub issuer: Option<String>,
    /// `database.url`.
    pub database_url: String,
    /// `keys.dir`: where the key-encryption key lives (`kek.jwk`) unless `keys.kek_file` or
    /// `TESSERA_KEK` gives it.
    pub keys_dir: PathBuf,
    /// `keys.kek_file`: a JWK file holding the key-encryption key; wins over `TESSERA_KEK`
    /// and `keys.dir`. Unset by default.
    pub kek_file: Option<PathBuf>,
    /// `keys.previous_kek_file`: a JWK file holding a key-encryption key replaced by
    /// `tessera keys rewrap`, used only to decrypt keys still sealed under it. Unset by default.
    pub previous_kek_file: Option<PathBuf>,
    /// `keys.algorithm`: algorithm for new signing keys.
    pub key_algorithm: SigningAlgorithm,
    /// `token.ttl_seconds`: default access-token lifetime.
    pub token_ttl: Duration,
    /// `token.max_ttl_seconds`: upper bound for a per-client lifetime.
    pub token_max_ttl: Duration,
    /// `server.trusted_proxies`: peers whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpNet>,
    /// `keys.rotate_after`: automatic rotation period.
    pub rotate_after: Duration,
    /// `keys.jwks_max_age_seconds`: `Cache-Control: max-age` of the JWKS.
    pub jwks_max_age: Duration,
    /// `token.verified_credential_ttl_seconds`: how long a secret verified with argon2id is
    /// recognised without it (0 turns the cache off).
    pub verified_credential_ttl: Duration,
    /// `server.body_timeout_seconds`: a request body must arrive within this (slowloris).
    pub body_timeout: Duration,
    /// `server.request_timeout_seconds`: the request head must arrive within this.
    pub request_timeout: Duration,
    /// `server.keep_alive_seconds`: idle keep-alive connections are closed after this.
    pub keep_alive: Duration,
    /// `server.max_connections`: open connections per worker thread before accepting pauses.
    pub max_connections: usize,
    /// `server.shutdown_timeout_seconds`: how long SIGTERM waits for in-flight requests.
    pub shutdown_timeout: Duration,
    /// `server.shutdown_drain_seconds`: after SIGTERM, how long the server keeps accepting
    /// (answering with `Connection: close` and a failing `/readyz`) before it stops.
    pub shutdown_drain: Duration,
    /// `limits.failed_auth_per_client`: failed authentications a client id may see per window
    /// before uncached attempts for it get 429 (0: no limit).
    pub failed_auth_per_client: u32,
    /// `limits.failed_auth_per_source`: failed authentications a source address may make per
    /// window before all its requests get 429 (0: no limit).
    pub failed_auth_per_source: u32,
    /// `limits.failed_auth_window_seconds`: the window both limits refill over.
    pub failed_auth_window: Duration,
    /// `database.max_stale_seconds`: while the database does not answer, how long clients in
    /// memory keep getting tokens with the rights last read (a change made elsewhere meanwhile
    /// is seen within this bound); then they are dropped and refused with 503 until it returns.
    pub database_max_stale: Duration,
    /// `console.*`: sessions of the web console.
    pub console: ConsoleSettings,
    /// Client authentication without shared secrets, and sender-constrained tokens (SPEC §9).
    pub client_auth: ClientAuthSettings,
    /// `server.tls.*`: HTTPS with optional client certificates; unset serves plain HTTP.
    pub tls: Option<TlsSettings>,
    /// `server.client_cert_header`: the header (RFC 9440 `Client-Cert`) in which trusted proxies
    /// pass the client's certificate; unset ignores such headers.
    pub client_cert_header: Option<String>,
    /// `server.tls.client_ca_file`: PEM CA certificates that `tls_client_auth` certificates
    /// must chain to, whether they arrive over Tessera's own TLS or from a trusted proxy.
    pub client_ca_file: Option<PathBuf>,
}

/// `token.*` settings of client assertions and DPoP (SPEC §9).
#[derive(Debug, Clone)]
pub struct ClientAuthSettings {
    /// `token.allow_http_jwks_uri`: accept `http` JWK set URLs (tests on loopback only).
    pub allow_http_jwks_uri: bool,
    /// `token.accept_token_endpoint_audience`: accept the token endpoint URL as an assertion's
    /// `aud` beside the issuer (older clients).
    pub accept_token_endpoint_audience: bool,
    /// `token.max_assertion_lifetime_seconds`: how far `exp` may lie after `iat` (or now).
    pub max_assertion_lifetime: Duration,
    /// `token.dpop_nonce`: DPoP proofs must carry a server nonce.
    pub dpop_nonce: bool,
}

/// `server.tls.*`: the server's certificate (`client_ca_file` is [`Settings::client_ca_file`]:
/// it serves behind a TLS-terminating proxy too).
#[derive(Debug, Clone)]
pub struct TlsSettings {
    /// `server.tls.cert_file`: PEM certificate chain.
    pub cert_file: PathBuf,
    /// `server.tls.key_file`: PEM private key.
    pub key_file: PathBuf,
}

/// The web console's sessions (SPEC §7).
#[derive(Debug, Clone)]
pub struct ConsoleSettings {
    /// `console.session_idle_minutes`: a session unused this long ends.
    pub session_idle: Duration,
    /// `console.session_hours`: a session ends this long after sign-in, used or not.
    pub session_max: Duration,
    /// `console.reauth_minutes`: sensitive changes need a second factor entered this recently.
    pub reauth: Duration,
    /// `console.require_second_factor`: sign-in needs a second factor after the password.
    pub require_second_factor: bool,
    /// `console.oidc.*`: sign-in through an upstream OpenID Connect provider; unset by default.
    pub oidc: Option<OidcSettings>,
}

/// An upstream OpenID Connect provider for console sign-in (authorization code + PKCE).
#[derive(Clone)]
pub struct OidcSettings {
    /// `console.oidc.issuer`: the provider's issuer URL (discovery is read from it).
    pub issuer: String,
    /// `console.oidc.client_id`.
    pub client_id: String,
    /// `console.oidc.client_secret`.
    pub client_secret: zeroize::Zeroizing<String>,
}

impl std::fmt::Debug for OidcSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcSettings")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

const DEFAULTS: &[(&str, &str)] = &[
    ("server.bind", "127.0.0.1:8080"),
    ("database.url", "sqlite://data/tessera.db?mode=rwc"),
    ("keys.dir", "keys"),
    ("keys.algorithm", "ES256"),
    ("token.ttl_seconds", "900"),
    ("token.max_ttl_seconds", "3600"),
    ("keys.rotate_after", "30d"),
    ("keys.jwks_max_age_seconds", "300"),
    ("token.verified_credential_ttl_seconds", "600"),
    ("server.body_timeout_seconds", "10"),
    ("server.request_timeout_seconds", "5"),
    ("server.keep_alive_seconds", "5"),
    ("server.max_connections", "25000"),
    ("server.shutdown_timeout_seconds", "30"),
    ("server.shutdown_drain_seconds", "2"),
    ("limits.failed_auth_per_client", "10"),
    ("limits.failed_auth_per_source", "30"),
    ("limits.failed_auth_window_seconds", "60"),
    ("database.max_stale_seconds", "900"),
    ("console.session_idle_minutes", "30"),
    ("console.session_hours", "8"),
    ("console.reauth_minutes", "10"),
    ("console.require_second_factor", "true"),
    ("token.allow_http_jwks_uri", "false"),
    ("token.accept_token_endpoint_audience", "false"),
    ("token.max_assertion_lifetime_seconds", "300"),
    ("token.dpop_nonce", "false"),
];

impl Settings {
    /// Reads defaults, then `file` (if given), then the environment.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let mut builder = Config::builder();
        for (key, value) in DEFAULTS {
            builder = builder.set_default(*key, *value)?;
        }
        if let Some(path) = file {
            builder = builder.add_source(File::from(path).format(FileFormat::Toml).required(true));
        }
        builder = builder.add_source(
            Environment::with_prefix("TESSERA")
                .prefix_separator("__")
                .separator("__")
                .list_separator(",")
                .with_list_parse_key("server.trusted_proxies")
                .try_parsing(false),
        );
        Self::from_config(&builder.build()?)
    }

    fn from_config(cfg: &Config) -> Result<Self, ConfigError> {
        let bind = parse(
            cfg,
            "server.bind",
            "expected an address such as 127.0.0.1:8080",
        )?;
        let issuer = match cfg.get_string("issuer").ok().filter(|s| !s.is_empty()) {
            None => None,
            Some(value) => Some(validate_issuer(value)?),
        };
        let database_url = string(cfg, "database.url")?;
        if !(database_url.starts_with("sqlite:")
            || database_url.starts_with("postgres://")
            || database_url.starts_with("postgresql://"))
        {
            return Err(ConfigError::Invalid {
                key: "database.url",
                value: database_url,
                allowed: "expected sqlite://PATH or postgres://…",
            });
        }
        let key_algorithm = parse(cfg, "keys.algorithm", "expected one of ES256, RS256, EdDSA")?;
        let token_ttl = seconds(
            cfg,
            "token.ttl_seconds",
            60,
            "expected whole seconds, at least 60",
        )?;
        let token_max_ttl = seconds(
            cfg,
            "token.max_ttl_seconds",
            60,
            "expected whole seconds, at least 60",
        )?;
        if token_ttl > token_max_ttl {
            return Err(ConfigError::Invalid {
                key: "token.ttl_seconds",
                value: token_ttl.as_secs().to_string(),
                allowed: "must not exceed token.max_ttl_seconds",
            });
        }
        let jwks_max_age = seconds(
            cfg,
            "keys.jwks_max_age_seconds",
            0,
            "expected whole seconds",
        )?;
        let rotate_after_raw = string(cfg, "keys.rotate_after")?;
        let rotate_after = parse_duration(&rotate_after_raw)
            .filter(|d| *d > jwks_max_age)
            .ok_or(ConfigError::Invalid {
                key: "keys.rotate_after",
                value: rotate_after_raw,
                allowed: "expected a duration such as 30d, 12h, 90m or 3600s, longer than keys.jwks_max_age_seconds",
            })?;
        let tls = tls(cfg)?;
        let client_cert_header = cfg
            .get_string("server.client_cert_header")
            .ok()
            .map(|h| h.trim().to_ascii_lowercase())
            .filter(|h| !h.is_empty());
        let client_ca_file = client_ca_file(cfg, tls.as_ref(), client_cert_header.as_ref())?;
        Ok(Settings {
            bind,
            issuer,
            database_url,
            keys_dir: PathBuf::from(string(cfg, "keys.dir")?),
            kek_file: optional_path(cfg, "keys.kek_file")?,
            previous_kek_file: optional_path(cfg, "keys.previous_kek_file")?,
            key_algorithm,
            token_ttl,
            token_max_ttl,
            trusted_proxies: trusted_proxies(cfg)?,
            rotate_after,
            jwks_max_age,
            verified_credential_ttl: seconds(
                cfg,
                "token.verified_credential_ttl_seconds",
                0,
                "expected whole seconds (0 turns the cache off)",
            )?,
            body_timeout: seconds(cfg, "server.body_timeout_seconds", 1, AT_LEAST_1)?,
            request_timeout: seconds(cfg, "server.request_timeout_seconds", 1, AT_LEAST_1)?,
            keep_alive: seconds(
                cfg,
                "server.keep_alive_seconds",
                0,
                "expected whole seconds",
            )?,
            max_connections: match count(cfg, "server.max_connections")? {
                0 => {
                    return Err(ConfigError::Invalid {
                        key: "server.max_connections",
                        value: "0".into(),
                        allowed: "expected a whole number of at least 1",
                    });
                }
                n => n as usize,
            },
            shutdown_timeout: seconds(cfg, "server.shutdown_timeout_seconds", 1, AT_LEAST_1)?,
            shutdown_drain: seconds(
                cfg,
                "server.shutdown_drain_seconds",
                0,
                "expected whole seconds",
            )?,
            failed_auth_per_client: count(cfg, "limits.failed_auth_per_client")?,
            failed_auth_per_source: count(cfg, "limits.failed_auth_per_source")?,
            failed_auth_window: seconds(
                cfg,
                "limits.failed_auth_window_seconds",
                1,
                "expected whole seconds, at least 1",
            )?,
            database_max_stale: seconds(cfg, "database.max_stale_seconds", 1, AT_LEAST_1)?,
            console: console(cfg)?,
            client_auth: ClientAuthSettings {
                allow_http_jwks_uri: boolean(cfg, "token.allow_http_jwks_uri")?,
                accept_token_endpoint_audience: boolean(
                    cfg,
                    "token.accept_token_endpoint_audience",
                )?,
                max_assertion_lifetime: seconds(
                    cfg,
                    "token.max_assertion_lifetime_seconds",
                    1,
                    AT_LEAST_1,
                )?,
                dpop_nonce: boolean(cfg, "token.dpop_nonce")?,
            },
            tls,
            client_cert_header,
            client_ca_file,
        })
    }

    /// Where the key-encryption keys come from.
    pub fn kek_settings(&self) -> crate::keys::KekSettings<'_> {
        crate::keys::KekSettings {
            kek_file: self.kek_file.as_deref(),
            previous_kek_file: self.previous_kek_file.as_deref(),
            keys_dir: &self.keys_dir,
        }
    }

    /// The issuer once the listen address is known (port 0 resolves to the bound port): `https`
    /// when Tessera serves TLS itself.
    pub fn issuer_for(&self, bound: SocketAddr) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        self.issuer
            .clone()
            .unwrap_or_else(|| format!("{scheme}://{bound}"))
    }
}

fn string(cfg: &Config, key: &'static str) -> Result<String, ConfigError> {
    cfg.get_string(key).map_err(|_| ConfigError::Invalid {
        key,
        value: String::new(),
        allowed: "expected a string",
    })
}

/// A path that may be left unset (absent or empty).
fn optional_path(cfg: &Config, key: &'static str) -> Result<Option<PathBuf>, ConfigError> {
    match cfg.get_string(key) {
        Ok(value) => {
            let value = value.trim();
            Ok((!value.is_empty()).then(|| PathBuf::from(value)))
        }
        Err(config::ConfigError::NotFound(_)) => Ok(None),
        Err(_) => Err(ConfigError::Invalid {
            key,
            value: String::new(),
            allowed: "expected a file path",
        }),
    }
}

fn parse<T: FromStr>(
    cfg: &Config,
    key: &'static str,
    allowed: &'static str,
) -> Result<T, ConfigError> {
    let value = string(cfg, key)?;
    value.trim().parse().map_err(|_| ConfigError::Invalid {
        key,
        value,
        allowed,
    })
}

fn seconds(
    cfg: &Config,
    key: &'static str,
    min: u64,
    allowed: &'static str,
) -> Result<Duration, ConfigError> {
    let value = string(cfg, key)?;
    match value.trim().parse::<u64>() {
        Ok(n) if n >= min && n <= 10 * 365 * 86_400 => Ok(Duration::from_secs(n)),
        _ => Err(ConfigError::Invalid {
            key,
            value,
            allowed,
        }),
    }
}

const AT_LEAST_1: &str = "expected whole seconds, at least 1";

fn count(cfg: &Config, key: &'static str) -> Result<u32, ConfigError> {
    let value = string(cfg, key)?;
    value
        .trim()
        .parse::<u32>()
        .map_err(|_| ConfigError::Invalid {
            key,
            value,
            allowed: "expected a whole number (0: no limit)",
        })
}

fn console(cfg: &Config) -> Result<ConsoleSettings, ConfigError> {
    let whole = |key: &'static str, unit: u64, max: u64| -> Result<Duration, ConfigError> {
        let value = string(cfg, key)?;
        match value.trim().parse::<u64>() {
            Ok(n) if (1..=max).contains(&n) => Ok(Duration::from_secs(n * unit)),
            _ => Err(ConfigError::Invalid {
                key,
                value,
                allowed: "expected a whole number, at least 1",
            }),
        }
    };
    let session_idle = whole("console.session_idle_minutes", 60, 7 * 24 * 60)?;
    let session_max = whole("console.session_hours", 3_600, 30 * 24)?;
    let reauth = whole("console.reauth_minutes", 60, 24 * 60)?;
    let require_second_factor = boolean(cfg, "console.require_second_factor")?;
    Ok(ConsoleSettings {
        session_idle,
        session_max,
        reauth,
        require_second_factor,
        oidc: oidc(cfg)?,
    })
}

fn boolean(cfg: &Config, key: &'static str) -> Result<bool, ConfigError> {
    let raw = string(cfg, key)?;
    match raw.trim() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(ConfigError::Invalid {
            key,
            value: raw,
            allowed: "expected true or false",
        }),
    }
}

/// `server.tls.cert_file` and `key_file` together, or neither.
fn tls(cfg: &Config) -> Result<Option<TlsSettings>, ConfigError> {
    let cert = optional_path(cfg, "server.tls.cert_file")?;
    let key = optional_path(cfg, "server.tls.key_file")?;
    match (cert, key) {
        (Some(cert_file), Some(key_file)) => Ok(Some(TlsSettings {
            cert_file,
            key_file,
        })),
        (None, None) => Ok(None),
        _ => Err(ConfigError::Invalid {
            key: "server.tls",
            value: String::new(),
            allowed: "set server.tls.cert_file and server.tls.key_file together",
        }),
    }
}

/// `server.tls.client_ca_file`, only where client certificates can arrive: over Tessera's own
/// TLS or in `server.client_cert_header`.
fn client_ca_file(
    cfg: &Config,
    tls: Option<&TlsSettings>,
    header: Option<&String>,
) -> Result<Option<PathBuf>, ConfigError> {
    let file = optional_path(cfg, "server.tls.client_ca_file")?;
    match file {
        Some(path) if tls.is_none() && header.is_none() => Err(ConfigError::Invalid {
            key: "server.tls.client_ca_file",
            value: path.display().to_string(),
            allowed: "client certificates arrive only with server.tls.cert_file and key_file, \
                      or server.client_cert_header: set one of them",
        }),
        file => Ok(file),
    }
}

/// `console.oidc.*`: all three keys, or none.
fn oidc(cfg: &Config) -> Result<Option<OidcSettings>, ConfigError> {
    let get = |key: &str| {
        cfg.get_string(key)
            .ok()
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let keys = [
        "console.oidc.issuer",
        "console.oidc.client_id",
        "console.oidc.client_secret",
    ];
    let values: Vec<Option<String>> = keys.iter().map(|k| get(k)).collect();
    if values.iter().all(Option::is_none) {
        return Ok(None);
    }
    if let Some(i) = values.iter().position(Option::is_none) {
        return Err(ConfigError::Invalid {
            key: keys[i],
            value: String::new(),
            allowed: "console.oidc needs issuer, client_id and client_secret together",
        });
    }
    let mut values = values.into_iter().flatten();
    let (Some(issuer), Some(client_id), Some(secret)) =
        (values.next(), values.next(), values.next())
    else {
        return Ok(None);
    };
    match url::Url::parse(&issuer) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => {}
        _ => {
            return Err(ConfigError::Invalid {
                key: "console.oidc.issuer",
                value: issuer,
                allowed: "expected an http(s) URL",
            });
        }
    }
    Ok(Some(OidcSettings {
        // Exactly as written: providers compare it byte for byte (Auth0's ends in `/`).
        issuer: issuer.to_owned(),
        client_id,
        client_secret: zeroize::Zeroizing::new(secret),
    }))
}

fn validate_issuer(value: String) -> Result<String, ConfigError> {
    match url::Url::parse(&value) {
        Ok(url)
            if matches!(url.scheme(), "http" | "https")
                && url.query().is_none()
                && url.fragment().is_none() =>
        {
            Ok(value.trim_end_matches('/').to_owned())
        }
        _ => Err(ConfigError::Invalid {
            key: "issuer",
            value,
            allowed: "expected an http(s) URL without query or fragment",
        }),
    }
}

fn trusted_proxies(cfg: &Config) -> Result<Vec<IpNet>, ConfigError> {
    let raw: Vec<String> = match cfg.get_array("server.trusted_proxies") {
        Ok(values) => values
            .into_iter()
            .map(|v| v.into_string())
            .collect::<Result<_, _>>()
            .map_err(|_| ConfigError::Invalid {
                key: "server.trusted_proxies",
                value: String::new(),
                allowed: "expected a list of CIDRs",
            })?,
        Err(_) => match cfg.get_string("server.trusted_proxies") {
            Ok(s) => s.split(',').map(str::to_owned).collect(),
            Err(_) => Vec::new(),
        },
    };
    raw.iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<IpNet>()
                .or_else(|_| s.parse::<std::net::IpAddr>().map(IpNet::from))
                .map_err(|_| ConfigError::Invalid {
                    key: "server.trusted_proxies",
                    value: s.to_owned(),
                    allowed: "expected IPv4/IPv6 addresses or CIDRs such as 10.0.0.0/8",
                })
        })
        .collect()
}

/// Parses `30d`, `12h`, `90m`, `45s` or a bare number of seconds.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let (digits, unit) = match s.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let n: u64 = digits.parse().ok()?;
    let factor = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return None,
    };
    n.checked_mul(factor)
        .filter(|secs| *secs > 0)
        .map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30d"), Some(Duration::from_secs(2_592_000)));
        assert_eq!(parse_duration("90m"), Some(Duration::from_secs(5_400)));
        assert_eq!(parse_duration("45"), Some(Duration::from_secs(45)));
        assert_eq!(parse_duration("0d"), None);
        assert_eq!(parse_duration("3x"), None);
        assert_eq!(parse_duration(""), None);
    }

    #[test]
    fn console_settings_default_and_name_the_bad_key() {
        let defaults = || {
            let mut b = Config::builder();
            for (key, value) in DEFAULTS {
                b = b.set_default(*key, *value).unwrap();
            }
            b
        };
        let c = console(&defaults().build().unwrap()).unwrap();
        assert_eq!(c.session_idle, Duration::from_secs(30 * 60));
        assert_eq!(c.session_max, Duration::from_secs(8 * 3_600));
        assert_eq!(c.reauth, Duration::from_secs(600));
        assert!(c.require_second_factor);
        let bad = defaults()
            .set_override("console.session_hours", "0")
            .unwrap()
            .build()
            .unwrap();
        let err = console(&bad).unwrap_err().to_string();
        assert!(err.contains("console.session_hours"), "{err}");
        let bad = defaults()
            .set_override("console.require_second_factor", "maybe")
            .unwrap()
            .build()
            .unwrap();
        let err = console(&bad).unwrap_err().to_string();
        assert!(err.contains("console.require_second_factor"), "{err}");
        assert!(c.oidc.is_none());
        let half = defaults()
            .set_override("console.oidc.issuer", "https://idp.example.com")
            .unwrap()
            .set_override("console.oidc.client_id", "tessera")
            .unwrap()
            .build()
            .unwrap();
        let err = console(&half).unwrap_err().to_string();
        assert!(err.contains("console.oidc.client_secret"), "{err}");
        let whole = defaults()
            .set_override("console.oidc.issuer", "https://idp.example.com/")
            .unwrap()
            .set_override("console.oidc.client_id", "tessera")
            .unwrap()
            .set_override("console.oidc.client_secret", "s3cret")
            .unwrap()
            .build()
            .unwrap();
        let oidc = console(&whole).unwrap().oidc.unwrap();
        // Kept exactly as written: providers compare it byte for byte.
        assert_eq!(oidc.issuer, "https://idp.example.com/");
        assert!(!format!("{oidc:?}").contains("s3cret"));
    }

    #[test]
    fn tls_files_come_in_pairs_and_client_ca_needs_a_way_in() {
        let with = |pairs: &[(&str, &str)]| {
            let mut b = Config::builder();
            for (key, value) in DEFAULTS.iter().chain(pairs) {
                b = b.set_override(*key, *value).unwrap();
            }
            Settings::from_config(&b.build().unwrap())
        };
        let plain = with(&[]).unwrap();
        assert!(plain.tls.is_none() && plain.client_ca_file.is_none());
        let bound = "127.0.0.1:8443".parse().unwrap();
        assert_eq!(plain.issuer_for(bound), "http://127.0.0.1:8443");
        let err = with(&[("server.tls.cert_file", "c.pem")]).unwrap_err();
        assert!(err.to_string().contains("server.tls"), "{err}");
        let err = with(&[("server.tls.client_ca_file", "ca.pem")]).unwrap_err();
        assert!(
            err.to_string().contains("server.tls.client_ca_file"),
            "{err}"
        );
        let https = with(&[
            ("server.tls.cert_file", "c.pem"),
            ("server.tls.key_file", "k.pem"),
            ("server.tls.client_ca_file", "ca.pem"),
        ])
        .unwrap();
        assert_eq!(https.issuer_for(bound), "https://127.0.0.1:8443");
        assert_eq!(https.client_ca_file, Some(PathBuf::from("ca.pem")));
        // Behind a TLS-terminating proxy: plain HTTP, the CA for the proxied certificates.
        let proxied = with(&[
            ("server.client_cert_header", "Client-Cert"),
            ("server.tls.client_ca_file", "ca.pem"),
        ])
        .unwrap();
        assert!(proxied.tls.is_none());
        assert_eq!(proxied.client_cert_header.as_deref(), Some("client-cert"));
        assert_eq!(proxied.client_ca_file, Some(PathBuf::from("ca.pem")));
    }
}
