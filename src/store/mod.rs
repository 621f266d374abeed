//! Repositories over sea-orm, and the in-memory caches the token path reads.

pub mod administrators;
pub mod apis;
pub mod audit;
pub mod backup;
pub mod changes;
pub mod client_auth;
pub mod clients;
pub mod directory;
pub mod failures;
pub mod health;
pub mod jtis;
pub mod keys;
pub mod projects;
pub mod revocations;
pub mod roles;
pub mod secrets;
pub mod signin;
pub mod usage;

use std::path::Path;
use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteError, SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, Database, DatabaseConnection, DbErr, SqliteTransactionMode, TransactionOptions,
    TransactionTrait,
};

pub use apis::{Api, NewApi};
pub use clients::{Client, ClientFields, FieldRules, NewClient};
pub use directory::{ClientDirectory, GrantedScope, StoredSecret, TokenClient};

/// Errors of the storage layer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database failed.
    #[error("database error: {0}")]
    Db(#[from] DbErr),
    /// The named object does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// A unique name or audience is taken.
    #[error("{field}: {message}")]
    Conflict {
        field: &'static str,
        message: String,
    },
    /// Input failed validation; names the field.
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    /// Several fields failed validation.
    #[error("{}", .0.iter().map(|(f, m)| format!("{f}: {m}")).collect::<Vec<_>>().join("; "))]
    Validation(Vec<(&'static str, String)>),
    /// Key generation or sealing failed.
    #[error(transparent)]
    Key(#[from] crate::keys::KeyError),
    /// The database does not answer (down, unreachable, or slower than the bound): retry later.
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
}

impl StoreError {
    /// Whether the database could not be reached, or cannot write for now (its disk is full),
    /// as opposed to refusing the statement: such failures are a `503` with `Retry-After`, not
    /// a `500`, and nothing was changed.
    pub fn is_unavailable(&self) -> bool {
        use sea_orm::RuntimeErr;
        use sea_orm::sqlx::Error as Sqlx;
        let runtime = match self {
            StoreError::Unavailable(_) => return true,
            StoreError::Db(DbErr::ConnectionAcquire(_)) => return true,
            StoreError::Db(DbErr::Conn(e) | DbErr::Exec(e) | DbErr::Query(e)) => e,
            _ => return false,
        };
        let RuntimeErr::SqlxError(e) = runtime else {
            return false;
        };
        match &**e {
            Sqlx::Io(_)
            | Sqlx::Tls(_)
            | Sqlx::Protocol(_)
            | Sqlx::PoolTimedOut
            | Sqlx::PoolClosed
            | Sqlx::WorkerCrashed => true,
            // SQLite: SQLITE_FULL (13) and SQLITE_IOERR (10), extended codes included — the
            // disk is full or failing; the statement was refused as a whole and a retry may
            // succeed once space is freed. SQLITE_BUSY (5): another connection held the write
            // lock past the busy timeout (a writer stalled on a failing disk): also for later.
            Sqlx::Database(db) if db.try_downcast_ref::<SqliteError>().is_some() => db
                .code()
                .and_then(|c| c.parse::<i32>().ok())
                .is_some_and(|c| matches!(c & 0xff, 5 | 10 | 13)),
            // PostgreSQL: SQLSTATE class 08 (connection exception), 57P01–57P03 (the server
            // shutting down, crashed, or not yet accepting connections), 53100 (disk full).
            Sqlx::Database(db) => db
                .code()
                .is_some_and(|c| c.starts_with("08") || c.starts_with("57P") || c == "53100"),
            _ => false,
        }
    }

    pub(crate) fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        StoreError::Invalid {
            field,
            message: message.into(),
        }
    }
}

/// Parses an allowed source: an IPv4/IPv6 address or a CIDR with a valid prefix.
/// IPv4-mapped IPv6 entries (`::ffff:10.0.0.0/104`) are read as the IPv4 range they map.
pub fn parse_ip_range(s: &str) -> Option<ipnet::IpNet> {
    let s = s.trim();
    let net = s
        .parse::<ipnet::IpNet>()
        .ok()
        .or_else(|| s.parse::<std::net::IpAddr>().ok().map(ipnet::IpNet::from))?;
    match net {
        ipnet::IpNet::V6(v6) => match v6.addr().to_ipv4_mapped() {
            Some(v4) if v6.prefix_len() >= 96 => ipnet::Ipv4Net::new(v4, v6.prefix_len() - 96)
                .ok()
                .map(ipnet::IpNet::V4),
            _ => Some(net),
        },
        v4 => Some(v4),
    }
}

/// Opens the database: SQLite in WAL mode with a small pool, or PostgreSQL.
pub async fn connect(url: &str) -> Result<DatabaseConnection, StoreError> {
    let sqlite = url.starts_with("sqlite:");
    if sqlite {
        create_sqlite_parent(url)?;
    }
    let mut opts = ConnectOptions::new(url.to_owned());
    opts.max_connections(if sqlite { 8 } else { 16 })
        .min_connections(1)
        .acquire_timeout(Duration::from_secs(10))
        .test_before_acquire(false)
        .sqlx_logging(false);
    if sqlite {
        // sea-orm leaves SQLite in rollback-journal mode; WAL lets readers run beside a writer.
        opts.map_sqlx_sqlite_opts(|o| {
            o.journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true)
        });
        opts.map_sqlx_sqlite_pool_opts(|p| p.after_release(release_only_outside_a_transaction));
    }
    Ok(Database::connect(opts).await?)
}

/// Closes a SQLite connection that comes back to the pool still counting a transaction.
///
/// On a full disk SQLite rolls a failed transaction back by itself; sqlx's own `ROLLBACK` then
/// fails ("no transaction is active") and its count of open transactions stays at one. The next
/// `begin` on that connection would issue a `SAVEPOINT` and its rollback a `ROLLBACK TO`, which
/// keeps the transaction — and the write lock — open for good, so every writer after it waits
/// out the busy timeout until a restart. A connection in that state is closed instead.
fn release_only_outside_a_transaction(
    conn: &mut sea_orm::sqlx::SqliteConnection,
    _: sea_orm::sqlx::pool::PoolConnectionMetadata,
) -> futures_util::future::BoxFuture<'_, Result<bool, sea_orm::sqlx::Error>> {
    use sea_orm::sqlx::Connection;
    Box::pin(async move {
        if !conn.is_in_transaction() {
            return Ok(true);
        }
        // A dropped transaction queues its rollback; a ping lets the connection run it first.
        conn.ping().await?;
        let clean = !conn.is_in_transaction();
        if !clean {
            tracing::warn!("closing a database connection left inside a failed transaction");
        }
        Ok(clean)
    })
}

fn create_sqlite_parent(url: &str) -> Result<(), StoreError> {
    let Some(path) = backup::sqlite_path(url) else {
        return Ok(());
    };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| {
            StoreError::Db(DbErr::Custom(format!(
                "cannot create {}: {e}",
                parent.display()
            )))
        })?;
    }
    restrict_sqlite_files(&path)
}

/// The database holds hashes, sealed keys and the audit trail: owner-only (0600). SQLite gives
/// its `-wal` and `-shm` the database file's mode, so creating the file first covers them;
/// files left by an older version are narrowed too.
fn restrict_sqlite_files(path: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let fail = |e: std::io::Error| {
        StoreError::Db(DbErr::Custom(format!(
            "cannot create {}: {e}",
            path.display()
        )))
    };
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)
        .map_err(fail)?;
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let file = format!("{}{suffix}", path.display());
        if let Ok(meta) = std::fs::metadata(&file)
            && meta.permissions().mode() & 0o077 != 0
        {
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))
                .map_err(fail)?;
        }
    }
    Ok(())
}

/// Starts a transaction that will write. On SQLite it takes the write lock at `BEGIN`
/// (`IMMEDIATE`), so it waits its turn under the busy timeout instead of failing with
/// "database is locked" when it upgrades from reading after another writer committed.
pub(crate) async fn begin_write<C: TransactionTrait>(db: &C) -> Result<C::Transaction, DbErr> {
    db.begin_with_options(TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..Default::default()
    })
    .await
}

/// Applies pending migrations.
pub async fn migrate(db: &DatabaseConnection) -> Result<(), StoreError> {
    Migrator::up(db, None).await?;
    Ok(())
}
