//! The key-encryption keys that seal signing keys at rest.
//!
//! One key-encryption key (KEK) is *current*: it seals every key made from now on. It comes from
//! `keys.kek_file` when set, else from the environment variable `TESSERA_KEK`, else from
//! `keys.dir/kek.jwk` (made on first start). An older KEK may be held beside it, only to unseal
//! keys still sealed under it after a rewrap (`tessera keys rewrap`): `keys.previous_kek_file`.
//! It is never picked up implicitly (say from `keys.dir`), so a wrong current KEK is always
//! caught at start-up. A sealed key names its KEK in the JWE header (`kid`) and is opened with
//! that one first.

use std::fmt;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use josekit::jwe::{self, Dir, JweHeader};
use rand::RngCore;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::KeyError;

const FILE_NAME: &str = "kek.jwk";

/// The environment variable that may hold the key-encryption key (base64 of 32 bytes).
pub const KEK_ENV: &str = "TESSERA_KEK";

/// Where a key-encryption key was read from; named in every error and log line about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KekSource {
    /// `keys.kek_file`.
    File(PathBuf),
    /// The environment variable `TESSERA_KEK`.
    Env,
    /// `keys.dir/kek.jwk`.
    Dir(PathBuf),
    /// `keys.previous_kek_file`.
    Previous(PathBuf),
    /// A file named on the command line (`keys rewrap --new-kek FILE`).
    Argument(PathBuf),
}

impl fmt::Display for KekSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KekSource::File(p) => write!(f, "keys.kek_file ({})", p.display()),
            KekSource::Env => f.write_str(KEK_ENV),
            KekSource::Dir(p) => write!(f, "keys.dir ({})", p.display()),
            KekSource::Previous(p) => write!(f, "keys.previous_kek_file ({})", p.display()),
            KekSource::Argument(p) => write!(f, "--new-kek {}", p.display()),
        }
    }
}

/// Where the key-encryption keys come from: the `keys.*` settings.
#[derive(Debug, Clone, Copy)]
pub struct KekSettings<'a> {
    /// `keys.kek_file`.
    pub kek_file: Option<&'a Path>,
    /// `keys.previous_kek_file`.
    pub previous_kek_file: Option<&'a Path>,
    /// `keys.dir`.
    pub keys_dir: &'a Path,
}

/// One 256-bit AES key and where it came from.
struct Kek {
    id: String,
    bytes: Zeroizing<[u8; 32]>,
    source: KekSource,
}

impl Kek {
    fn same_key(&self, other: &Kek) -> bool {
        use subtle::ConstantTimeEq;
        self.id == other.id && bool::from(self.bytes.ct_eq(&*other.bytes))
    }
}

/// The key-encryption keys of this process: the current one, which seals, and older ones that
/// only unseal. Signing keys' private parts are JWE `dir`/`A256GCM`, so a copy of the database
/// alone yields no signing key.
pub struct KeyEncryptionKey {
    current: Kek,
    previous: Vec<Kek>,
}

impl fmt::Debug for KeyEncryptionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyEncryptionKey")
            .field("id", &self.current.id)
            .field("source", &self.current.source)
            .field(
                "previous",
                &self.previous.iter().map(|k| &k.id).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl KeyEncryptionKey {
    /// The current key from `keys.kek_file`, else `TESSERA_KEK`, else `keys.dir/kek.jwk`
    /// (created there, mode 0600, when `create` and it does not exist), with the previous key
    /// of `keys.previous_kek_file` if set.
    pub fn load(settings: KekSettings<'_>, create: bool) -> Result<Self, KeyError> {
        let env = std::env::var_os(KEK_ENV);
        let dir_file = settings.keys_dir.join(FILE_NAME);
        let current = if let Some(path) = settings.kek_file {
            if env.is_some() {
                tracing::warn!("{KEK_ENV} is ignored: keys.kek_file is set");
            }
            read_file(path, KekSource::File(path.to_owned()))?
        } else if let Some(value) = env {
            from_env(&value)?
        } else if create {
            Self::load_or_create(settings.keys_dir)?.current
        } else {
            read_file(&dir_file, KekSource::Dir(dir_file.clone()))?
        };
        let mut kek = KeyEncryptionKey {
            current,
            previous: Vec::new(),
        };
        if let Some(path) = settings.previous_kek_file {
            kek.add_unsealing(read_file(path, KekSource::Previous(path.to_owned()))?);
        }
        Ok(kek)
    }

    /// Reads `dir/kek.jwk`, creating it (mode 0600, directory 0700) if it does not exist.
    pub fn load_or_create(dir: &Path) -> Result<Self, KeyError> {
        let path = dir.join(FILE_NAME);
        let source = KekSource::Dir(path.clone());
        let current = match fs::read(&path) {
            Ok(bytes) => parse_jwk(&bytes, source)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let io = |e: std::io::Error| KeyError::Kek {
                    from: source.to_string(),
                    why: io_why(&e),
                };
                fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o700)
                    .create(dir)
                    .map_err(io)?;
                create_file(&path, source.clone())?
            }
            Err(e) => {
                return Err(KeyError::Kek {
                    from: source.to_string(),
                    why: io_why(&e),
                });
            }
        };
        Ok(KeyEncryptionKey {
            current,
            previous: Vec::new(),
        })
    }

    /// The key in the JWK file `path` (named `--new-kek` in messages), made with a fresh key,
    /// mode 0600, when the file does not exist. Returns it and whether it was made.
    pub fn open_or_create_file(path: &Path) -> Result<(Self, bool), KeyError> {
        let source = KekSource::Argument(path.to_owned());
        let (current, created) = match fs::read(path) {
            Ok(bytes) => (parse_jwk(&bytes, source)?, false),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                (create_file(path, source)?, true)
            }
            Err(e) => {
                return Err(KeyError::Kek {
                    from: source.to_string(),
                    why: io_why(&e),
                });
            }
        };
        Ok((
            KeyEncryptionKey {
                current,
                previous: Vec::new(),
            },
            created,
        ))
    }

    /// Also unseal with every key `other` holds (its current one included); never seals with
    /// them.
    pub fn unsealing_also(mut self, other: KeyEncryptionKey) -> Self {
        self.add_unsealing(other.current);
        for k in other.previous {
            self.add_unsealing(k);
        }
        self
    }

    fn add_unsealing(&mut self, kek: Kek) {
        if self.current.same_key(&kek) || self.previous.iter().any(|k| k.same_key(&kek)) {
            return;
        }
        self.previous.push(kek);
    }

    /// The id of the key that seals (the `kid` of the JWE headers it writes).
    pub fn id(&self) -> &str {
        &self.current.id
    }

    /// Where the key that seals was read from.
    pub fn source(&self) -> &KekSource {
        &self.current.source
    }

    /// The ids and sources of the keys that only unseal.
    pub fn previous(&self) -> impl Iterator<Item = (&str, &KekSource)> {
        self.previous.iter().map(|k| (k.id.as_str(), &k.source))
    }

    /// A 256-bit key for `purpose`, derived one-way from the current key: the same on every
    /// replica (they share the KEK to open the signing keys) without storing another secret.
    /// `HMAC-SHA256(kek, "tessera/" || purpose)`, so nothing derived reveals the KEK.
    pub fn derive(&self, purpose: &str) -> Zeroizing<[u8; 32]> {
        use hmac::{Hmac, Mac};
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&*self.current.bytes)
            .expect("HMAC takes any key length");
        mac.update(b"tessera/");
        mac.update(purpose.as_bytes());
        Zeroizing::new(mac.finalize().into_bytes().into())
    }

    /// Encrypts `plaintext` as a compact JWE whose header names the current key.
    pub fn seal(&self, plaintext: &[u8]) -> Result<String, KeyError> {
        let mut header = JweHeader::new();
        header.set_content_encryption("A256GCM");
        header.set_key_id(self.current.id.clone());
        let encrypter = Dir
            .encrypter_from_bytes(*self.current.bytes)
            .map_err(|e| KeyError::Crypto(e.to_string()))?;
        jwe::serialize_compact(plaintext, &header, &encrypter)
            .map_err(|e| KeyError::Crypto(e.to_string()))
    }

    /// Decrypts a JWE made by [`seal`](Self::seal) under any key held here: the one its header
    /// names first, then the others (a key given as `TESSERA_KEK` and as a file has two ids).
    /// `kid` names the signing key for the error.
    pub fn open(&self, kid: &str, sealed: &str) -> Result<Vec<u8>, KeyError> {
        let named = sealed_kek_id(sealed);
        let mut candidates: Vec<&Kek> = std::iter::once(&self.current)
            .chain(&self.previous)
            .collect();
        // Stable: the named key first, the rest in order.
        candidates.sort_by_key(|k| Some(&k.id) != named.as_ref());
        for kek in candidates {
            let decrypter = Dir
                .decrypter_from_bytes(*kek.bytes)
                .map_err(|e| KeyError::Crypto(e.to_string()))?;
            if let Ok((plain, _)) = jwe::deserialize_compact(sealed, &decrypter) {
                return Ok(plain);
            }
        }
        Err(KeyError::WrongKek {
            kid: kid.to_owned(),
            sealed_under: named.unwrap_or_else(|| "?".into()),
            have: self.describe(),
        })
    }

    /// Whether a JWE made by [`seal`](Self::seal) opens with the current key (whatever id its
    /// header names: the same key given as a file and as `TESSERA_KEK` has two).
    pub fn sealed_by_current(&self, sealed: &str) -> bool {
        Dir.decrypter_from_bytes(*self.current.bytes)
            .is_ok_and(|d| jwe::deserialize_compact(sealed, &d).is_ok())
    }

    /// "K1 from SOURCE (and K2 from SOURCE)", for messages; ids only, never key material.
    fn describe(&self) -> String {
        let mut s = format!("{} from {}", self.current.id, self.current.source);
        for k in &self.previous {
            s.push_str(&format!(", and {} from {}", k.id, k.source));
        }
        s
    }
}

/// The KEK id a sealed key's JWE header names, if any.
pub fn sealed_kek_id(sealed: &str) -> Option<String> {
    let header = URL_SAFE_NO_PAD.decode(sealed.split('.').next()?).ok()?;
    let header: serde_json::Value = serde_json::from_slice(&header).ok()?;
    header["kid"].as_str().map(str::to_owned)
}

fn io_why(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}

fn read_file(path: &Path, source: KekSource) -> Result<Kek, KeyError> {
    match fs::read(path) {
        Ok(bytes) => parse_jwk(&Zeroizing::new(bytes), source),
        Err(e) => Err(KeyError::Kek {
            from: source.to_string(),
            why: io_why(&e),
        }),
    }
}

fn parse_jwk(bytes: &[u8], source: KekSource) -> Result<Kek, KeyError> {
    let bad = |why: &str| KeyError::Kek {
        from: source.to_string(),
        why: why.to_owned(),
    };
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|_| bad("not a JSON Web Key (JSON object)"))?;
    if value["kty"].as_str().is_some_and(|t| t != "oct") {
        return Err(bad("not a symmetric JWK (kty must be \"oct\")"));
    }
    let id = value["kid"]
        .as_str()
        .filter(|k| !k.is_empty())
        .ok_or_else(|| bad("the JWK has no kid"))?
        .to_owned();
    let key = Zeroizing::new(
        value["k"]
            .as_str()
            .and_then(|k| URL_SAFE_NO_PAD.decode(k.trim_end_matches('=')).ok())
            .ok_or_else(|| bad("the JWK has no base64url k"))?,
    );
    let bytes: [u8; 32] = key
        .as_slice()
        .try_into()
        .map_err(|_| bad(&format!("k is {} bytes, expected 32", key.len())))?;
    Ok(Kek {
        id,
        bytes: Zeroizing::new(bytes),
        source,
    })
}

/// `TESSERA_KEK`: base64 (standard or URL-safe alphabet, padded or not) of 32 bytes. Its id is
/// derived from the key, so every replica given the same value names it alike.
fn from_env(value: &std::ffi::OsStr) -> Result<Kek, KeyError> {
    let bad = |why: String| KeyError::Kek {
        from: KekSource::Env.to_string(),
        why,
    };
    let text = value
        .to_str()
        .ok_or_else(|| bad("not base64 (not even UTF-8)".into()))?
        .trim();
    if text.is_empty() {
        return Err(bad(
            "set but empty: expected base64 of 32 bytes (unset it to use keys.dir)".into(),
        ));
    }
    let decoded = [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD]
        .iter()
        .find_map(|engine| engine.decode(text).ok())
        .map(Zeroizing::new)
        .ok_or_else(|| bad("not base64 (standard or URL-safe alphabet) of a 32-byte key".into()))?;
    let bytes: [u8; 32] = decoded.as_slice().try_into().map_err(|_| {
        bad(format!(
            "decodes to {} bytes, expected 32 (e.g. `openssl rand -base64 32`)",
            decoded.len()
        ))
    })?;
    let digest = Sha256::new()
        .chain_update(b"tessera key-encryption key id\0")
        .chain_update(bytes)
        .finalize();
    Ok(Kek {
        id: format!("env-{}", URL_SAFE_NO_PAD.encode(&digest[..9])),
        bytes: Zeroizing::new(bytes),
        source: KekSource::Env,
    })
}

/// Writes a fresh key to `path` as a JWK, mode 0600: whole to a private temp file beside it,
/// then linked into place, so two processes creating it at once never both install a key and
/// neither reads a half-written one. If `path` appeared meanwhile, that key is returned.
fn create_file(path: &Path, source: KekSource) -> Result<Kek, KeyError> {
    let io = |e: std::io::Error| KeyError::Kek {
        from: source.to_string(),
        why: io_why(&e),
    };
    let dir = match path.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(d) => d.to_owned(),
        None => PathBuf::from("."),
    };
    let mut bytes = Zeroizing::new([0u8; 32]);
    rand::rng().fill_bytes(&mut *bytes);
    let mut id = [0u8; 9];
    rand::rng().fill_bytes(&mut id);
    let kek = Kek {
        id: URL_SAFE_NO_PAD.encode(id),
        bytes,
        source: source.clone(),
    };
    let jwk = Zeroizing::new(
        serde_json::json!({
            "kty": "oct",
            "kid": kek.id,
            "alg": "dir",
            "k": URL_SAFE_NO_PAD.encode(*kek.bytes),
        })
        .to_string(),
    );
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| FILE_NAME.into());
    let tmp = dir.join(format!(".{name}.{}.tmp", kek.id));
    let written = (|| {
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        file.write_all(jwk.as_bytes())?;
        file.sync_all()?;
        fs::hard_link(&tmp, path)?;
        // The link itself must survive a crash: keys sealed under it go to the database.
        fs::File::open(&dir)?.sync_all()
    })();
    let _ = fs::remove_file(&tmp);
    match written {
        Ok(()) => {
            tracing::info!(path = %path.display(), kek_id = %kek.id, "created key-encryption key");
            Ok(kek)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let bytes = Zeroizing::new(fs::read(path).map_err(io)?);
            parse_jwk(&bytes, source)
        }
        Err(e) => Err(io(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_sealed_under_a_previous_kek_opens_and_a_foreign_one_does_not() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let old = KeyEncryptionKey::load_or_create(a.path()).unwrap();
        let sealed = old.seal(b"private").unwrap();
        let (new, created) =
            KeyEncryptionKey::open_or_create_file(&b.path().join("new.jwk")).unwrap();
        assert!(created);
        assert!(new.open("k", &sealed).is_err());
        let both = new.unsealing_also(KeyEncryptionKey::load_or_create(a.path()).unwrap());
        assert_eq!(both.open("k", &sealed).unwrap(), b"private");
        let resealed = both.seal(b"private").unwrap();
        assert!(both.sealed_by_current(&resealed));
        assert!(!both.sealed_by_current(&sealed));
        let err = old.open("k", &resealed).unwrap_err().to_string();
        assert!(err.contains("cannot be decrypted"), "{err}");
        assert!(!err.contains("private"), "{err}");
    }

    #[test]
    fn environment_keys_decode_in_both_alphabets_and_name_what_is_wrong() {
        let key = [0xfbu8; 32];
        let std_b64 = STANDARD.encode(key);
        let url_b64 = URL_SAFE_NO_PAD.encode(key);
        assert!(std_b64.contains('+') || std_b64.contains('/'));
        let a = from_env(std_b64.as_ref()).unwrap();
        let b = from_env(url_b64.as_ref()).unwrap();
        assert!(a.same_key(&b));
        let short = from_env(STANDARD.encode([1u8; 16]).as_ref())
            .err()
            .unwrap()
            .to_string();
        assert!(
            short.contains("TESSERA_KEK") && short.contains("16 bytes"),
            "{short}"
        );
        let junk = from_env("not base64 at all!".as_ref())
            .err()
            .unwrap()
            .to_string();
        assert!(junk.contains("not base64"), "{junk}");
    }
}
