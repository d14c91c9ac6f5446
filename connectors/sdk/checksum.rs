//! Content checksums as the providers report them, and their verification while the bytes
//! stream past.
//!
//! Every provider names its own hash: Google Drive `md5Checksum`/`sha256Checksum`, OneDrive
//! `sha256Hash`/`sha1Hash` (personal) or `quickXorHash` (business), S3 the MD5 in a
//! single-part ETag. A connector turns what its service says into a [`Checksum`]; whoever
//! stores the bytes runs them through a [`ChecksumCheck`]. On the wire (JSON, audit rows)
//! a checksum is the string `algorithm:lowercase-hex`, as it always was.

use std::borrow::Cow;
use std::fmt;

use md5::Digest as _;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::quickxor::QuickXor;

/// The hash algorithms the providers report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChecksumAlgorithm {
    /// MD5 (Google Drive, single-part S3 uploads).
    Md5,
    /// SHA-1 (OneDrive personal).
    Sha1,
    /// SHA-256 (Google Drive, OneDrive personal).
    Sha256,
    /// Microsoft's QuickXorHash (OneDrive for Business, SharePoint).
    QuickXor,
}

impl ChecksumAlgorithm {
    /// The name on the wire: `md5`, `sha1`, `sha256` or `quickxor`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Md5 => "md5",
            Self::Sha1 => "sha1",
            Self::Sha256 => "sha256",
            Self::QuickXor => "quickxor",
        }
    }

    /// The name for people (`SHA-256`, …).
    pub fn display_name(self) -> &'static str {
        match self {
            Self::Md5 => "MD5",
            Self::Sha1 => "SHA-1",
            Self::Sha256 => "SHA-256",
            Self::QuickXor => "QuickXorHash",
        }
    }

    /// Reads a wire name, in any case.
    pub fn parse(name: &str) -> Option<Self> {
        [Self::Md5, Self::Sha1, Self::Sha256, Self::QuickXor]
            .into_iter()
            .find(|a| a.as_str().eq_ignore_ascii_case(name))
    }

    /// The digest's length in bytes.
    pub fn digest_len(self) -> usize {
        match self {
            Self::Md5 => 16,
            Self::Sha1 | Self::QuickXor => 20,
            Self::Sha256 => 32,
        }
    }
}

/// An expected content hash: an algorithm and a digest of its length, kept in the wire
/// form `algorithm:lowercase-hex`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Checksum {
    algorithm: ChecksumAlgorithm,
    text: String,
}

impl Checksum {
    /// Reads `algorithm:hex`; `None` for an unknown algorithm or a value that is not hex of
    /// the algorithm's length (a checksum nobody could match is no checksum).
    pub fn parse(text: &str) -> Option<Self> {
        let (algorithm, hex) = text.split_once(':')?;
        Self::from_hex(algorithm, hex)
    }

    /// A checksum of `algorithm` (`md5`, `sha1`, `sha256`, `quickxor`, any case) from hex
    /// in any case.
    pub fn from_hex(algorithm: &str, hex: &str) -> Option<Self> {
        let algorithm = ChecksumAlgorithm::parse(algorithm)?;
        let well_formed =
            hex.len() == algorithm.digest_len() * 2 && hex.bytes().all(|b| b.is_ascii_hexdigit());
        well_formed.then(|| Self {
            algorithm,
            text: format!("{}:{}", algorithm.as_str(), hex.to_ascii_lowercase()),
        })
    }

    /// A checksum of `algorithm` from the raw digest bytes (providers that report base64
    /// decode it first).
    pub fn from_bytes(algorithm: &str, bytes: &[u8]) -> Option<Self> {
        Self::from_hex(algorithm, &hex::encode(bytes))
    }

    /// The algorithm.
    pub fn algorithm(&self) -> ChecksumAlgorithm {
        self.algorithm
    }

    /// The expected digest, lowercase hex.
    pub fn hex(&self) -> &str {
        &self.text[self.algorithm.as_str().len() + 1..]
    }

    /// The wire form, `algorithm:lowercase-hex`.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for Checksum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Serialize for Checksum {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for Checksum {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = Cow::<str>::deserialize(deserializer)?;
        Self::parse(&text).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "`{text}` is not `md5|sha1|sha256|quickxor:<hex>` of the right length"
            ))
        })
    }
}

impl JsonSchema for Checksum {
    fn schema_name() -> Cow<'static, str> {
        "Checksum".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "description": "The content checksum as `algorithm:lowercase-hex`: `md5`, `sha1`, \
                            `sha256` or `quickxor` (OneDrive for Business).",
            "pattern": "^(md5|sha1|sha256|quickxor):[0-9a-f]+$",
        })
    }
}

/// Checks bytes against a [`Checksum`] as they pass, in one pass with the storing of them.
///
/// SHA-256 is not computed here: whoever stores the bytes hashes them with SHA-256 anyway
/// and hands that digest to [`ChecksumCheck::verify`] (one pass over a 1 GiB file, not two).
pub struct ChecksumCheck {
    state: State,
}

enum State {
    Unchecked,
    Md5(md5::Md5, String),
    Sha1(sha1::Sha1, String),
    QuickXor(Box<QuickXor>, String),
    Sha256(String),
}

/// The bytes that arrived do not hash to what the provider reported.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("The file arrived damaged: its {algorithm} checksum does not match the service's.")]
pub struct ChecksumMismatch {
    /// The algorithm's name for people.
    pub algorithm: &'static str,
}

impl ChecksumCheck {
    /// A check of `expected`; with `None`, every stream passes.
    pub fn new(expected: Option<&Checksum>) -> Self {
        let Some(expected) = expected else {
            return Self {
                state: State::Unchecked,
            };
        };
        let want = expected.hex().to_owned();
        let state = match expected.algorithm() {
            ChecksumAlgorithm::Md5 => State::Md5(md5::Md5::new(), want),
            ChecksumAlgorithm::Sha1 => State::Sha1(sha1::Sha1::new(), want),
            ChecksumAlgorithm::QuickXor => State::QuickXor(Box::new(QuickXor::new()), want),
            ChecksumAlgorithm::Sha256 => State::Sha256(want),
        };
        Self { state }
    }

    /// Feeds the next chunk.
    pub fn update(&mut self, bytes: &[u8]) {
        match &mut self.state {
            State::Unchecked | State::Sha256(_) => {}
            State::Md5(hash, _) => hash.update(bytes),
            State::Sha1(hash, _) => hash.update(bytes),
            State::QuickXor(hash, _) => hash.update(bytes),
        }
    }

    /// Compares what arrived with what was expected; `sha256_hex` is the SHA-256 of the
    /// same bytes, asked for only when the expected checksum is a SHA-256.
    pub fn verify(self, sha256_hex: impl FnOnce() -> String) -> Result<(), ChecksumMismatch> {
        use ChecksumAlgorithm as A;
        let (algorithm, got, want) = match self.state {
            State::Unchecked => return Ok(()),
            State::Md5(hash, want) => (A::Md5, hex::encode(hash.finalize()), want),
            State::Sha1(hash, want) => (A::Sha1, hex::encode(hash.finalize()), want),
            State::QuickXor(hash, want) => (A::QuickXor, hex::encode(hash.finish()), want),
            State::Sha256(want) => (A::Sha256, sha256_hex(), want),
        };
        if got == want {
            Ok(())
        } else {
            Err(ChecksumMismatch {
                algorithm: algorithm.display_name(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const HELLO_MD5: &str = "5d41402abc4b2a76b9719d911017c592";
    const HELLO_SHA1: &str = "aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d";
    const HELLO_SHA256: &str = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";

    fn sha256_of_hello() -> String {
        HELLO_SHA256.to_owned()
    }

    #[test]
    fn checksums_read_and_write_as_algorithm_colon_lowercase_hex() {
        let md5 = Checksum::parse("MD5:5D41402ABC4B2A76B9719D911017C592").expect("md5");
        assert_eq!(md5.algorithm(), ChecksumAlgorithm::Md5);
        assert_eq!(md5.hex(), HELLO_MD5);
        assert_eq!(md5.as_str(), format!("md5:{HELLO_MD5}"));
        assert_eq!(
            serde_json::to_value(&md5).expect("serializes"),
            json!(format!("md5:{HELLO_MD5}"))
        );
        let back: Checksum =
            serde_json::from_value(json!(format!("sha1:{HELLO_SHA1}"))).expect("reads");
        assert_eq!(back.algorithm().display_name(), "SHA-1");
    }

    #[test]
    fn unknown_algorithms_and_malformed_values_are_no_checksum() {
        for text in [
            "crc32:0a1b2c3d",
            "md5",
            "md5:abc",
            &format!("md5:{}", "g".repeat(32)),
            &format!("sha256:{HELLO_MD5}"),
        ] {
            assert_eq!(Checksum::parse(text), None, "{text}");
        }
        assert!(serde_json::from_value::<Checksum>(json!("md5:abc")).is_err());
    }

    #[test]
    fn each_algorithm_is_checked_while_streaming() {
        for expected in [
            Checksum::from_hex("md5", HELLO_MD5),
            Checksum::from_hex("sha1", HELLO_SHA1),
            Checksum::from_hex("SHA256", &HELLO_SHA256.to_ascii_uppercase()),
        ] {
            let expected = expected.expect("well formed");
            let mut check = ChecksumCheck::new(Some(&expected));
            check.update(b"hel");
            check.update(b"lo");
            assert_eq!(check.verify(sha256_of_hello), Ok(()), "{expected}");

            let mut damaged = ChecksumCheck::new(Some(&expected));
            damaged.update(b"jello");
            let sha256_of_jello = || "0".repeat(64);
            let error = damaged.verify(sha256_of_jello).expect_err("damaged");
            assert_eq!(error.algorithm, expected.algorithm().display_name());
        }
        let quickxor = Checksum::parse("quickxor:4a00000000000000000000000100000000000000")
            .expect("quickxor of `J`");
        let mut check = ChecksumCheck::new(Some(&quickxor));
        check.update(b"J");
        assert_eq!(check.verify(sha256_of_hello), Ok(()));
        assert_eq!(ChecksumCheck::new(None).verify(sha256_of_hello), Ok(()));
    }

    #[test]
    fn the_schema_describes_the_string_form() {
        let schema = schemars::schema_for!(Checksum);
        assert_eq!(schema.get("type"), Some(&json!("string")));
    }
}
