//! Client secrets: generation, argon2id hashing, and verification off the async reactor.

use std::fmt;
use std::sync::Arc;
use std::thread;

use argon2::password_hash::phc::PasswordHash;
use argon2::{Algorithm, Argon2, Block, Params, PasswordHasher, Version};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TrySendError};
use rand::RngCore;
use subtle::ConstantTimeEq;
use tokio::sync::oneshot;
use zeroize::Zeroizing;

/// Prefix of every secret, so secret scanners can spot a leaked one.
pub const SECRET_PREFIX: &str = "tsk_";

/// `n` random bytes as base64url without padding.
pub fn random_token(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A random identifier (`n` bytes, base64url) that starts with a letter or digit, so it can
/// never be mistaken for a command-line flag (`-…`).
pub fn random_id(n: usize) -> String {
    loop {
        let id = random_token(n);
        if id.starts_with(|c: char| c.is_ascii_alphanumeric()) {
            return id;
        }
    }
}

/// Characters of a secret id (12 random bytes, base64url).
pub const SECRET_ID_LEN: usize = 16;

/// Characters of a secret's random part (32 bytes, base64url).
const SECRET_RANDOM_LEN: usize = 43;

/// The secret id a presented secret carries: secrets are `tsk_` + id + 256 random bits, so
/// authentication checks the one hash that id names (one argon2id run whatever the number of
/// secrets). `None` for secrets of the older form (`tsk_` + random) or anything else.
pub fn carried_secret_id(presented: &[u8]) -> Option<&str> {
    let rest = presented.strip_prefix(SECRET_PREFIX.as_bytes())?;
    if rest.len() != SECRET_ID_LEN + SECRET_RANDOM_LEN {
        return None;
    }
    std::str::from_utf8(&rest[..SECRET_ID_LEN]).ok()
}

/// `id` as it may appear in a log line or an audit event: a caller who sends a secret where a
/// client id belongs (swapped fields) must not get the secret written down.
pub fn loggable_id(id: &str) -> &str {
    let head = id.get(..SECRET_PREFIX.len() + 2).unwrap_or(id);
    let lower = head.to_ascii_lowercase();
    if lower.starts_with(SECRET_PREFIX) || lower.starts_with("tsk%5f") {
        "[redacted: looks like a secret]"
    } else {
        id
    }
}

/// A plaintext client secret: exists only between generation and the one response that shows it.
pub struct ClientSecret(Zeroizing<String>);

impl ClientSecret {
    /// A new secret id, then 256 random bits, base64url, behind [`SECRET_PREFIX`].
    pub fn generate() -> Self {
        ClientSecret(Zeroizing::new(format!(
            "{SECRET_PREFIX}{}{}",
            random_id(12),
            random_token(32)
        )))
    }

    /// The secret id this secret carries (its row's primary key).
    pub fn secret_id(&self) -> &str {
        &self.0[SECRET_PREFIX.len()..SECRET_PREFIX.len() + SECRET_ID_LEN]
    }

    /// The secret itself, for the single response that hands it out.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Prefix and last four characters: what lists may show.
    pub fn masked(&self) -> String {
        let tail = &self.0[self.0.len() - 4..];
        format!("{SECRET_PREFIX}…{tail}")
    }

    /// A new secret and its hash, hashed on a blocking thread: argon2id takes tens of ms and
    /// 19 MiB, which must not stall the async worker that also serves tokens.
    pub async fn generate_hashed() -> (ClientSecret, ClientSecretHash) {
        let hashed = tokio::task::spawn_blocking(|| {
            let secret = ClientSecret::generate();
            let hash = secret.hash();
            (secret, hash)
        })
        .await;
        match hashed {
            Ok(pair) => pair,
            // Only if the blocking pool is gone (shutting down): hash here instead.
            Err(_) => {
                let secret = ClientSecret::generate();
                let hash = secret.hash();
                (secret, hash)
            }
        }
    }

    /// Hashes the secret with argon2id at the OWASP parameters (m = 19 MiB, t = 2, p = 1).
    pub fn hash(&self) -> ClientSecretHash {
        let hash = Argon2::default()
            .hash_password(self.0.as_bytes())
            .expect("argon2 with default parameters and a random salt cannot fail");
        ClientSecretHash(hash.to_string())
    }
}

impl fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClientSecret(…)")
    }
}

/// An argon2id PHC string as stored in the database.
#[derive(Clone)]
pub struct ClientSecretHash(pub String);

impl fmt::Debug for ClientSecretHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClientSecretHash(…)")
    }
}

/// A stored hash parsed once, so verification does no parsing.
pub struct VerifiableHash {
    params: Params,
    salt: Vec<u8>,
    expected: Vec<u8>,
}

impl fmt::Debug for VerifiableHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("VerifiableHash(…)")
    }
}

impl VerifiableHash {
    /// Parses an argon2id (v19) PHC string; `None` for anything else.
    pub fn parse(phc: &str) -> Option<Self> {
        let hash = PasswordHash::new(phc).ok()?;
        if hash.algorithm.as_str() != "argon2id" || hash.version.is_some_and(|v| v != 0x13) {
            return None;
        }
        let params = Params::try_from(&hash).ok()?;
        Some(VerifiableHash {
            params,
            salt: hash.salt?.to_vec(),
            expected: hash.hash?.as_bytes().to_vec(),
        })
    }

    /// A hash that no secret matches, costing the same to check: used for unknown client ids
    /// so the response time does not tell which ids exist.
    pub fn decoy() -> Self {
        let mut salt = vec![0u8; 16];
        let mut expected = vec![0u8; 32];
        rand::rng().fill_bytes(&mut salt);
        rand::rng().fill_bytes(&mut expected);
        VerifiableHash {
            params: Params::default(),
            salt,
            expected,
        }
    }

    fn verify_with(&self, secret: &[u8], memory: &mut Vec<Block>) -> bool {
        let blocks = self.params.block_count();
        if memory.len() < blocks {
            memory.resize(blocks, Block::default());
        }
        let mut out = Zeroizing::new(vec![0u8; self.expected.len()]);
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone());
        match argon.hash_password_into_with_memory(
            secret,
            &self.salt,
            &mut out,
            &mut memory[..blocks],
        ) {
            Ok(()) => out.ct_eq(&self.expected).into(),
            Err(_) => false,
        }
    }
}

/// Keys the tags of verified credentials: a random per-process HMAC-SHA-256 key.
///
/// A tag lets a secret already verified with argon2id be recognised by one HMAC and a
/// constant-time comparison. A memory dump holding key and tags allows testing guesses at HMAC
/// speed, but secrets carry 256 random bits, so no guess is feasible there either.
///
/// Held as HMAC's state after the key (its inner and outer pads hashed once), cloned for each
/// tag: two of the five SHA-256 blocks a tag would otherwise cost.
pub struct CredentialKey(hmac::Hmac<sha2::Sha256>);

/// The tag of one (client id, secret) pair.
pub type CredentialTag = [u8; 32];

impl CredentialKey {
    /// A fresh random key.
    pub fn generate() -> Self {
        use hmac::Mac;
        let mut key = zeroize::Zeroizing::new([0u8; 32]);
        rand::rng().fill_bytes(&mut *key);
        CredentialKey(
            <hmac::Hmac<sha2::Sha256> as Mac>::new_from_slice(&*key)
                .expect("HMAC takes any key length"),
        )
    }

    /// `HMAC(key, client_id || 0x00 || secret)`.
    pub fn tag(&self, client_id: &str, secret: &[u8]) -> CredentialTag {
        use hmac::Mac;
        let mut mac = self.0.clone();
        mac.update(client_id.as_bytes());
        mac.update(&[0]);
        mac.update(secret);
        mac.finalize().into_bytes().into()
    }
}

/// A verified tag and when argon2id verified it.
#[derive(Default)]
pub struct VerifiedTag(std::sync::Mutex<Option<(CredentialTag, std::time::Instant)>>);

impl VerifiedTag {
    /// Whether `tag` was verified less than `ttl` ago (constant-time comparison).
    pub fn matches(&self, tag: &CredentialTag, ttl: std::time::Duration) -> bool {
        let guard = self.0.lock().unwrap_or_else(|p| p.into_inner());
        match &*guard {
            Some((known, at)) => bool::from(known.ct_eq(tag)) && at.elapsed() < ttl,
            None => false,
        }
    }

    /// Remembers `tag` as verified now.
    pub fn remember(&self, tag: CredentialTag) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some((tag, std::time::Instant::now()));
    }
}

impl fmt::Debug for VerifiedTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("VerifiedTag(…)")
    }
}

/// Coalesces concurrent verifications of the same credential: the first request runs argon2id,
/// the others wait for its answer. Without it, a burst for one client queues one argon2id per
/// request until the first finishes (and a flood repeating one wrong secret costs one each).
#[derive(Default)]
pub struct SingleFlight {
    inflight: std::sync::Mutex<
        std::collections::HashMap<CredentialTag, Arc<tokio::sync::OnceCell<Verified>>>,
    >,
}

/// The answer of one verification: the id of the secret that matched, if any.
pub type Verified = Result<Option<String>, VerifyError>;

struct InflightGuard<'a> {
    flights: &'a SingleFlight,
    tag: CredentialTag,
    cell: Arc<tokio::sync::OnceCell<Verified>>,
}

impl Drop for InflightGuard<'_> {
    fn drop(&mut self) {
        let mut map = self
            .flights
            .inflight
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        // Remove only our own flight, and only once it has an answer or nobody else waits.
        if map
            .get(&self.tag)
            .is_some_and(|c| Arc::ptr_eq(c, &self.cell))
            && (self.cell.initialized() || Arc::strong_count(&self.cell) <= 2)
        {
            map.remove(&self.tag);
        }
    }
}

impl SingleFlight {
    /// Runs `verify` for `tag`, or waits for the run already under way.
    pub async fn run<F, Fut>(&self, tag: CredentialTag, verify: F) -> Verified
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Verified>,
    {
        let cell = {
            let mut map = self.inflight.lock().unwrap_or_else(|p| p.into_inner());
            map.entry(tag).or_default().clone()
        };
        // The guard holds the only handle of this request, so on drop the count says
        // whether anybody else still waits (map + guard = 2).
        let guard = InflightGuard {
            flights: self,
            tag,
            cell,
        };
        // If the running request is cancelled, a waiter takes over (OnceCell semantics), and
        // the guard removes a flight nobody waits for, so abandoned ones do not pile up.
        guard.cell.get_or_init(verify).await.clone()
    }
}

/// Why a verification could not be run.
#[derive(Debug, Clone, thiserror::Error)]
pub enum VerifyError {
    /// Every worker is busy and the queue is full.
    #[error("secret verification queue is full")]
    Busy,
    /// The pool has shut down.
    #[error("secret verification pool is gone")]
    Closed,
}

struct Job {
    hashes: Vec<Arc<VerifiableHash>>,
    secret: Zeroizing<Vec<u8>>,
    reply: oneshot::Sender<Option<usize>>,
}

/// How long an argon2 worker keeps its memory after its last verification. Warm clients need
/// no argon2, so most of the time the pool holds nothing; a burst of cold clients reuses it.
const ARGON2_MEMORY_IDLE: std::time::Duration = std::time::Duration::from_secs(2);

/// A fixed pool of threads, one a core, each reusing its own argon2 memory while busy: argon2
/// never runs on an async worker, and memory stays at threads × 19 MiB however many requests
/// wait (and at nothing once the pool has been idle for [`ARGON2_MEMORY_IDLE`]).
#[derive(Clone)]
pub struct Argon2Pool {
    jobs: Sender<Job>,
}

impl Argon2Pool {
    /// Starts `threads` workers behind a queue of `queue` pending verifications.
    pub fn start(threads: usize, queue: usize) -> Self {
        let (jobs, rx) = crossbeam_channel::bounded::<Job>(queue);
        for i in 0..threads.max(1) {
            let rx: Receiver<Job> = rx.clone();
            thread::Builder::new()
                .name(format!("argon2-{i}"))
                .spawn(move || {
                    let mut memory = Vec::new();
                    loop {
                        match rx.recv_timeout(ARGON2_MEMORY_IDLE) {
                            Ok(job) => {
                                let found = job
                                    .hashes
                                    .iter()
                                    .position(|h| h.verify_with(&job.secret, &mut memory));
                                let _ = job.reply.send(found);
                            }
                            // Idle: give the 19 MiB back. Under glibc it is mapped on its own
                            // (see `server::tune_allocator`), so freeing it unmaps it at once.
                            // The burst that needed it also loaded clients from the database;
                            // what that left free between cache entries goes back too.
                            Err(RecvTimeoutError::Timeout) => {
                                if memory.capacity() > 0 {
                                    memory = Vec::new();
                                    crate::server::release_free_memory();
                                }
                            }
                            Err(RecvTimeoutError::Disconnected) => break,
                        }
                    }
                })
                .expect("spawning an argon2 worker thread");
        }
        Argon2Pool { jobs }
    }

    /// Verifications waiting for a worker.
    pub fn queued(&self) -> usize {
        self.jobs.len()
    }

    /// Checks `secret` against each hash in turn; the index of the first that matches.
    pub async fn verify(
        &self,
        hashes: Vec<Arc<VerifiableHash>>,
        secret: &[u8],
    ) -> Result<Option<usize>, VerifyError> {
        let (reply, answer) = oneshot::channel();
        let job = Job {
            hashes,
            secret: Zeroizing::new(secret.to_vec()),
            reply,
        };
        match self.jobs.try_send(job) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => return Err(VerifyError::Busy),
            Err(TrySendError::Disconnected(_)) => return Err(VerifyError::Closed),
        }
        answer.await.map_err(|_| VerifyError::Closed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_never_look_like_flags() {
        for _ in 0..2000 {
            assert!(random_id(16).starts_with(|c: char| c.is_ascii_alphanumeric()));
        }
    }

    #[test]
    fn secrets_are_long_prefixed_and_masked() {
        let s = ClientSecret::generate();
        assert!(s.expose().starts_with(SECRET_PREFIX));
        assert_eq!(s.expose().len(), SECRET_PREFIX.len() + 16 + 43);
        assert_eq!(
            carried_secret_id(s.expose().as_bytes()),
            Some(s.secret_id())
        );
        assert_eq!(s.secret_id().len(), SECRET_ID_LEN);
        let older_form = format!("{SECRET_PREFIX}{}", random_token(32));
        assert_eq!(carried_secret_id(older_form.as_bytes()), None);
        assert_eq!(loggable_id(s.expose()), "[redacted: looks like a secret]");
        assert_eq!(loggable_id("TSK%5Fabc"), "[redacted: looks like a secret]");
        assert_eq!(loggable_id("abc"), "abc");
        assert!(s.masked().ends_with(&s.expose()[s.expose().len() - 4..]));
        assert!(!format!("{s:?}").contains(s.expose()));
    }

    #[tokio::test]
    async fn single_flight_shares_one_run_and_forgets_it() {
        let flights = SingleFlight::default();
        let runs = std::sync::atomic::AtomicUsize::new(0);
        let run = || async {
            runs.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            Ok(Some("s1".to_owned()))
        };
        let (a, b) = tokio::join!(flights.run([7; 32], run), flights.run([7; 32], run));
        assert_eq!(
            (a.unwrap(), b.unwrap()),
            (Some("s1".into()), Some("s1".into()))
        );
        assert_eq!(runs.load(std::sync::atomic::Ordering::SeqCst), 1);
        assert!(flights.inflight.lock().unwrap().is_empty());
        // A cancelled run leaves nothing behind.
        let _ = tokio::time::timeout(
            std::time::Duration::from_millis(5),
            flights.run([8; 32], run),
        )
        .await;
        assert!(flights.inflight.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn pool_verifies_only_the_right_secret() {
        let s = ClientSecret::generate();
        let hash = Arc::new(VerifiableHash::parse(&s.hash().0).unwrap());
        let decoy = Arc::new(VerifiableHash::decoy());
        let pool = Argon2Pool::start(1, 4);
        let both = vec![decoy.clone(), hash.clone()];
        assert_eq!(
            pool.verify(both.clone(), s.expose().as_bytes())
                .await
                .unwrap(),
            Some(1)
        );
        assert_eq!(pool.verify(both, b"tsk_wrong").await.unwrap(), None);
    }
}
