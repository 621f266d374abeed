//! Test harness: runs the real `tessera` binary against a temp SQLite file and keys dir, or,
//! when `TESSERA_TEST_POSTGRES_URL` names a role that may create databases, against a fresh
//! PostgreSQL database per test (dropped afterwards).
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

pub mod clients;
pub mod console;

pub const BIN: &str = env!("CARGO_BIN_EXE_tessera");

/// One Tessera installation: a database and a keys dir in a temp dir.
pub struct Tessera {
    pub dir: tempfile::TempDir,
    pub env: Vec<(String, String)>,
    /// The PostgreSQL database made for this installation, if any.
    pub postgres: Option<PostgresDb>,
}

/// A database on the test PostgreSQL server, dropped with its [`Tessera`].
pub struct PostgresDb {
    /// URL of the role that creates and drops test databases.
    admin_url: String,
    /// This database's name.
    pub name: String,
    /// URL of this database.
    pub url: String,
}

/// The test PostgreSQL server's admin URL, when the suite runs against PostgreSQL.
pub fn postgres_url() -> Option<String> {
    std::env::var("TESSERA_TEST_POSTGRES_URL")
        .ok()
        .filter(|u| !u.is_empty())
}

fn psql(url: &str, sql: &str) {
    let out = Command::new("psql")
        .args([url, "-v", "ON_ERROR_STOP=1", "-qAtc", sql])
        .output()
        .expect("run psql");
    assert!(
        out.status.success(),
        "psql {sql:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl PostgresDb {
    /// Creates an empty database on the server at `admin_url`.
    pub fn create(admin_url: &str) -> Self {
        use std::sync::atomic::{AtomicU32, Ordering};
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "tessera_test_{}_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed),
            rand_suffix() % 1_000_000
        );
        psql(admin_url, &format!("CREATE DATABASE {name}"));
        let base = admin_url.rsplit_once('/').map_or(admin_url, |(b, _)| b);
        PostgresDb {
            admin_url: admin_url.to_owned(),
            url: format!("{base}/{name}"),
            name,
        }
    }
}

impl Drop for PostgresDb {
    fn drop(&mut self) {
        let _ = Command::new("psql")
            .args([
                self.admin_url.as_str(),
                "-qAtc",
                &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
            ])
            .output();
    }
}

impl Default for Tessera {
    fn default() -> Self {
        Self::new()
    }
}

impl Tessera {
    /// SQLite in a temp dir, or a new PostgreSQL database when the suite runs on PostgreSQL.
    pub fn new() -> Self {
        match postgres_url() {
            Some(url) => Self::on_postgres(&url),
            None => Self::on_sqlite(),
        }
    }

    /// Always SQLite (for tests about the embedded default).
    pub fn on_sqlite() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}/tessera.db?mode=rwc", dir.path().display());
        Self::with_database(dir, url, None)
    }

    /// A fresh database on the PostgreSQL server at `admin_url`.
    pub fn on_postgres(admin_url: &str) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = PostgresDb::create(admin_url);
        let url = db.url.clone();
        Self::with_database(dir, url, Some(db))
    }

    /// Another installation on the same database and keys (a second replica's view).
    pub fn sharing(&self) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut env = self.env.clone();
        env.retain(|(k, _)| k != "TESSERA__SERVER__BIND");
        env.push(("TESSERA__SERVER__BIND".into(), "127.0.0.1:0".into()));
        Tessera {
            dir,
            env,
            postgres: None,
        }
    }

    fn with_database(dir: tempfile::TempDir, url: String, postgres: Option<PostgresDb>) -> Self {
        let env = vec![
            ("TESSERA__SERVER__BIND".into(), "127.0.0.1:0".into()),
            ("TESSERA__DATABASE__URL".into(), url),
            (
                "TESSERA__KEYS__DIR".into(),
                dir.path().join("keys").display().to_string(),
            ),
        ];
        Tessera { dir, env, postgres }
    }

    /// Everything stored, as bytes, for scans that no secret is kept in the clear: the SQLite
    /// file and its WAL, or a data dump of the PostgreSQL database.
    pub fn database_bytes(&self) -> Vec<u8> {
        if let Some(db) = &self.postgres {
            let out = Command::new("pg_dump")
                .args(["--data-only", db.url.as_str()])
                .output()
                .expect("run pg_dump");
            assert!(out.status.success(), "pg_dump failed");
            return out.stdout;
        }
        let mut bytes = std::fs::read(self.path().join("tessera.db")).expect("database file");
        bytes.extend(std::fs::read(self.path().join("tessera.db-wal")).unwrap_or_default());
        bytes
    }

    /// Sets (or replaces) an environment variable for every later command.
    pub fn set(&mut self, key: &str, value: &str) -> &mut Self {
        self.env.retain(|(k, _)| k != key);
        self.env.push((key.into(), value.into()));
        self
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn command(&self) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.current_dir(self.dir.path())
            .env_remove("RUST_LOG")
            .envs(self.env.iter().map(|(k, v)| (k, v)));
        cmd
    }

    /// Runs the CLI and returns its output, whatever the exit status. Its log (stderr) must
    /// hold no secret, token or hash; stdout may (a new secret is shown once).
    pub fn cli(&self, args: &[&str]) -> Output {
        let out = self.command().args(args).output().expect("run tessera");
        let found = leaks(&String::from_utf8_lossy(&out.stderr));
        assert!(
            found.is_empty(),
            "tessera {args:?} logs credentials: {found:?}"
        );
        out
    }

    /// Runs the CLI with `--json`, asserts success and parses stdout.
    pub fn cli_json(&self, args: &[&str]) -> Value {
        let mut args = args.to_vec();
        args.push("--json");
        let out = self.cli(&args);
        assert!(
            out.status.success(),
            "tessera {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("JSON on stdout")
    }

    pub fn create_api(&self, name: &str, audience: &str, permissions: &str) -> Value {
        self.cli_json(&[
            "apis",
            "create",
            "--name",
            name,
            "--audience",
            audience,
            "--permissions",
            permissions,
        ])
    }

    /// Creates a client and returns `(client_id, client_secret)`.
    pub fn create_client(&self, name: &str, scopes: &str) -> (String, String) {
        let v = self.cli_json(&["clients", "create", "--name", name, "--scopes", scopes]);
        (
            v["client_id"].as_str().unwrap().to_owned(),
            v["client_secret"].as_str().unwrap().to_owned(),
        )
    }

    /// Starts `tessera serve` and waits for its address.
    pub fn serve(&self) -> Server {
        self.serve_with(&[])
    }

    /// Starts `tessera ARGS… serve` (e.g. `--config FILE`) and waits for its address.
    pub fn serve_with(&self, args: &[&str]) -> Server {
        self.try_serve_with(args)
            .unwrap_or_else(|log| panic!("server did not start:\n{log}"))
    }

    /// Starts `tessera serve`; on failure returns what it wrote to stderr.
    pub fn try_serve(&self) -> Result<Server, String> {
        self.try_serve_with(&[])
    }

    fn try_serve_with(&self, args: &[&str]) -> Result<Server, String> {
        let log_path = self.dir.path().join(format!("serve-{}.log", rand_suffix()));
        let log = std::fs::File::create(&log_path).expect("log file");
        let mut child = self
            .command()
            .args(args)
            .arg("serve")
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .spawn()
            .expect("spawn tessera serve");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            while reader.read_line(&mut line).unwrap_or(0) > 0 {
                if let Some(url) = line.trim().strip_prefix("tessera listening on ") {
                    let _ = tx.send(url.to_owned());
                }
                line.clear();
            }
        });
        match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(url) => Ok(Server {
                url,
                child,
                log: log_path,
            }),
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                Err(std::fs::read_to_string(&log_path).unwrap_or_default())
            }
        }
    }
}

fn rand_suffix() -> u64 {
    use std::time::{SystemTime, UNIX_EPOCH};
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

/// A running server; killed when dropped.
pub struct Server {
    pub url: String,
    pub child: Child,
    pub log: PathBuf,
}

impl Server {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.url, path)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Stops the server (SIGKILL) and waits for it.
    pub fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// `POST /oauth2/token` with a form body and optional Basic credentials (sent raw).
    pub async fn token_request(
        &self,
        basic: Option<(&str, &str)>,
        form: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut req = http().post(self.url("/oauth2/token")).form(form);
        if let Some((id, secret)) = basic {
            req = req.basic_auth(id, Some(secret));
        }
        req.send().await.expect("token request")
    }

    /// A successful client-credentials token via Basic; returns the response JSON.
    pub async fn token(&self, id: &str, secret: &str, form: &[(&str, &str)]) -> Value {
        let mut all = vec![("grant_type", "client_credentials")];
        all.extend_from_slice(form);
        let resp = self.token_request(Some((id, secret)), &all).await;
        let status = resp.status();
        let body: Value = resp.json().await.expect("JSON body");
        assert_eq!(status, 200, "token request failed: {body}");
        body
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // Every server of every test: its whole log must hold no secret, token or hash.
        let found = leaks(&self.log());
        if !found.is_empty() && !std::thread::panicking() {
            panic!("the server log leaks credentials: {found:?}");
        }
    }
}

/// Secrets (`tsk_` + 20 or more URL-safe characters), JWTs and argon2 hashes found in `text`.
pub fn leaks(text: &str) -> Vec<String> {
    let url_safe = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    let mut found = Vec::new();
    for (i, _) in text.match_indices("tsk_") {
        let run = text[i + 4..].chars().take_while(|c| url_safe(*c)).count();
        if run >= 20 {
            found.push(format!("secret at byte {i}"));
        }
    }
    for (i, _) in text.match_indices("eyJ") {
        let rest = &text[i..];
        let head = rest.chars().take_while(|c| url_safe(*c)).count();
        if rest[head..].starts_with(".eyJ") {
            found.push(format!("JWT at byte {i}"));
        }
    }
    for (i, _) in text.match_indices("$argon2") {
        found.push(format!("argon2 hash at byte {i}"));
    }
    found
}

pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

/// Decodes a JWT's header and claims without verifying.
pub fn jwt_parts(token: &str) -> (Value, Value) {
    use base64::Engine;
    let mut parts = token.split('.');
    let decode = |p: &str| -> Value {
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(p)
            .expect("base64url");
        serde_json::from_slice(&bytes).expect("JSON")
    };
    let header = decode(parts.next().unwrap());
    let claims = decode(parts.next().unwrap());
    (header, claims)
}

/// Verifies `token` with the `jsonwebtoken` crate (not josekit) against the server's JWKS,
/// found through discovery; returns the claims.
pub async fn verify_with_jwks(server: &Server, token: &str, audience: &str) -> Value {
    let meta: Value = http()
        .get(server.url("/.well-known/oauth-authorization-server"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let jwks: jsonwebtoken::jwk::JwkSet = http()
        .get(meta["jwks_uri"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let header = jsonwebtoken::decode_header(token).expect("JWT header");
    let kid = header.kid.clone().expect("kid in header");
    let jwk = jwks.find(&kid).expect("kid present in the JWKS");
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).expect("usable JWK");
    let mut validation = jsonwebtoken::Validation::new(header.alg);
    validation.set_audience(&[audience]);
    validation.set_issuer(&[meta["issuer"].as_str().unwrap()]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub", "nbf"]);
    jsonwebtoken::decode::<Value>(token, &key, &validation)
        .expect("token verifies against the JWKS")
        .claims
}
