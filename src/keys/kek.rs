//! The key-encryption key that seals signing keys at rest.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use josekit::jwe::{self, Dir, JweHeader};
use rand::RngCore;

use super::KeyError;

const FILE_NAME: &str = "kek.jwk";

/// A 256-bit AES key read from `keys.dir`; signing keys' private parts are JWE `dir`/`A256GCM`
/// under it, so a copy of the database alone yields no signing key.
pub struct KeyEncryptionKey {
    id: String,
    bytes: [u8; 32],
}

impl std::fmt::Debug for KeyEncryptionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyEncryptionKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl KeyEncryptionKey {
    /// Reads `dir/kek.jwk`, creating it (mode 0600, directory 0700) if it does not exist.
    pub fn load_or_create(dir: &Path) -> Result<Self, KeyError> {
        let path = dir.join(FILE_NAME);
        match fs::read(&path) {
            Ok(bytes) => Self::parse(&path, &bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Self::create(dir, &path),
            Err(e) => Err(KeyError::KekFile(path, e.to_string())),
        }
    }

    fn parse(path: &Path, bytes: &[u8]) -> Result<Self, KeyError> {
        let bad = |why: &str| KeyError::KekFile(path.to_owned(), why.to_owned());
        let value: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|_| bad("not a JSON Web Key"))?;
        let id = value["kid"]
            .as_str()
            .ok_or_else(|| bad("no kid"))?
            .to_owned();
        let key = value["k"]
            .as_str()
            .and_then(|k| URL_SAFE_NO_PAD.decode(k).ok())
            .ok_or_else(|| bad("no base64url k"))?;
        let bytes: [u8; 32] = key.try_into().map_err(|_| bad("k is not 256 bits"))?;
        Ok(KeyEncryptionKey { id, bytes })
    }

    fn create(dir: &Path, path: &PathBuf) -> Result<Self, KeyError> {
        let io = |e: std::io::Error| KeyError::KekFile(path.clone(), e.to_string());
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(io)?;
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        let mut id = [0u8; 9];
        rand::rng().fill_bytes(&mut id);
        let kek = KeyEncryptionKey {
            id: URL_SAFE_NO_PAD.encode(id),
            bytes,
        };
        let jwk = serde_json::json!({
            "kty": "oct",
            "kid": kek.id,
            "alg": "dir",
            "k": URL_SAFE_NO_PAD.encode(kek.bytes),
        });
        // Written whole to a private temp file, then linked into place: two processes
        // starting at once never both install a key, and neither reads a half-written one.
        let tmp = dir.join(format!(".{FILE_NAME}.{}.tmp", kek.id));
        let written = (|| {
            let mut file = fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)?;
            file.write_all(jwk.to_string().as_bytes())?;
            file.sync_all()?;
            fs::hard_link(&tmp, path)?;
            // The link itself must survive a crash: keys sealed under it go to the database.
            fs::File::open(dir)?.sync_all()
        })();
        let _ = fs::remove_file(&tmp);
        match written {
            Ok(()) => {
                tracing::info!(path = %path.display(), kek_id = %kek.id, "created key-encryption key");
                Ok(kek)
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let bytes = fs::read(path).map_err(io)?;
                Self::parse(path, &bytes)
            }
            Err(e) => Err(io(e)),
        }
    }

    /// Encrypts `plaintext` as a compact JWE whose header names this key.
    pub fn seal(&self, plaintext: &[u8]) -> Result<String, KeyError> {
        let mut header = JweHeader::new();
        header.set_content_encryption("A256GCM");
        header.set_key_id(self.id.clone());
        let encrypter = Dir
            .encrypter_from_bytes(self.bytes)
            .map_err(|e| KeyError::Crypto(e.to_string()))?;
        jwe::serialize_compact(plaintext, &header, &encrypter)
            .map_err(|e| KeyError::Crypto(e.to_string()))
    }

    /// Decrypts a JWE made by [`seal`](Self::seal); `kid` names the signing key for the error.
    pub fn open(&self, kid: &str, sealed: &str) -> Result<Vec<u8>, KeyError> {
        let wrong = |found: String| KeyError::WrongKek {
            kid: kid.to_owned(),
            sealed_under: found,
            have: self.id.clone(),
        };
        let decrypter = Dir
            .decrypter_from_bytes(self.bytes)
            .map_err(|e| KeyError::Crypto(e.to_string()))?;
        match jwe::deserialize_compact(sealed, &decrypter) {
            Ok((plain, _)) => Ok(plain),
            Err(_) => Err(wrong(sealed_kek_id(sealed).unwrap_or_else(|| "?".into()))),
        }
    }
}

fn sealed_kek_id(sealed: &str) -> Option<String> {
    let header = URL_SAFE_NO_PAD.decode(sealed.split('.').next()?).ok()?;
    let header: serde_json::Value = serde_json::from_slice(&header).ok()?;
    header["kid"].as_str().map(str::to_owned)
}
