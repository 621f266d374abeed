//! The `tessera` command line: serving, migrating, and administration straight on the database.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use serde::Serialize;

use crate::config::{ConfigError, Settings};
use crate::keys::{KeyEncryptionKey, KeyError};
use crate::server::ServeError;
use crate::store::audit::Actor;
use crate::store::{self, ClientFields, NewApi, NewClient, StoreError};

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
    /// Manage signing keys.
    #[command(subcommand)]
    Keys(KeysCommand),
}

/// Output format flag shared by every data-printing command.
#[derive(Debug, Args)]
pub struct Output {
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `tessera clients …`.
#[derive(Debug, Subcommand)]
pub enum ClientsCommand {
    /// Create a root client and print its first secret (shown only this once).
    Create {
        /// Display name.
        #[arg(long)]
        name: String,
        /// Free-text description.
        #[arg(long, default_value = "")]
        description: String,
        /// Space-separated scopes, e.g. "orders:read audit:read".
        #[arg(long, default_value = "")]
        scopes: String,
        #[command(flatten)]
        output: Output,
    },
    /// List clients.
    List {
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
        #[command(flatten)]
        output: Output,
    },
    /// List APIs.
    List {
        #[command(flatten)]
        output: Output,
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
}

impl CliError {
    /// Process exit code: 2 for configuration and input errors, 1 otherwise.
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Config(_)
            | CliError::Store(StoreError::Invalid { .. } | StoreError::Validation(_)) => 2,
            CliError::Store(StoreError::Conflict { .. }) => 2,
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
    let db = store::connect(&settings.database_url).await?;
    store::migrate(&db).await?;
    // The CLI cannot know a port-0 server's final issuer: it creates the admin API if missing
    // and leaves its audience to the server.
    store::apis::ensure_admin(&db, &settings.issuer_for(settings.bind), false).await?;
    match cli.command {
        Command::Serve | Command::Migrate => {}
        Command::Clients(ClientsCommand::Create {
            name,
            description,
            scopes,
            output,
        }) => {
            let scopes = scopes
                .split([' ', ','])
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect();
            let (client, secret) = store::clients::create(
                &db,
                NewClient {
                    fields: ClientFields {
                        name,
                        description,
                        scopes,
                        ..ClientFields::default()
                    },
                    owner: None,
                },
                settings.token_max_ttl,
                Some(&Actor::cli()),
            )
            .await?;
            #[derive(Serialize)]
            struct Created<'a> {
                client_secret: &'a str,
                #[serde(flatten)]
                client: &'a store::Client,
            }
            let created = Created {
                client_secret: secret.expose(),
                client: &client,
            };
            if output.json {
                print_json(&created);
            } else {
                println!("client_id:     {}", client.client_id);
                println!("client_secret: {}", secret.expose());
                println!("name:          {}", client.name);
                println!("scopes:        {}", client.scopes.join(" "));
                eprintln!("The secret is shown only now: store it safely.");
            }
        }
        Command::Clients(ClientsCommand::List { output }) => {
            let clients = store::clients::list(&db).await?;
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
        Command::Apis(ApisCommand::Create {
            name,
            audience,
            permissions,
            output,
        }) => {
            let api = store::apis::create(
                &db,
                NewApi {
                    name,
                    audience,
                    permissions,
                },
                &Actor::cli(),
            )
            .await?;
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
        Command::Apis(ApisCommand::List { output }) => {
            let apis = store::apis::list(&db).await?;
            if output.json {
                print_json(&apis);
            } else {
                for a in apis {
                    println!("{}  {}  {}", a.name, a.audience, a.permissions.join(","));
                }
            }
        }
        Command::Keys(KeysCommand::List { output }) => {
            let keys =
                store::keys::statuses(&db, chrono::Utc::now(), settings.token_max_ttl).await?;
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
            let kek = KeyEncryptionKey::load_or_create(&settings.keys_dir)?;
            let key = store::keys::rotate(
                &db,
                settings.key_algorithm,
                &kek,
                settings.jwks_max_age,
                settings.token_max_ttl,
                now,
                &Actor::cli(),
            )
            .await?;
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
    }
    Ok(())
}

fn print_json(value: &impl Serialize) {
    match serde_json::to_string_pretty(value) {
        Ok(s) => println!("{s}"),
        Err(e) => eprintln!("error: cannot serialise output: {e}"),
    }
}
