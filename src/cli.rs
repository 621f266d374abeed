//! The `tessera` command line: serving, migrating, and administration straight on the database.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use serde::Serialize;

use crate::config::{ConfigError, Settings};
use crate::keys::{KeyEncryptionKey, KeyError};
use crate::ops::{self, Context, Ops, OpsError};
use crate::server::ServeError;
use crate::store::audit::Actor;
use crate::store::backup::BackupError;
use crate::store::{self, ClientFields, NewApi, StoreError};

/// OAuth 2.0 client-credentials authorization server.
#[derive(Debug, Parser)]
#[command(name = "tessera", version, about)]
pub struct Cli {
    /// TOML configuration file (environment variables TESSERA__SECTION__KEY override it).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Apply pending migrations, then serve HTTP.
    Serve,
    /// Apply pending migrations only.
    Migrate,
    /// Manage API clients.
    #[command(subcommand)]
    Clients(ClientsCommand),
    /// Manage the API catalog.
    #[command(subcommand)]
    Apis(ApisCommand),
    /// Manage roles (named sets of scopes).
    #[command(subcommand)]
    Roles(RolesCommand),
    /// Manage signing keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Manage administrators (people) and their roles in projects.
    #[command(subcommand)]
    Admins(AdminsCommand),
    /// Manage projects.
    #[command(subcommand)]
    Projects(ProjectsCommand),
    /// Write a consistent snapshot of the SQLite database to FILE (mode 0600) while servers
    /// run; never overwrites. PostgreSQL: use pg_dump (README, "Backup and restore").
    Backup {
        /// The backup file to create.
        #[arg(long, value_name = "FILE")]
        to: PathBuf,
        #[command(flatten)]
        output: Output,
    },
    /// Replace the SQLite database with a backup made by `tessera backup`; refuses while a
    /// server uses the database.
    Restore {
        /// The backup file.
        #[arg(long, value_name = "FILE")]
        from: PathBuf,
        #[command(flatten)]
        output: Output,
    },
}

/// `tessera admins …`.
#[derive(Debug, Subcommand)]
pub enum AdminsCommand {
    /// Make an administrator and print their one-time enrollment URL (valid 24 hours).
    Create {
        /// Sign-in email (case-insensitive).
        #[arg(long)]
        email: String,
        /// Display name (default: the email).
        #[arg(long, default_value = "")]
        display_name: String,
        /// Every project; manages projects, administrators and signing keys.
        #[arg(long)]
        superadmin: bool,
        /// A project to give them a role in (with --role).
        #[arg(long, requires = "role")]
        project: Option<String>,
        /// Their role in --project: viewer, admin or owner.
        #[arg(long, requires = "project", value_parser = ["viewer", "admin", "owner"])]
        role: Option<String>,
        /// Space-separated ceiling in --project: the scopes they may grant (default: all).
        #[arg(long, requires = "project")]
        scopes: Option<String>,
        #[command(flatten)]
        output: Output,
    },
    /// List administrators.
    List {
        /// Only those with a role in this project.
        #[arg(long)]
        project: Option<String>,
        #[command(flatten)]
        output: Output,
    },
    /// Disable an administrator: their sessions end and their clients are disabled.
    Disable {
        /// Email.
        email: String,
    },
    /// Enable an administrator (their clients stay disabled until enabled one by one).
    Enable {
        /// Email.
        email: String,
    },
    /// Delete an administrator; their clients stay, disabled, until transferred.
    Delete {
        /// Email.
        email: String,
    },
    /// Print a new one-time enrollment URL; earlier unused ones stop working.
    Enroll {
        /// Email.
        email: String,
        #[command(flatten)]
        output: Output,
    },
    /// Give an administrator a role (and optional ceiling) in a project, replacing any
    /// earlier one there.
    Grant {
        /// Email.
        email: String,
        /// Project.
        #[arg(long)]
        project: String,
        /// viewer, admin or owner.
        #[arg(long, value_parser = ["viewer", "admin", "owner"])]
        role: String,
        /// Space-separated ceiling: the scopes they may grant there (default: all).
        #[arg(long)]
        scopes: Option<String>,
        #[command(flatten)]
        output: Output,
    },
    /// Take an administrator's role in a project away (their clients there are disabled).
    Revoke {
        /// Email.
        email: String,
        /// Project.
        #[arg(long)]
        project: String,
    },
}

/// `tessera projects …`.
#[derive(Debug, Subcommand)]
pub enum ProjectsCommand {
    /// Make a project.
    Create {
        /// Name: [a-z0-9][a-z0-9-]{0,62}; it never changes.
        name: String,
        /// Display name.
        #[arg(long, default_value = "")]
        display_name: String,
        /// Free-text description.
        #[arg(long, default_value = "")]
        description: String,
        #[command(flatten)]
        output: Output,
    },
    /// List projects.
    List {
        #[command(flatten)]
        output: Output,
    },
    /// Delete a project with its APIs and roles (one still holding clients needs --force,
    /// which disables and then deletes them).
    Delete {
        /// Project name.
        name: String,
        /// Also disable and delete its clients.
        #[arg(long)]
        force: bool,
    },
}

/// `tessera roles …`.
#[derive(Debug, Subcommand)]
pub enum RolesCommand {
    /// Make a role.
    Create {
        /// Name: [a-z0-9][a-z0-9._-]{0,62}.
        #[arg(long)]
        name: String,
        /// Its project (default: default).
        #[arg(long)]
        project: Option<String>,
        /// Free-text description.
        #[arg(long, default_value = "")]
        description: String,
        /// Space-separated scopes, e.g. "orders:read audit:read".
        #[arg(long, default_value = "")]
        scopes: String,
        #[command(flatten)]
        output: Output,
    },
    /// List roles.
    List {
        /// Only this project's.
        #[arg(long)]
        project: Option<String>,
        #[command(flatten)]
        output: Output,
    },
    /// Delete a role (one still held needs --force, which takes it from its clients).
    Delete {
        /// Role name.
        name: String,
        /// Its project (default: default).
        #[arg(long)]
        project: Option<String>,
        /// Also take it from every client holding it.
        #[arg(long)]
        force: bool,
    },
}

/// Output format flag shared by every data-printing command.
#[derive(Debug, Args)]
pub struct Output {
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// How a client authenticates (SPEC §9); on `update`, a new --auth-method replaces the
/// method's settings with those given, otherwise the given ones change.
#[derive(Debug, Args, Default)]
pub struct AuthArgs {
    /// client_secret_basic (default), private_key_jwt, tls_client_auth or
    /// self_signed_tls_client_auth; the last three hold no secret.
    #[arg(long)]
    auth_method: Option<String>,
    /// A file with the client's public JWK set (private_key_jwt; self_signed_tls_client_auth
    /// with certificates in x5c).
    #[arg(long, value_name = "FILE")]
    jwks: Option<std::path::PathBuf>,
    /// Where the client publishes its JWK set (private_key_jwt).
    #[arg(long, value_name = "URL")]
    jwks_uri: Option<String>,
    /// The algorithm of its assertions: ES256 (default), ES384, EdDSA, PS256, RS256.
    #[arg(long, value_name = "ALG")]
    signing_alg: Option<String>,
    /// tls_client_auth: the certificate's subject DN, e.g. "CN=billing,O=Example".
    #[arg(long, value_name = "DN")]
    tls_subject_dn: Option<String>,
    /// tls_client_auth: a DNS name in the certificate.
    #[arg(long, value_name = "NAME")]
    tls_san_dns: Option<String>,
    /// tls_client_auth: a URI in the certificate.
    #[arg(long, value_name = "URI")]
    tls_san_uri: Option<String>,
    /// tls_client_auth: an IP address in the certificate.
    #[arg(long, value_name = "IP")]
    tls_san_ip: Option<String>,
    /// tls_client_auth: an email address in the certificate.
    #[arg(long, value_name = "EMAIL")]
    tls_san_email: Option<String>,
    /// Its token requests must carry a DPoP proof (true or false).
    #[arg(long, value_name = "BOOL")]
    dpop_bound: Option<bool>,
}

impl AuthArgs {
    fn given(&self) -> bool {
        self.auth_method.is_some()
            || self.jwks.is_some()
            || self.jwks_uri.is_some()
            || self.signing_alg.is_some()
            || self.tls_subject_dn.is_some()
            || self.tls_san_dns.is_some()
            || self.tls_san_uri.is_some()
            || self.tls_san_ip.is_some()
            || self.tls_san_email.is_some()
            || self.dpop_bound.is_some()
    }

    /// `current` changed by these options; `None` when none was given.
    fn apply(
        self,
        current: store::client_auth::AuthFields,
    ) -> Result<Option<store::client_auth::AuthFields>, CliError> {
        use store::client_auth::AuthSettings;
        if !self.given() {
            return Ok(None);
        }
        let mut auth = current;
        if let Some(method) = &self.auth_method {
            auth.method = method
                .parse()
                .map_err(|e: String| CliError::Usage(format!("--auth-method: {e}")))?;
            auth.settings = AuthSettings::default();
        }
        let s = &mut auth.settings;
        if let Some(path) = &self.jwks {
            let text = std::fs::read_to_string(path)
                .map_err(|e| CliError::Usage(format!("--jwks {}: {e}", path.display())))?;
            s.jwks = Some(serde_json::from_str(&text).map_err(|e| {
                CliError::Usage(format!("--jwks {}: not JSON: {e}", path.display()))
            })?);
        }
        if let Some(alg) = &self.signing_alg {
            s.token_endpoint_auth_signing_alg = Some(
                alg.parse()
                    .map_err(|e: String| CliError::Usage(format!("--signing-alg: {e}")))?,
            );
        }
        let set = |slot: &mut Option<String>, v: Option<String>| {
            if v.is_some() {
                *slot = v.filter(|v| !v.is_empty());
            }
        };
        set(&mut s.jwks_uri, self.jwks_uri);
        // A certificate is matched on one value: a new one replaces the old, whatever its kind.
        if self.tls_subject_dn.is_some()
            || self.tls_san_dns.is_some()
            || self.tls_san_uri.is_some()
            || self.tls_san_ip.is_some()
            || self.tls_san_email.is_some()
        {
            s.tls_client_auth_subject_dn = None;
            s.tls_client_auth_san_dns = None;
            s.tls_client_auth_san_uri = None;
            s.tls_client_auth_san_ip = None;
            s.tls_client_auth_san_email = None;
        }
        set(&mut s.tls_client_auth_subject_dn, self.tls_subject_dn);
        set(&mut s.tls_client_auth_san_dns, self.tls_san_dns);
        set(&mut s.tls_client_auth_san_uri, self.tls_san_uri);
        set(&mut s.tls_client_auth_san_ip, self.tls_san_ip);
        set(&mut s.tls_client_auth_san_email, self.tls_san_email);
        if let Some(bound) = self.dpop_bound {
            auth.dpop_bound_access_tokens = bound;
        }
        Ok(Some(auth))
    }
}

/// `tessera clients …`.
#[derive(Debug, Subcommand)]
pub enum ClientsCommand {
    /// Create a root client (or, with --owner, a client owned by an administrator, within
    /// their ceiling) and print its first secret (shown only this once).
    Create {
        /// Display name.
        #[arg(long)]
        name: String,
        /// Its project (default: default).
        #[arg(long)]
        project: Option<String>,
        /// Email of the administrator who will own it; what they may grant bounds its scopes.
        #[arg(long)]
        owner: Option<String>,
        /// Space-separated roles of its project.
        #[arg(long, default_value = "")]
        roles: String,
        /// Free-text description.
        #[arg(long, default_value = "")]
        description: String,
        /// Space-separated scopes, e.g. "orders:read audit:read".
        #[arg(long, default_value = "")]
        scopes: String,
        #[command(flatten)]
        auth: Box<AuthArgs>,
        #[command(flatten)]
        output: Output,
    },
    /// List clients.
    List {
        /// Only this project's.
        #[arg(long)]
        project: Option<String>,
        #[command(flatten)]
        output: Output,
    },
    /// Make another administrator of its project the owner of a client.
    Transfer {
        /// Client id.
        client_id: String,
        /// Email of the new owner.
        #[arg(long)]
        to: String,
        #[command(flatten)]
        output: Output,
    },
    /// Show one client.
    Get {
        /// Client id.
        client_id: String,
        #[command(flatten)]
        output: Output,
    },
    /// Change a client; options not given keep their values.
    Update {
        /// Client id.
        client_id: String,
        /// New display name.
        #[arg(long)]
        name: Option<String>,
        /// New description.
        #[arg(long)]
        description: Option<String>,
        /// New space-separated scopes (replaces the current ones).
        #[arg(long)]
        scopes: Option<String>,
        /// New space-separated roles.
        #[arg(long)]
        roles: Option<String>,
        /// New space-separated allowed addresses/CIDRs ("" for any).
        #[arg(long)]
        allowed_ips: Option<String>,
        /// Token lifetime in seconds (0 for the server default).
        #[arg(long)]
        token_ttl_seconds: Option<u32>,
        #[command(flatten)]
        auth: Box<AuthArgs>,
        #[command(flatten)]
        output: Output,
    },
    /// Disable a client: its token requests fail at once.
    Disable {
        /// Client id.
        client_id: String,
    },
    /// Enable a client.
    Enable {
        /// Client id.
        client_id: String,
    },
    /// Delete a client and its secrets.
    Delete {
        /// Client id.
        client_id: String,
    },
    /// Revoke every token issued to a client so far (introspection reports them inactive).
    RevokeTokens {
        /// Client id.
        client_id: String,
        #[command(flatten)]
        output: Output,
    },
    /// Manage a client's secrets.
    #[command(subcommand)]
    Secrets(SecretsCommand),
}

/// `tessera clients secrets …`.
#[derive(Debug, Subcommand)]
pub enum SecretsCommand {
    /// List a client's secrets (masked).
    List {
        /// Client id.
        client_id: String,
        #[command(flatten)]
        output: Output,
    },
    /// Add a secret beside the existing ones; printed once.
    Add {
        /// Client id.
        client_id: String,
        /// Expiry, RFC 3339 (e.g. 2027-01-31T00:00:00Z).
        #[arg(long)]
        expires_at: Option<chrono::DateTime<chrono::Utc>>,
        #[command(flatten)]
        output: Output,
    },
    /// Delete one secret.
    Delete {
        /// Client id.
        client_id: String,
        /// Secret id.
        secret_id: String,
    },
    /// Replace every secret with a new one; printed once.
    Reset {
        /// Client id.
        client_id: String,
        #[command(flatten)]
        output: Output,
    },
}

/// `tessera apis …`.
#[derive(Debug, Subcommand)]
pub enum ApisCommand {
    /// Register an API (resource server).
    Create {
        /// Short name: [a-z0-9][a-z0-9._-]{0,62}.
        #[arg(long)]
        name: String,
        /// Audience URI, e.g. https://api.example.com/orders.
        #[arg(long)]
        audience: String,
        /// Comma-separated permissions it offers.
        #[arg(long, value_delimiter = ',', default_value = "read,write")]
        permissions: Vec<String>,
        /// Its project (default: default).
        #[arg(long)]
        project: Option<String>,
        /// Offer it to every project.
        #[arg(long)]
        shared: bool,
        #[command(flatten)]
        output: Output,
    },
    /// List APIs.
    List {
        /// Only what this project sees (its own, shared, admin).
        #[arg(long)]
        project: Option<String>,
        #[command(flatten)]
        output: Output,
    },
    /// Delete an API (one still granted needs --force, which removes those grants).
    Delete {
        /// API name.
        name: String,
        /// Also remove every grant of it.
        #[arg(long)]
        force: bool,
    },
}

/// `tessera keys …`.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// List signing keys and their states.
    List {
        #[command(flatten)]
        output: Output,
    },
    /// Add a key: published at once, signing after one JWKS cache lifetime.
    Rotate {
        /// Sign with the new key immediately (emergency).
        #[arg(long)]
        now: bool,
        #[command(flatten)]
        output: Output,
    },
    /// Re-encrypt every signing key under another key-encryption key, in one transaction.
    Rewrap {
        /// JWK file of the new key-encryption key; created with a fresh key (mode 0600) if it
        /// does not exist. Then set keys.kek_file to it on every replica and restart them.
        #[arg(long, value_name = "FILE")]
        new_kek: PathBuf,
        #[command(flatten)]
        output: Output,
    },
}

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Bad configuration.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Database or validation.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Keys.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The server.
    #[error(transparent)]
    Serve(#[from] ServeError),
    /// Backup or restore.
    #[error(transparent)]
    Backup(#[from] BackupError),
    /// A domain operation refused or failed.
    #[error(transparent)]
    Ops(#[from] OpsError),
    /// A bad option value, named.
    #[error("{0}")]
    Usage(String),
}

impl CliError {
    /// Process exit code: 2 for configuration and input errors, 1 otherwise.
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Config(_)
            | CliError::Store(StoreError::Invalid { .. } | StoreError::Validation(_)) => 2,
            CliError::Store(StoreError::Conflict { .. }) => 2,
            CliError::Ops(OpsError::Invalid(_) | OpsError::Conflict(_)) => 2,
            CliError::Usage(_) => 2,
            CliError::Ops(OpsError::Store(
                StoreError::Invalid { .. }
                | StoreError::Validation(_)
                | StoreError::Conflict { .. },
            )) => 2,
            // A key-encryption key that is missing or malformed is configuration.
            CliError::Key(KeyError::Kek { .. })
            | CliError::Serve(ServeError::Key(KeyError::Kek { .. })) => 2,
            CliError::Backup(e) if e.is_usage() => 2,
            _ => 1,
        }
    }
}

/// Runs a parsed command line.
pub async fn run(cli: Cli) -> Result<(), CliError> {
    let settings = Settings::load(cli.config.as_deref())?;
    if let Command::Serve = cli.command {
        return Ok(crate::server::serve(settings).await?);
    }
    // Neither opens the database like the commands below (no migration, no admin API row).
    match &cli.command {
        Command::Backup { to, output } => return backup(&settings, to, output.json).await,
        Command::Restore { from, output } => return restore(&settings, from, output.json).await,
        _ => {}
    }
    let db = store::connect(&settings.database_url).await?;
    store::migrate(&db).await?;
    // Every command below acts as the operator, through the same operations as the admin API.
    let ops = Ops::offline(&db, &settings);
    let cli_ctx = Context::cli();
    // The CLI cannot know a port-0 server's final issuer: it creates the admin API if missing
    // and leaves its audience to the server.
    store::apis::ensure_admin(&db, &settings.issuer_for(settings.bind), false).await?;
    match cli.command {
        Command::Serve | Command::Migrate | Command::Backup { .. } | Command::Restore { .. } => {}
        Command::Admins(cmd) => return admins(&ops, cmd).await,
        Command::Projects(cmd) => return projects(&ops, cmd).await,
        Command::Clients(ClientsCommand::Transfer {
            client_id,
            to,
            output,
        }) => {
            let owner = ops::people::administrator_by_email(&ops, &cli_ctx, &to).await?;
            let client = ops::people::transfer(&ops, &cli_ctx, &client_id, &owner.id).await?;
            print_client(&client, output.json);
        }
        Command::Clients(ClientsCommand::Create {
            name,
            project,
            owner,
            roles,
            description,
            scopes,
            auth,
            output,
        }) => {
            let fields = ClientFields {
                name,
                description,
                scopes: words(&scopes),
                roles: words(&roles),
                auth: auth.apply(Default::default())?,
                ..ClientFields::default()
            };
            // With --owner the CLI acts for that person: their ceiling applies.
            let ctx = match owner {
                Some(email) => {
                    let person =
                        ops::people::administrator_by_email(&ops, &cli_ctx, &email).await?;
                    Context::administrator(person, store::audit::Actor::Cli)
                }
                None => cli_ctx.clone(),
            };
            let (client, secret) = ops::clients::create(&ops, &ctx, project, fields).await?;
            #[derive(Serialize)]
            struct Created<'a> {
                #[serde(skip_serializing_if = "Option::is_none")]
                client_secret: Option<&'a str>,
                #[serde(flatten)]
                client: &'a store::Client,
            }
            let created = Created {
                client_secret: secret.as_ref().map(|s| s.expose()),
                client: &client,
            };
            if output.json {
                print_json(&created);
            } else {
                println!("client_id:     {}", client.client_id);
                if let Some(secret) = &secret {
                    println!("client_secret: {}", secret.expose());
                }
                println!("name:          {}", client.name);
                println!("scopes:        {}", client.scopes.join(" "));
                println!(
                    "auth_method:   {}",
                    client.token_endpoint_auth_method.as_str()
                );
                if secret.is_some() {
                    eprintln!("The secret is shown only now: store it safely.");
                }
            }
        }
        Command::Clients(ClientsCommand::List { project, output }) => {
            let mut clients = store::clients::list(&db).await?;
            if let Some(p) = &project {
                store::projects::get(&db, p).await?;
                clients.retain(|c| c.project == *p);
            }
            if output.json {
                print_json(&clients);
            } else {
                for c in clients {
                    let state = if c.enabled { "enabled" } else { "disabled" };
                    println!(
                        "{}  {}  {}  {}",
                        c.client_id,
                        state,
                        c.name,
                        c.scopes.join(" ")
                    );
                }
            }
        }
        Command::Clients(ClientsCommand::Get { client_id, output }) => {
            let (client, _) = ops::clients::get(&ops, &cli_ctx, &client_id).await?;
            print_client(&client, output.json);
        }
        Command::Clients(ClientsCommand::Update {
            client_id,
            name,
            description,
            scopes,
            roles,
            allowed_ips,
            token_ttl_seconds,
            auth,
            output,
        }) => {
            let (c, _) = ops::clients::get(&ops, &cli_ctx, &client_id).await?;
            let auth = auth.apply(c.auth_fields())?;
            let fields = ClientFields {
                name: name.unwrap_or(c.name),
                description: description.unwrap_or(c.description),
                enabled: c.enabled,
                scopes: scopes.map(|s| words(&s)).unwrap_or(c.scopes),
                roles: roles.map(|s| words(&s)).unwrap_or(c.roles),
                allowed_ips: allowed_ips.map(|s| words(&s)).unwrap_or(c.allowed_ips),
                token_ttl_seconds: match token_ttl_seconds {
                    Some(0) => None,
                    Some(n) => Some(n),
                    None => c.token_ttl_seconds,
                },
                auth,
            };
            let client = ops::clients::replace(&ops, &cli_ctx, &client_id, fields).await?;
            print_client(&client, output.json);
        }
        Command::Clients(ClientsCommand::Disable { client_id }) => {
            set_enabled(&ops, &client_id, false).await?;
        }
        Command::Clients(ClientsCommand::Enable { client_id }) => {
            set_enabled(&ops, &client_id, true).await?;
        }
        Command::Clients(ClientsCommand::Delete { client_id }) => {
            ops::clients::delete(&ops, &cli_ctx, &client_id).await?;
        }
        Command::Clients(ClientsCommand::RevokeTokens { client_id, output }) => {
            let cutoff = ops::clients::revoke_tokens(&ops, &cli_ctx, &client_id).await?;
            if output.json {
                print_json(&serde_json::json!({"client_id": client_id, "revoked_before": cutoff}));
            } else {
                println!("revoked every token of {client_id} issued at or before {cutoff}");
            }
        }
        Command::Clients(ClientsCommand::Secrets(SecretsCommand::List { client_id, output })) => {
            let secrets = ops::clients::secrets(&ops, &cli_ctx, &client_id).await?;
            if output.json {
                print_json(&secrets);
            } else {
                for s in secrets {
                    let expires = s.expires_at.map(|t| t.to_rfc3339()).unwrap_or_default();
                    println!("{}  {}  {}", s.secret_id, s.masked, expires);
                }
            }
        }
        Command::Clients(ClientsCommand::Secrets(SecretsCommand::Add {
            client_id,
            expires_at,
            output,
        })) => {
            let (info, secret) =
                ops::clients::add_secret(&ops, &cli_ctx, &client_id, expires_at).await?;
            print_secret(&info, &secret, output.json);
        }
        Command::Clients(ClientsCommand::Secrets(SecretsCommand::Delete {
            client_id,
            secret_id,
        })) => {
            ops::clients::delete_secret(&ops, &cli_ctx, &client_id, &secret_id).await?;
        }
        Command::Clients(ClientsCommand::Secrets(SecretsCommand::Reset { client_id, output })) => {
            let (info, secret) = ops::clients::reset_secret(&ops, &cli_ctx, &client_id).await?;
            print_secret(&info, &secret, output.json);
        }
        Command::Roles(RolesCommand::Create {
            name,
            project,
            description,
            scopes,
            output,
        }) => {
            let role = ops::catalog::create_role(
                &ops,
                &cli_ctx,
                project.as_deref(),
                &name,
                &description,
                &words(&scopes),
            )
            .await?;
            if output.json {
                print_json(&role);
            } else {
                println!("{}  {}", role.name, role.scopes.join(" "));
            }
        }
        Command::Roles(RolesCommand::List { project, output }) => {
            let roles = ops::catalog::roles(&ops, &cli_ctx, project.as_deref()).await?;
            if output.json {
                print_json(&roles);
            } else {
                for r in roles {
                    println!("{}  {}  {}", r.name, r.scopes.join(" "), r.description);
                }
            }
        }
        Command::Roles(RolesCommand::Delete {
            name,
            project,
            force,
        }) => {
            ops::catalog::delete_role(&ops, &cli_ctx, project.as_deref(), &name, force).await?;
        }
        Command::Apis(ApisCommand::Delete { name, force }) => {
            ops::catalog::delete_api(&ops, &cli_ctx, &name, force).await?;
        }
        Command::Apis(ApisCommand::Create {
            name,
            audience,
            permissions,
            project,
            shared,
            output,
        }) => {
            let new = NewApi {
                name,
                audience,
                permissions,
                project: project.unwrap_or_else(|| store::projects::DEFAULT.to_owned()),
                shared,
            };
            let api = ops::catalog::create_api(&ops, &cli_ctx, new).await?;
            if output.json {
                print_json(&api);
            } else {
                println!(
                    "{}  {}  {}",
                    api.name,
                    api.audience,
                    api.permissions.join(",")
                );
            }
        }
        Command::Apis(ApisCommand::List { project, output }) => {
            let apis = ops::catalog::apis(&ops, &cli_ctx, project.as_deref()).await?;
            if output.json {
                print_json(&apis);
            } else {
                for a in apis {
                    println!("{}  {}  {}", a.name, a.audience, a.permissions.join(","));
                }
            }
        }
        Command::Keys(KeysCommand::List { output }) => {
            let keys = ops::keys::list(&ops, &cli_ctx).await?;
            if output.json {
                print_json(&keys);
            } else {
                for k in keys {
                    println!(
                        "{}  {}  {:?}  activates {}",
                        k.kid,
                        k.alg,
                        k.state,
                        k.activates_at.to_rfc3339()
                    );
                }
            }
        }
        Command::Keys(KeysCommand::Rotate { now, output }) => {
            let kek = KeyEncryptionKey::load(settings.kek_settings(), true)?;
            let key = ops::keys::rotate(&ops, &cli_ctx, &kek, now).await?;
            if output.json {
                print_json(&key);
            } else {
                println!(
                    "{}  {}  {:?}  signs from {}",
                    key.kid,
                    key.alg,
                    key.state,
                    key.activates_at.to_rfc3339()
                );
            }
        }
        Command::Keys(KeysCommand::Rewrap { new_kek, output }) => {
            keys_rewrap(&db, &settings, &new_kek, output.json).await?;
        }
    }
    Ok(())
}

/// `tessera keys rewrap --new-kek FILE`.
async fn keys_rewrap(
    db: &sea_orm::DatabaseConnection,
    settings: &Settings,
    new_kek: &std::path::Path,
    json: bool,
) -> Result<(), CliError> {
    let (new, created) = KeyEncryptionKey::open_or_create_file(new_kek)?;
    if created {
        eprintln!(
            "created key-encryption key {} in {} (mode 0600)",
            new.id(),
            new_kek.display()
        );
    }
    // Keys are opened with the key-encryption keys configured now (and the new one, for a
    // second run after replicas minted keys under the old one).
    let (kek, current) = match KeyEncryptionKey::load(settings.kek_settings(), false) {
        Ok(current) => (new.unsealing_also(current), None),
        Err(e) => (new, Some(e)),
    };
    let done = match store::keys::rewrap(db, &kek, &Actor::cli()).await {
        Ok(done) => done,
        // When the configured key could not even be read, that is the problem to report.
        Err(StoreError::Key(e)) => return Err(current.unwrap_or(e).into()),
        Err(e) => return Err(e.into()),
    };
    if json {
        print_json(&serde_json::json!({
            "rewrapped": done.rewrapped,
            "kek_id": done.kek_id,
            "kek_file": new_kek,
            "created": created,
            "previously_sealed_under": done.previously_sealed_under,
        }));
    } else {
        println!(
            "rewrapped {} signing keys under key-encryption key {} ({})",
            done.rewrapped,
            done.kek_id,
            new_kek.display()
        );
        println!(
            "next: set keys.kek_file = \"{}\" on every replica and restart them one by one",
            new_kek.display()
        );
    }
    Ok(())
}

/// `tessera backup --to FILE`.
async fn backup(settings: &Settings, to: &std::path::Path, json: bool) -> Result<(), CliError> {
    let report = store::backup::backup(&settings.database_url, to).await?;
    if json {
        print_json(&report);
    } else {
        let c = &report.contents;
        println!(
            "backed up {} to {}: {} clients, {} signing keys (sealed), {} bytes, migration {}",
            report.database.display(),
            report.to.display(),
            c.clients,
            c.signing_keys,
            c.bytes,
            c.migration
        );
    }
    Ok(())
}

/// `tessera restore --from FILE`.
async fn restore(settings: &Settings, from: &std::path::Path, json: bool) -> Result<(), CliError> {
    let report = store::backup::restore(&settings.database_url, from).await?;
    if json {
        print_json(&report);
    } else {
        let c = &report.contents;
        println!(
            "restored {} from {}: {} clients, {} signing keys, migration {}",
            report.database.display(),
            report.from.display(),
            c.clients,
            c.signing_keys,
            c.migration
        );
        if let Some(old) = &report.replaced {
            println!(
                "the database it replaced is kept as {} (delete it when the restore is fine)",
                old.display()
            );
        }
    }
    Ok(())
}

/// `tessera admins …`, as the operator.
async fn admins(ops: &Ops<'_>, cmd: AdminsCommand) -> Result<(), CliError> {
    use store::administrators::{AdministratorChange, Membership, NewAdministrator, ProjectRole};
    let ctx = Context::cli();
    let role_of = |r: &str| match r {
        "viewer" => ProjectRole::Viewer,
        "owner" => ProjectRole::Owner,
        _ => ProjectRole::Admin,
    };
    let by_email = |email: String| {
        let ctx = ctx.clone();
        async move { ops::people::administrator_by_email(ops, &ctx, &email).await }
    };
    match cmd {
        AdminsCommand::Create {
            email,
            display_name,
            superadmin,
            project,
            role,
            scopes,
            output,
        } => {
            let memberships = match (project, role) {
                (Some(project), Some(role)) => vec![Membership {
                    project,
                    role: role_of(&role),
                    scopes: scopes.as_deref().map(words),
                }],
                _ => Vec::new(),
            };
            let new = NewAdministrator {
                email,
                display_name,
                superadmin,
                memberships,
            };
            let (admin, url) = ops::people::create_administrator(ops, &ctx, new).await?;
            if output.json {
                let mut v = serde_json::to_value(&admin).unwrap_or_default();
                v["enrollment_url"] = serde_json::Value::String(url);
                print_json(&v);
            } else {
                println!("id:             {}", admin.id);
                println!("email:          {}", admin.email);
                println!("enrollment_url: {url}");
                eprintln!("The enrollment URL works once, for 24 hours: send it to them safely.");
            }
        }
        AdminsCommand::List { project, output } => {
            let all = ops::people::administrators(ops, &ctx, project.as_deref()).await?;
            if output.json {
                print_json(&all);
            } else {
                for a in all {
                    let state = if a.enabled { "enabled" } else { "disabled" };
                    let roles: Vec<String> = a
                        .memberships
                        .iter()
                        .map(|m| format!("{}={:?}", m.project, m.role).to_lowercase())
                        .collect();
                    let sa = if a.superadmin { " superadmin" } else { "" };
                    println!("{}  {}  {state}{sa}  {}", a.id, a.email, roles.join(" "));
                }
            }
        }
        AdminsCommand::Disable { email } => {
            let a = by_email(email).await?;
            let change = AdministratorChange {
                enabled: Some(false),
                ..Default::default()
            };
            ops::people::update_administrator(ops, &ctx, &a.id, change).await?;
        }
        AdminsCommand::Enable { email } => {
            let a = by_email(email).await?;
            let change = AdministratorChange {
                enabled: Some(true),
                ..Default::default()
            };
            ops::people::update_administrator(ops, &ctx, &a.id, change).await?;
        }
        AdminsCommand::Delete { email } => {
            let a = by_email(email).await?;
            ops::people::delete_administrator(ops, &ctx, &a.id).await?;
        }
        AdminsCommand::Enroll { email, output } => {
            let a = by_email(email).await?;
            let url = ops::people::reissue_enrollment(ops, &ctx, &a.id).await?;
            if output.json {
                print_json(
                    &serde_json::json!({"id": a.id, "email": a.email, "enrollment_url": url}),
                );
            } else {
                println!("{url}");
            }
        }
        AdminsCommand::Grant {
            email,
            project,
            role,
            scopes,
            output,
        } => {
            let a = by_email(email).await?;
            let mut memberships: Vec<Membership> = a
                .memberships
                .into_iter()
                .filter(|m| m.project != project)
                .collect();
            memberships.push(Membership {
                project,
                role: role_of(&role),
                scopes: scopes.as_deref().map(words),
            });
            let change = AdministratorChange {
                memberships: Some(memberships),
                ..Default::default()
            };
            let after = ops::people::update_administrator(ops, &ctx, &a.id, change).await?;
            if output.json {
                print_json(&after);
            }
        }
        AdminsCommand::Revoke { email, project } => {
            let a = by_email(email).await?;
            if a.membership(&project).is_none() {
                return Err(
                    OpsError::NotFound(format!("{}'s role in project {project}", a.email)).into(),
                );
            }
            let memberships = a
                .memberships
                .into_iter()
                .filter(|m| m.project != project)
                .collect();
            let change = AdministratorChange {
                memberships: Some(memberships),
                ..Default::default()
            };
            ops::people::update_administrator(ops, &ctx, &a.id, change).await?;
        }
    }
    Ok(())
}

/// `tessera projects …`, as the operator.
async fn projects(ops: &Ops<'_>, cmd: ProjectsCommand) -> Result<(), CliError> {
    let ctx = Context::cli();
    match cmd {
        ProjectsCommand::Create {
            name,
            display_name,
            description,
            output,
        } => {
            let p =
                ops::people::create_project(ops, &ctx, &name, &display_name, &description).await?;
            if output.json {
                print_json(&p);
            } else {
                println!("{}  {}", p.name, p.display_name);
            }
        }
        ProjectsCommand::List { output } => {
            let all = ops::people::projects(ops, &ctx).await?;
            if output.json {
                print_json(&all);
            } else {
                for p in all {
                    println!("{}  {}  {}", p.name, p.display_name, p.description);
                }
            }
        }
        ProjectsCommand::Delete { name, force } => {
            ops::people::delete_project(ops, &ctx, &name, force).await?;
        }
    }
    Ok(())
}

fn words(s: &str) -> Vec<String> {
    s.split([' ', ','])
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

async fn set_enabled(ops: &Ops<'_>, client_id: &str, enabled: bool) -> Result<(), CliError> {
    let cli_ctx = Context::cli();
    let (c, _) = ops::clients::get(ops, &cli_ctx, client_id).await?;
    let fields = ClientFields {
        name: c.name,
        description: c.description,
        enabled,
        scopes: c.scopes,
        roles: c.roles,
        allowed_ips: c.allowed_ips,
        token_ttl_seconds: c.token_ttl_seconds,
        auth: None,
    };
    ops::clients::replace(ops, &cli_ctx, client_id, fields).await?;
    Ok(())
}

fn print_client(client: &store::Client, json: bool) {
    if json {
        print_json(client);
    } else {
        let state = if client.enabled {
            "enabled"
        } else {
            "disabled"
        };
        println!("client_id:   {}", client.client_id);
        println!("name:        {}", client.name);
        println!("state:       {state}");
        println!("scopes:      {}", client.scopes.join(" "));
        println!("allowed_ips: {}", client.allowed_ips.join(" "));
        let last = client
            .last_used_at
            .map(|t| t.to_rfc3339())
            .unwrap_or_else(|| "never".into());
        println!("last used:   {last}");
    }
}

fn print_secret(
    info: &store::secrets::SecretInfo,
    secret: &crate::secret::ClientSecret,
    json: bool,
) {
    if json {
        print_json(&serde_json::json!({
            "secret_id": info.secret_id,
            "client_secret": secret.expose(),
            "created_at": info.created_at,
            "expires_at": info.expires_at,
        }));
    } else {
        println!("secret_id:     {}", info.secret_id);
        println!("client_secret: {}", secret.expose());
        eprintln!("The secret is shown only now: store it safely.");
    }
}

fn print_json(value: &impl Serialize) {
    match serde_json::to_string_pretty(value) {
        Ok(s) => println!("{s}"),
        Err(e) => eprintln!("error: cannot serialise output: {e}"),
    }
}
