//! Online backup and offline restore of the SQLite database, and the lock by which a restore
//! knows that a server uses the database.
//!
//! - `tessera serve` on SQLite holds a shared `flock` on `<db>.lock` for its whole life (the
//!   kernel drops it when the process ends, `kill -9` included, so it never goes stale). Many
//!   servers may hold it at once: replicas on one SQLite file are allowed.
//! - `tessera restore` takes the same lock exclusively, without waiting: if any server holds it,
//!   it refuses; while it holds it, servers refuse to start.
//! - `tessera backup` runs `VACUUM INTO` on a connection opened like the server's: a
//!   consistent snapshot in one read transaction, which in WAL mode never blocks a writer.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use migration::MigratorTrait;
use sea_orm::sqlx::sqlite::SqliteConnectOptions;
use sea_orm::sqlx::{self, Connection};
use sea_orm::{ConnectionTrait, DbBackend, Statement};

use super::StoreError;

/// Why a backup, a restore or the server's database lock failed.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// The configured database is not SQLite.
    #[error(
        "tessera {command} works on SQLite only, and database.url is PostgreSQL: use {tool} \
         (README, \"Operations\", \"Backup and restore\")"
    )]
    NotSqlite {
        /// `backup` or `restore`.
        command: &'static str,
        /// What to use instead.
        tool: &'static str,
    },
    /// The backup file exists already.
    #[error("{0} exists: tessera backup never overwrites a file; choose a new name")]
    Exists(PathBuf),
    /// There is no database to back up.
    #[error("no SQLite database at {0} (database.url)")]
    NoDatabase(PathBuf),
    /// The file to restore is not a Tessera database this version can use.
    #[error("{0} is not a Tessera database: {1}")]
    NotTessera(PathBuf, String),
    /// A server uses the database.
    #[error(
        "{database} is in use by a running tessera serve (it holds {lock}): stop every server \
         on this database, then restore"
    )]
    InUse { database: PathBuf, lock: PathBuf },
    /// A restore is replacing the database.
    #[error(
        "{database} is being replaced by tessera restore (it holds {lock}); start the server \
         once the restore has finished"
    )]
    Restoring { database: PathBuf, lock: PathBuf },
    /// A file operation failed.
    #[error("{0}: {1}")]
    Io(PathBuf, std::io::Error),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl BackupError {
    /// Whether the operator asked for something impossible (exit status 2) rather than the
    /// operation failing (1).
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            BackupError::NotSqlite { .. } | BackupError::Exists(_) | BackupError::NotTessera(..)
        )
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BackupError + '_ {
    move |e| BackupError::Io(path.to_owned(), e)
}

/// The SQLite file `database.url` names, or `None` for PostgreSQL or an in-memory database.
pub fn sqlite_path(url: &str) -> Option<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    (!path.is_empty() && !path.starts_with(':')).then(|| PathBuf::from(path))
}

/// `<db>.lock`, beside the database.
fn lock_path(database: &Path) -> PathBuf {
    with_suffix(database, ".lock")
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

fn open_lock(database: &Path) -> Result<(File, PathBuf), BackupError> {
    let lock = lock_path(database);
    if let Some(parent) = database.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent).map_err(io(parent))?;
    }
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(&lock)
        .map_err(io(&lock))?;
    Ok((file, lock))
}

/// The shared lock a server holds on its SQLite database while it runs (nothing on
/// PostgreSQL). Released when dropped or when the process ends, however it ends.
#[derive(Debug)]
pub struct ServeLock {
    _file: Option<File>,
}

impl ServeLock {
    /// Takes the lock without waiting; fails while `tessera restore` replaces the database.
    pub fn acquire(database_url: &str) -> Result<Self, BackupError> {
        let Some(database) = sqlite_path(database_url) else {
            return Ok(ServeLock { _file: None });
        };
        let (file, lock) = open_lock(&database)?;
        match file.try_lock_shared() {
            Ok(()) => Ok(ServeLock { _file: Some(file) }),
            Err(fs::TryLockError::WouldBlock) => Err(BackupError::Restoring { database, lock }),
            Err(fs::TryLockError::Error(e)) => Err(BackupError::Io(lock, e)),
        }
    }
}

/// What a backup holds, read from the file itself.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Contents {
    /// The last migration applied.
    pub migration: String,
    /// Clients stored.
    pub clients: i64,
    /// Signing keys stored (private parts sealed under the key-encryption key).
    pub signing_keys: i64,
    /// File size.
    pub bytes: u64,
}

/// The outcome of `tessera backup`.
#[derive(Debug, serde::Serialize)]
pub struct BackupReport {
    /// The backup file made.
    pub to: PathBuf,
    /// The database it was taken from.
    pub database: PathBuf,
    /// What it holds.
    #[serde(flatten)]
    pub contents: Contents,
}

/// The outcome of `tessera restore`.
#[derive(Debug, serde::Serialize)]
pub struct RestoreReport {
    /// The database replaced.
    pub database: PathBuf,
    /// The backup it was replaced with.
    pub from: PathBuf,
    /// Where the database it replaced (and its `-wal`) was moved, if there was one.
    pub replaced: Option<PathBuf>,
    /// What it holds now.
    #[serde(flatten)]
    pub contents: Contents,
}

/// Writes a consistent snapshot of the SQLite database of `database_url` to `to` (mode 0600),
/// while servers keep reading and writing it. Never overwrites `to`; a failed backup leaves no
/// file behind.
pub async fn backup(database_url: &str, to: &Path) -> Result<BackupReport, BackupError> {
    let database = sqlite_path(database_url).ok_or(BackupError::NotSqlite {
        command: "backup",
        tool: "pg_dump -Fc",
    })?;
    if !database.is_file() {
        return Err(BackupError::NoDatabase(database));
    }
    if fs::symlink_metadata(to).is_ok() {
        return Err(BackupError::Exists(to.to_owned()));
    }
    let dir = parent_dir(to);
    if !dir.is_dir() {
        return Err(BackupError::Io(
            dir,
            std::io::Error::other("no such directory"),
        ));
    }
    let tmp = dir.join(format!(
        ".{}.{}.partial",
        to.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "backup".into()),
        std::process::id()
    ));
    // VACUUM INTO fills an empty file that exists, keeping its owner-only mode.
    let _ = fs::remove_file(&tmp);
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(io(&tmp))?;
    let result = async {
        snapshot(database_url, &tmp).await?;
        // SQLite does not sync what VACUUM INTO writes.
        File::open(&tmp)
            .and_then(|f| f.sync_all())
            .map_err(io(&tmp))?;
        let contents = inspect(&tmp).await.map_err(|e| match e {
            BackupError::NotTessera(_, why) => BackupError::NotTessera(database.clone(), why),
            e => e,
        })?;
        // No-clobber: a file that appeared at `to` meanwhile is left alone.
        fs::hard_link(&tmp, to).map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                BackupError::Exists(to.to_owned())
            } else {
                BackupError::Io(to.to_owned(), e)
            }
        })?;
        sync_dir(&dir)?;
        Ok::<_, BackupError>(contents)
    }
    .await;
    let _ = fs::remove_file(&tmp);
    let contents = result?;
    tracing::info!(to = %to.display(), bytes = contents.bytes, "backup written");
    Ok(BackupReport {
        to: to.to_owned(),
        database,
        contents,
    })
}

async fn snapshot(database_url: &str, into: &Path) -> Result<(), BackupError> {
    let db = super::connect(database_url).await?;
    let target = into
        .to_str()
        .ok_or_else(|| {
            BackupError::Io(
                into.to_owned(),
                std::io::Error::other("the path is not UTF-8"),
            )
        })?
        .to_owned();
    let done = db
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Sqlite,
            "VACUUM INTO ?",
            [target.into()],
        ))
        .await
        .map_err(StoreError::from);
    let _ = db.close().await;
    done?;
    Ok(())
}

/// Replaces the SQLite database of `database_url` with the backup `from`, after checking that
/// it is a Tessera database. Refuses while any server holds the database (see [`ServeLock`]).
/// The database replaced is moved to `<db>.replaced` (its `-wal` to `<db>.replaced-wal`), so
/// nothing of it stays beside the restored file.
pub async fn restore(database_url: &str, from: &Path) -> Result<RestoreReport, BackupError> {
    let database = sqlite_path(database_url).ok_or(BackupError::NotSqlite {
        command: "restore",
        tool: "pg_restore",
    })?;
    if !from.is_file() {
        return Err(BackupError::Io(
            from.to_owned(),
            std::io::Error::from(std::io::ErrorKind::NotFound),
        ));
    }
    let contents = inspect(from).await?;
    let (lock_file, lock) = open_lock(&database)?;
    match lock_file.try_lock() {
        Ok(()) => {}
        Err(fs::TryLockError::WouldBlock) => return Err(BackupError::InUse { database, lock }),
        Err(fs::TryLockError::Error(e)) => return Err(BackupError::Io(lock, e)),
    }
    let dir = parent_dir(&database);
    // Copied whole and synced beside the database first: the rename below is the only step
    // that changes what the database path holds.
    let incoming = with_suffix(&database, ".restoring");
    let _ = fs::remove_file(&incoming);
    {
        let mut out = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&incoming)
            .map_err(io(&incoming))?;
        let mut src = File::open(from).map_err(io(from))?;
        std::io::copy(&mut src, &mut out).map_err(io(&incoming))?;
        out.flush().map_err(io(&incoming))?;
        out.sync_all().map_err(io(&incoming))?;
    }
    let replaced = if database.exists() {
        let kept = with_suffix(&database, ".replaced");
        for suffix in ["", "-wal", "-journal"] {
            let _ = fs::remove_file(with_suffix(&kept, suffix));
        }
        // The old WAL goes with its database: left beside the restored file, SQLite would
        // replay it into it. The old -shm is only an index of that WAL.
        fs::rename(&database, &kept).map_err(io(&database))?;
        for suffix in ["-wal", "-journal"] {
            let old = with_suffix(&database, suffix);
            if old.exists() {
                fs::rename(&old, with_suffix(&kept, suffix)).map_err(io(&old))?;
            }
        }
        Some(kept)
    } else {
        None
    };
    let shm = with_suffix(&database, "-shm");
    match fs::remove_file(&shm) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(BackupError::Io(shm, e)),
    }
    fs::rename(&incoming, &database).map_err(io(&database))?;
    sync_dir(&dir)?;
    drop(lock_file);
    tracing::info!(database = %database.display(), from = %from.display(), "database restored");
    Ok(RestoreReport {
        database,
        from: from.to_owned(),
        replaced,
        contents,
    })
}

fn parent_dir(path: &Path) -> PathBuf {
    match path.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(p) => p.to_owned(),
        None => PathBuf::from("."),
    }
}

fn sync_dir(dir: &Path) -> Result<(), BackupError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))
}

/// Checks that `path` is an intact Tessera database that this version can migrate, and says
/// what it holds. Opened read-only and immutable: nothing is written beside it.
pub async fn inspect(path: &Path) -> Result<Contents, BackupError> {
    let not = |why: String| BackupError::NotTessera(path.to_owned(), why);
    let mut head = [0u8; 16];
    {
        use std::io::Read;
        let mut f = File::open(path).map_err(io(path))?;
        if f.read_exact(&mut head).is_err() || &head != b"SQLite format 3\0" {
            return Err(not("not a SQLite database".into()));
        }
    }
    let bytes = fs::metadata(path).map_err(io(path))?.len();
    let opts = SqliteConnectOptions::new()
        .filename(path)
        .read_only(true)
        .immutable(true);
    let mut conn = sqlx::SqliteConnection::connect_with(&opts)
        .await
        .map_err(|e| not(format!("cannot open it: {e}")))?;
    let checked = check(&mut conn, bytes).await.map_err(not);
    let _ = conn.close().await;
    checked
}

async fn check(conn: &mut sqlx::SqliteConnection, bytes: u64) -> Result<Contents, String> {
    let check: String = sqlx::query_scalar("PRAGMA quick_check")
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| format!("integrity check failed: {e}"))?;
    if check != "ok" {
        return Err(format!("integrity check failed: {check}"));
    }
    let applied: Vec<String> =
        sqlx::query_scalar("SELECT version FROM seaql_migrations ORDER BY version")
            .fetch_all(&mut *conn)
            .await
            .map_err(|_| "it has no migrations table (seaql_migrations)".to_owned())?;
    let known: Vec<String> = migration::Migrator::migrations()
        .iter()
        .map(|m| m.name().to_owned())
        .collect();
    if let Some(unknown) = applied.iter().find(|v| !known.contains(v)) {
        return Err(format!(
            "migration {unknown} is unknown to this version of Tessera (made by a newer one?)"
        ));
    }
    let Some(migration) = applied.last().cloned() else {
        return Err("no migration was ever applied to it".into());
    };
    let mut counts = [0i64; 2];
    for (n, table) in counts.iter_mut().zip(["clients", "signing_keys"]) {
        *n = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
            .fetch_one(&mut *conn)
            .await
            .map_err(|_| format!("it has no {table} table"))?;
    }
    Ok(Contents {
        migration,
        clients: counts[0],
        signing_keys: counts[1],
        bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_paths_come_from_the_url() {
        assert_eq!(
            sqlite_path("sqlite://data/tessera.db?mode=rwc"),
            Some(PathBuf::from("data/tessera.db"))
        );
        assert_eq!(
            sqlite_path("sqlite:///var/lib/t.db"),
            Some(PathBuf::from("/var/lib/t.db"))
        );
        assert_eq!(sqlite_path("sqlite::memory:"), None);
        assert_eq!(sqlite_path("postgres://db/tessera"), None);
    }

    #[test]
    fn a_server_lock_keeps_a_restore_out_and_the_reverse() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/t.db?mode=rwc", dir.path().display());
        let a = ServeLock::acquire(&url).unwrap();
        // Replicas share it.
        let b = ServeLock::acquire(&url).unwrap();
        let (file, _) = open_lock(&dir.path().join("t.db")).unwrap();
        assert!(matches!(file.try_lock(), Err(fs::TryLockError::WouldBlock)));
        drop((a, b));
        file.try_lock().unwrap();
        assert!(matches!(
            ServeLock::acquire(&url),
            Err(BackupError::Restoring { .. })
        ));
    }
}
