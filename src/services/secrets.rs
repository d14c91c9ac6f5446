//! Secrets: the Fernet keyring that encrypts every stored credential.
//!
//! This module owns
//! - parsing and validating Fernet keys (`FERNET_KEYS`, `FERNET_KEY`, or the key file
//!   `$CAMPUSCORE_DATA_DIR/fernet.key`, which is generated once, mode 0600, when no key is
//!   configured);
//! - encrypting with the primary (first) key and decrypting with any key, so keys can be
//!   rotated: put the new key first, keep the old ones after it, run `campuscore keys
//!   rotate` ([`Keyring::rotate_token`] on every stored token), then drop the old keys;
//! - helpers that make secrets safe to show or log: [`mask`], [`fingerprint`] and the key
//!   fingerprints printed by `Debug` and [`Keyring::primary_fingerprint`].
//!
//! Key material never appears in an error message, a log line or a `Debug` output.
//!
//! # Compatibility with Python's `cryptography.fernet`
//! Tokens are Fernet version 0x80, exactly as Python makes them: `Fernet(key).decrypt(token)`
//! in Python returns what [`Keyring::encrypt`] encrypted here, and tokens made in Python (for
//! example by the Django system this app replaces) decrypt here. The differences between
//! the two implementations, and what this module does about them:
//!
//! - **Timestamps.** Python's `decrypt(token)` without a TTL never looks at the token's
//!   timestamp. The Rust `fernet` crate's `decrypt` rejects tokens stamped more than 60 s in
//!   the future even without a TTL (so a token written by a host whose clock runs ahead
//!   would be unreadable here). [`Keyring::decrypt`] behaves like Python with `ttl=None`: it
//!   reads the timestamp from the token and verifies at that time, so any timestamp is
//!   accepted. Stored credentials never use a TTL (it would expire valid refresh tokens).
//!   This needs the crate's `fernet_danger_timestamps` feature, whose `decrypt_at_time` is
//!   the only way to verify a token at a chosen time.
//! - **Key encoding.** Python requires the key to be 44 characters of base64 *with* `=`
//!   padding; it also accepts the standard alphabet (`+`, `/`) because
//!   `base64.urlsafe_b64decode` maps `-`/`_` onto `+`/`/` and then decodes leniently, and it
//!   silently drops characters outside the alphabet. The crate accepts unpadded keys and
//!   rejects `+`/`/`. Here a key is accepted when, after trimming surrounding whitespace,
//!   it is base64 in the URL-safe or the standard alphabet (or a mix, as in Python), with or
//!   without `=` padding, and decodes to exactly 32 bytes. Characters outside the alphabet
//!   (including whitespace inside the key) are rejected rather than dropped: a key that
//!   Python would only accept by ignoring characters is an operator mistake worth
//!   reporting. Keys are always written in the padded URL-safe form Python accepts
//!   ([`Keyring::generate_key`]); an unpadded key works here but not in Python.
//! - **Token encoding.** Python emits padded URL-safe base64 and rejects unpadded tokens,
//!   but accepts junk characters inside a token and data after the padding (it accepts two
//!   of the spec's `invalid.json` vectors). Tokens are emitted here in Python's padded form.
//!   On input, surrounding whitespace is trimmed, `=` padding is optional (the crate's rule)
//!   and everything else must be URL-safe base64: apart from a missing padding, every token
//!   accepted here is also accepted by Python.
//! - **Rotation.** Python's `MultiFernet.rotate` re-encrypts under the primary key and keeps
//!   the original timestamp; [`Keyring::rotate_token`] does the same but leaves tokens that
//!   are already under the primary key untouched (`Ok(None)`). The crate's `MultiFernet` has
//!   no `rotate`.

use std::fmt;
use std::fs;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, URL_SAFE};
use base64::engine::{DecodePaddingMode, general_purpose::URL_SAFE_NO_PAD};
use sha2::{Digest as _, Sha256};

/// Name of the key file inside the data directory (`$CAMPUSCORE_DATA_DIR/fernet.key`).
pub const KEY_FILE_NAME: &str = "fernet.key";

/// Fernet token version byte (spec version 0x80, the one Python implements).
const TOKEN_VERSION: u8 = 0x80;

/// The crate refuses tokens stamped more than this many seconds after the verification time.
const CRATE_MAX_CLOCK_SKEW: u64 = 60;

/// Decoder for key material: URL-safe alphabet, no padding (stripped before decoding), and
/// non-zero trailing bits in the last character tolerated, as Python's decoder does.
const KEY_DECODER: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone)
        .with_decode_allow_trailing_bits(true),
);

/// Where [`Keyring::load`] found its keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// `FERNET_KEYS` or `FERNET_KEY`.
    Env,
    /// An existing key file.
    File(PathBuf),
    /// No key was configured: a new key was generated into this file.
    Generated(PathBuf),
}

impl fmt::Display for KeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeySource::Env => f.write_str("environment (FERNET_KEYS / FERNET_KEY)"),
            KeySource::File(path) => write!(f, "key file {}", path.display()),
            KeySource::Generated(path) => write!(f, "newly generated key file {}", path.display()),
        }
    }
}

/// Errors of this module. None of them ever contains key material or plaintext.
#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    /// A configured key is not a Fernet key. `index` counts from 0 among the keys given
    /// (empty entries and comment lines skipped); `origin` says where the key came from.
    #[error(
        "malformed Fernet key in {origin} (key index {index}, counting from 0): {reason}; \
         a Fernet key is 32 bytes in URL-safe base64, 44 characters ending in '=', \
         as printed by `campuscore keys generate`"
    )]
    MalformedKey {
        origin: String,
        index: usize,
        reason: String,
    },
    /// An empty key list was given.
    #[error("no Fernet key given")]
    NoKeys,
    /// The key file exists but holds no key (blank lines and `#` comments are ignored).
    #[error(
        "Fernet key file {} contains no key; restore it from a backup (or delete it to \
         generate a new key, which makes secrets stored under the old key unreadable)",
        path.display()
    )]
    EmptyKeyFile { path: PathBuf },
    /// The token was not made with any key of the keyring, was altered, or is not a
    /// Fernet token.
    #[error("invalid Fernet token (not made with a configured key, altered, or not a token)")]
    InvalidToken,
    /// The token decrypted, but the plaintext is not UTF-8 (from [`Keyring::decrypt_str`]).
    #[error("decrypted secret is not valid UTF-8")]
    NotUtf8,
    /// Reading or writing the key file failed.
    #[error("could not {action} {}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// The application's Fernet keys: the first (primary) key encrypts, any key decrypts.
///
/// `Debug` prints key fingerprints (see [`Keyring::primary_fingerprint`]), never keys.
#[derive(Clone)]
pub struct Keyring {
    /// Never empty; index 0 is the primary key.
    fernets: Vec<fernet::Fernet>,
    /// `fingerprints[i]` identifies `fernets[i]`: 8 hex digits of SHA-256 of the raw key.
    fingerprints: Vec<String>,
    /// The primary key in canonical form (padded URL-safe base64), for
    /// [`Keyring::primary_key_material`].
    primary_key: String,
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring")
            .field("fingerprints", &self.fingerprints)
            .finish_non_exhaustive()
    }
}

impl Keyring {
    /// Build a keyring from keys in order of preference: the first key encrypts, every key
    /// decrypts. Each key may be padded or unpadded, URL-safe or standard base64 (see the
    /// module documentation); surrounding whitespace is ignored.
    ///
    /// # Errors
    /// [`SecretsError::NoKeys`] for an empty list, [`SecretsError::MalformedKey`] naming the
    /// first key (by index) that does not decode to exactly 32 bytes.
    pub fn from_keys<S: AsRef<str>>(keys: &[S]) -> Result<Self, SecretsError> {
        Self::from_keys_in("the given key list", keys.iter().map(AsRef::as_ref))
    }

    fn from_keys_in<'a>(
        origin: &str,
        keys: impl IntoIterator<Item = &'a str>,
    ) -> Result<Self, SecretsError> {
        let mut fernets = Vec::new();
        let mut fingerprints = Vec::new();
        let mut primary_key = None;
        for (index, key) in keys.into_iter().enumerate() {
            let malformed = |reason: String| SecretsError::MalformedKey {
                origin: origin.to_owned(),
                index,
                reason,
            };
            let raw = decode_key(key).map_err(malformed)?;
            let canonical = URL_SAFE.encode(raw);
            let fernet = fernet::Fernet::new(&canonical)
                .ok_or_else(|| malformed("rejected by the Fernet implementation".to_owned()))?;
            fingerprints.push(short_hex(&raw, 8));
            fernets.push(fernet);
            primary_key.get_or_insert(canonical);
        }
        let primary_key = primary_key.ok_or(SecretsError::NoKeys)?;
        Ok(Self {
            fernets,
            fingerprints,
            primary_key,
        })
    }

    /// Load the keyring the way the application starts:
    ///
    /// 1. `fernet_keys` (the value of `FERNET_KEYS`): comma-separated keys, primary first;
    ///    whitespace around entries is trimmed and empty entries are ignored;
    /// 2. otherwise `fernet_key` (the value of `FERNET_KEY`): one key;
    /// 3. otherwise the key file `$data_dir/fernet.key`: one key per line, primary first,
    ///    blank lines and lines starting with `#` ignored;
    /// 4. otherwise a new key is generated into `$data_dir/fernet.key` (mode 0600, the
    ///    directory is created), a warning is logged, and [`KeySource::Generated`] returned.
    ///
    /// A variable that is unset, empty or only separators counts as not set. The values are
    /// passed in rather than read here so that this is testable; see [`Keyring::load_from_env`].
    ///
    /// # Errors
    /// [`SecretsError::MalformedKey`] for any malformed key (the application must refuse to
    /// start), [`SecretsError::EmptyKeyFile`], or [`SecretsError::Io`] when the key file
    /// cannot be read or written.
    pub fn load(
        fernet_keys: Option<&str>,
        fernet_key: Option<&str>,
        data_dir: &Path,
    ) -> Result<(Self, KeySource), SecretsError> {
        let list: Vec<&str> = fernet_keys
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .collect();
        if !list.is_empty() {
            return Ok((Self::from_keys_in("FERNET_KEYS", list)?, KeySource::Env));
        }
        if let Some(key) = fernet_key.map(str::trim).filter(|key| !key.is_empty()) {
            return Ok((Self::from_keys_in("FERNET_KEY", [key])?, KeySource::Env));
        }

        let path = data_dir.join(KEY_FILE_NAME);
        match Self::read_key_file(&path) {
            Ok(keyring) => Ok((keyring, KeySource::File(path))),
            Err(SecretsError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => {
                Self::generate_key_file(data_dir, &path)
            }
            Err(other) => Err(other),
        }
    }

    /// [`Keyring::load`] with the values of the `FERNET_KEYS` and `FERNET_KEY` environment
    /// variables.
    ///
    /// # Errors
    /// As [`Keyring::load`]; a variable that is not valid Unicode is a malformed key.
    pub fn load_from_env(data_dir: &Path) -> Result<(Self, KeySource), SecretsError> {
        fn var(name: &str) -> Result<Option<String>, SecretsError> {
            match std::env::var(name) {
                Ok(value) => Ok(Some(value)),
                Err(std::env::VarError::NotPresent) => Ok(None),
                Err(std::env::VarError::NotUnicode(_)) => Err(SecretsError::MalformedKey {
                    origin: name.to_owned(),
                    index: 0,
                    reason: "the variable is not valid Unicode".to_owned(),
                }),
            }
        }
        let keys = var("FERNET_KEYS")?;
        let key = var("FERNET_KEY")?;
        Self::load(keys.as_deref(), key.as_deref(), data_dir)
    }

    fn read_key_file(path: &Path) -> Result<Self, SecretsError> {
        let content = fs::read_to_string(path).map_err(|source| SecretsError::Io {
            action: "read the Fernet key file",
            path: path.to_owned(),
            source,
        })?;
        warn_if_readable_by_others(path);
        let keys: Vec<&str> = content
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty() && !line.starts_with('#'))
            .collect();
        if keys.is_empty() {
            return Err(SecretsError::EmptyKeyFile {
                path: path.to_owned(),
            });
        }
        Self::from_keys_in(&format!("key file {}", path.display()), keys)
    }

    /// Generate a key into `path` without ever replacing an existing file: if another
    /// process created the file first, its key is used instead.
    fn generate_key_file(data_dir: &Path, path: &Path) -> Result<(Self, KeySource), SecretsError> {
        fs::create_dir_all(data_dir).map_err(|source| SecretsError::Io {
            action: "create the data directory",
            path: data_dir.to_owned(),
            source,
        })?;
        let key = Self::generate_key();
        if !create_key_file(data_dir, path, &key)? {
            // Lost a race with another process starting at the same time: use its key.
            return Ok((Self::read_key_file(path)?, KeySource::File(path.to_owned())));
        }
        let keyring = Self::from_keys_in("the generated key", [key.as_str()])?;
        tracing::warn!(
            path = %path.display(),
            fingerprint = %keyring.primary_fingerprint(),
            "no FERNET_KEYS or FERNET_KEY set and no key file found: generated a new Fernet key \
             into {}. Back this file up now: every stored secret is encrypted with it and cannot \
             be recovered without it",
            path.display()
        );
        Ok((keyring, KeySource::Generated(path.to_owned())))
    }

    /// A new random key: 32 bytes from the operating system's random source, as 44
    /// characters of padded URL-safe base64 (the form Python's `Fernet(key)` requires).
    #[must_use]
    pub fn generate_key() -> String {
        fernet::Fernet::generate_key()
    }

    /// Encrypt with the primary key, stamped with the current time and without any TTL.
    #[must_use]
    pub fn encrypt(&self, plaintext: &[u8]) -> String {
        self.primary().encrypt(plaintext)
    }

    /// [`Keyring::encrypt`] for text.
    #[must_use]
    pub fn encrypt_str(&self, s: &str) -> String {
        self.encrypt(s.as_bytes())
    }

    /// Decrypt with the first key that authenticates the token. No TTL and no clock-skew
    /// check: any timestamp is accepted, as Python's `Fernet.decrypt(token)` does.
    ///
    /// # Errors
    /// [`SecretsError::InvalidToken`] when no key authenticates the token.
    pub fn decrypt(&self, token: &str) -> Result<Vec<u8>, SecretsError> {
        let token = token.trim();
        let at = verification_time(token_timestamp(token)?);
        self.fernets
            .iter()
            .find_map(|fernet| fernet.decrypt_at_time(token, None, at).ok())
            .ok_or(SecretsError::InvalidToken)
    }

    /// [`Keyring::decrypt`] for text.
    ///
    /// # Errors
    /// [`SecretsError::InvalidToken`], or [`SecretsError::NotUtf8`] when the plaintext is not
    /// UTF-8.
    pub fn decrypt_str(&self, token: &str) -> Result<String, SecretsError> {
        String::from_utf8(self.decrypt(token)?).map_err(|_| SecretsError::NotUtf8)
    }

    /// Whether the token decrypts with the primary key (so it needs no rotation).
    #[must_use]
    pub fn is_primary(&self, token: &str) -> bool {
        let token = token.trim();
        token_timestamp(token).is_ok_and(|timestamp| {
            self.primary()
                .decrypt_at_time(token, None, verification_time(timestamp))
                .is_ok()
        })
    }

    /// Re-encrypt a token under the primary key: `Ok(None)` if it already is under the primary
    /// key, `Ok(Some(new_token))` otherwise. Like Python's `MultiFernet.rotate`, the new
    /// token keeps the original timestamp.
    ///
    /// # Errors
    /// [`SecretsError::InvalidToken`] when no key authenticates the token.
    pub fn rotate_token(&self, token: &str) -> Result<Option<String>, SecretsError> {
        let token = token.trim();
        let timestamp = token_timestamp(token)?;
        let at = verification_time(timestamp);
        if self.primary().decrypt_at_time(token, None, at).is_ok() {
            return Ok(None);
        }
        let plaintext = self.fernets[1..]
            .iter()
            .find_map(|fernet| fernet.decrypt_at_time(token, None, at).ok())
            .ok_or(SecretsError::InvalidToken)?;
        Ok(Some(self.primary().encrypt_at_time(&plaintext, timestamp)))
    }

    /// Short identifier of the primary key (first 8 hex digits of SHA-256 of the raw key
    /// bytes): safe to log, the same for every spelling of the key.
    #[must_use]
    pub fn primary_fingerprint(&self) -> &str {
        &self.fingerprints[0]
    }

    /// The primary key itself, in canonical form (44 characters of padded URL-safe base64,
    /// whatever spelling was configured), for deriving other secrets from it (the session
    /// cookie key). **Secret:** never log, display or store it.
    #[must_use]
    pub fn primary_key_material(&self) -> &str {
        &self.primary_key
    }

    /// Fingerprints of all keys, primary first.
    #[must_use]
    pub fn fingerprints(&self) -> &[String] {
        &self.fingerprints
    }

    /// Number of keys (at least 1).
    #[must_use]
    pub fn len(&self) -> usize {
        self.fernets.len()
    }

    /// Always `false`: a keyring has at least one key.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.fernets.is_empty()
    }

    fn primary(&self) -> &fernet::Fernet {
        &self.fernets[0]
    }
}

/// The timestamp (seconds since the Unix epoch) recorded in a Fernet token, read without a
/// key. It is not authenticated until the token is decrypted.
///
/// # Errors
/// [`SecretsError::InvalidToken`] when the token is not base64 or not a version 0x80 token.
pub fn token_timestamp(token: &str) -> Result<u64, SecretsError> {
    let data = URL_SAFE_NO_PAD
        .decode(token.trim().trim_end_matches('='))
        .map_err(|_| SecretsError::InvalidToken)?;
    match data.get(..9) {
        Some([TOKEN_VERSION, stamp @ ..]) => {
            let stamp: [u8; 8] = stamp.try_into().map_err(|_| SecretsError::InvalidToken)?;
            Ok(u64::from_be_bytes(stamp))
        }
        _ => Err(SecretsError::InvalidToken),
    }
}

/// The time at which to verify a token stamped `timestamp` so that the crate's clock-skew
/// check never fires (Python without a TTL does no timestamp check): the token's own
/// timestamp, kept low enough that the crate's `time + 60` cannot overflow. Without a TTL
/// the verification time is used for nothing else.
fn verification_time(timestamp: u64) -> u64 {
    timestamp.min(u64::MAX - CRATE_MAX_CLOCK_SKEW)
}

/// Decode a key to its 32 bytes, or say why not — without quoting the key.
fn decode_key(key: &str) -> Result<[u8; 32], String> {
    let key = key.trim();
    if key.is_empty() {
        return Err("the key is empty".to_owned());
    }
    let body = key.trim_end_matches('=');
    let mut normalized = String::with_capacity(body.len());
    for (position, c) in body.chars().enumerate() {
        match c {
            'A'..='Z' | 'a'..='z' | '0'..='9' | '-' | '_' => normalized.push(c),
            // Standard alphabet, accepted like Python's urlsafe_b64decode does.
            '+' => normalized.push('-'),
            '/' => normalized.push('_'),
            ',' => {
                return Err(format!(
                    "character {position} is ',': list several keys in FERNET_KEYS, \
                     separated by commas"
                ));
            }
            '=' => return Err(format!("character {position} is '=' before the end")),
            c if c.is_whitespace() => {
                return Err(format!("character {position} is whitespace"));
            }
            _ => {
                return Err(format!(
                    "character {position} is not in the base64 alphabet"
                ));
            }
        }
    }
    let bytes = KEY_DECODER.decode(&normalized).map_err(|_| {
        format!(
            "{} base64 characters cannot be decoded (not a whole number of bytes)",
            normalized.len()
        )
    })?;
    let len = bytes.len();
    bytes
        .try_into()
        .map_err(|_| format!("the key decodes to {len} bytes; a Fernet key is exactly 32 bytes"))
}

/// Create `path` with `content` and mode 0600 if it does not exist yet. Returns `false` when
/// the file already exists (it is never replaced). The key is written to a temporary file
/// first and then hard-linked into place, so no other process ever sees a partial file.
fn create_key_file(dir: &Path, path: &Path, key: &str) -> Result<bool, SecretsError> {
    let content = format!("{key}\n");
    let tmp = dir.join(format!(
        ".{KEY_FILE_NAME}.{}.{:016x}.tmp",
        std::process::id(),
        rand::random::<u64>()
    ));
    write_new_private_file(&tmp, &content).map_err(|source| SecretsError::Io {
        action: "write a temporary Fernet key file",
        path: tmp.clone(),
        source,
    })?;
    let linked = fs::hard_link(&tmp, path);
    // Best effort: a leftover temporary file holds a key nobody uses.
    let _ = fs::remove_file(&tmp);
    let result = match linked {
        Ok(()) => Ok(true),
        Err(error) if error.kind() == io::ErrorKind::AlreadyExists => Ok(false),
        // Hard links unsupported (some network or FUSE file systems): create in place.
        Err(_) => match write_new_private_file(path, &content) {
            Ok(()) => Ok(true),
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists => Ok(false),
            Err(source) => Err(SecretsError::Io {
                action: "write the Fernet key file",
                path: path.to_owned(),
                source,
            }),
        },
    };
    #[cfg(unix)]
    if let Ok(dir) = fs::File::open(dir) {
        // Make the new directory entry durable; failure here is not worth refusing to start.
        let _ = dir.sync_all();
    }
    result
}

/// Write `content` to a file that must not exist yet, readable and writable by the owner only.
fn write_new_private_file(path: &Path, content: &str) -> io::Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(content.as_bytes())?;
    file.sync_all()
}

#[cfg(unix)]
fn warn_if_readable_by_others(path: &Path) {
    use std::os::unix::fs::PermissionsExt as _;
    if let Ok(metadata) = fs::metadata(path) {
        let mode = metadata.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            tracing::warn!(
                path = %path.display(),
                mode = format_args!("{mode:o}"),
                "the Fernet key file is accessible to other users; restrict it with chmod 600"
            );
        }
    }
}

#[cfg(not(unix))]
fn warn_if_readable_by_others(_path: &Path) {}

/// Mask a secret for display: `"••••"` followed by its last 4 characters (`"••••1a2b"`).
/// Secrets shorter than 12 characters show as `"••••"` only, so that a large fraction of a
/// short secret is never revealed.
#[must_use]
pub fn mask(secret: &str) -> String {
    const DOTS: &str = "••••";
    let count = secret.chars().count();
    if count < 12 {
        return DOTS.to_owned();
    }
    let tail: String = secret.chars().skip(count - 4).collect();
    format!("{DOTS}{tail}")
}

/// Stable, non-reversible fingerprint of a secret for audit logs: `"sha256:"` followed by the
/// first 12 hex digits of SHA-256 of the secret. Equal secrets give equal fingerprints.
#[must_use]
pub fn fingerprint(secret: &str) -> String {
    format!("sha256:{}", short_hex(secret.as_bytes(), 12))
}

/// The first `digits` hex digits of SHA-256 of `data`.
fn short_hex(data: &[u8], digits: usize) -> String {
    let mut hex = hex::encode(Sha256::digest(data));
    hex.truncate(digits);
    hex
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests fail loudly on unexpected errors")]
#[path = "secrets_tests.rs"]
mod tests;
