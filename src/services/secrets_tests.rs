//! Tests of `secrets.rs`.

use super::*;

/// The key of the Fernet spec's test vectors.
const SPEC_KEY: &str = "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=";

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn keyring(keys: &[&str]) -> Keyring {
    Keyring::from_keys(keys).unwrap()
}

/// A token of `key` stamped with `timestamp`.
fn token_at(key: &str, plaintext: &[u8], timestamp: u64) -> String {
    fernet::Fernet::new(key)
        .unwrap()
        .encrypt_at_time(plaintext, timestamp)
}

#[test]
fn round_trip() {
    let keys = keyring(&[&Keyring::generate_key()]);
    for plaintext in [&b""[..], b"x", b"{\"token\":\"\xc3\xa4\"}", &[0u8; 100]] {
        let token = keys.encrypt(plaintext);
        assert_eq!(keys.decrypt(&token).unwrap(), plaintext);
    }
    let token = keys.encrypt_str("grüße 🎓");
    assert_eq!(keys.decrypt_str(&token).unwrap(), "grüße 🎓");
    assert_eq!(keys.len(), 1);
    assert!(!keys.is_empty());
}

#[test]
fn tokens_are_padded_url_safe_version_0x80_stamped_now() {
    let keys = keyring(&[SPEC_KEY]);
    let before = now();
    let token = keys.encrypt(b"hello");
    assert!(token.ends_with('='), "Python needs padded tokens: {token}");
    assert!(!token.contains(['+', '/']));
    assert!(token.starts_with("gAAAAA"));
    let stamp = token_timestamp(&token).unwrap();
    assert!(stamp >= before && stamp <= now());
}

#[test]
fn generated_keys_are_44_char_padded_url_safe_32_bytes() {
    for _ in 0..64 {
        let key = Keyring::generate_key();
        assert_eq!(key.len(), 44);
        assert!(key.ends_with('='));
        assert!(!key.contains(['+', '/']));
        assert_eq!(URL_SAFE.decode(&key).unwrap().len(), 32);
    }
    assert_ne!(Keyring::generate_key(), Keyring::generate_key());
}

#[test]
fn old_key_decrypts_after_a_new_primary_is_added() {
    let old = Keyring::generate_key();
    let new = Keyring::generate_key();
    let before = keyring(&[&old]);
    let old_token = before.encrypt(b"refresh-token");

    let after = keyring(&[&new, &old]);
    assert_eq!(after.len(), 2);
    assert_eq!(after.primary_key_material(), new);
    assert_eq!(after.decrypt(&old_token).unwrap(), b"refresh-token");
    assert!(!after.is_primary(&old_token));

    let new_token = after.encrypt(b"access-token");
    assert!(after.is_primary(&new_token));
    // Encrypted with the primary key only.
    assert!(matches!(
        before.decrypt(&new_token),
        Err(SecretsError::InvalidToken)
    ));
    assert_eq!(
        keyring(&[&new]).decrypt(&new_token).unwrap(),
        b"access-token"
    );
}

#[test]
fn rotate_token_re_encrypts_old_tokens_only() {
    let old = Keyring::generate_key();
    let new = Keyring::generate_key();
    let stamp = now() - 86_400;
    let old_token = token_at(&old, b"{\"refresh_token\":\"r\"}", stamp);
    let keys = keyring(&[&new, &old]);

    let rotated = keys
        .rotate_token(&old_token)
        .unwrap()
        .expect("old token must rotate");
    assert_ne!(rotated, old_token);
    assert!(keys.is_primary(&rotated));
    assert_eq!(
        keys.decrypt(&rotated).unwrap(),
        b"{\"refresh_token\":\"r\"}"
    );
    assert_eq!(
        keyring(&[&new]).decrypt(&rotated).unwrap(),
        b"{\"refresh_token\":\"r\"}"
    );
    // The original timestamp is kept, as Python's MultiFernet.rotate does.
    assert_eq!(token_timestamp(&rotated).unwrap(), stamp);

    assert_eq!(keys.rotate_token(&rotated).unwrap(), None);
    assert_eq!(keys.rotate_token(&keys.encrypt(b"x")).unwrap(), None);

    let stranger = keyring(&[&Keyring::generate_key()]).encrypt(b"x");
    assert!(matches!(
        keys.rotate_token(&stranger),
        Err(SecretsError::InvalidToken)
    ));
    assert!(matches!(
        keys.rotate_token("not a token"),
        Err(SecretsError::InvalidToken)
    ));
}

fn assert_malformed(keys: &[&str], expected_index: usize, expected_reason: &str) {
    let error = Keyring::from_keys(keys).expect_err("the key must be rejected");
    let SecretsError::MalformedKey { index, reason, .. } = &error else {
        panic!("expected MalformedKey, got {error:?}");
    };
    assert_eq!(*index, expected_index, "{error}");
    assert!(
        reason.contains(expected_reason),
        "reason {reason:?} should mention {expected_reason:?}"
    );
    let display = error.to_string();
    let debug = format!("{error:?}");
    assert!(
        display.contains(&format!("index {expected_index}")),
        "{display}"
    );
    for key in keys
        .iter()
        .map(|key| key.trim())
        .filter(|key| key.len() >= 4)
    {
        assert!(!display.contains(key), "message leaks the key: {display}");
        assert!(!debug.contains(key), "Debug leaks the key: {debug}");
    }
}

#[test]
fn malformed_keys_are_rejected_naming_the_index_not_the_key() {
    let good = Keyring::generate_key();
    assert_malformed(&["c2hvcnQ="], 0, "decodes to 5 bytes");
    assert_malformed(&[&good, "not base64!!"], 1, "whitespace");
    assert_malformed(&[&good, &good, "%%%%"], 2, "not in the base64 alphabet");
    assert_malformed(&[&URL_SAFE.encode([7u8; 31])], 0, "decodes to 31 bytes");
    assert_malformed(&[&URL_SAFE.encode([7u8; 33])], 0, "decodes to 33 bytes");
    assert_malformed(&[&good, ""], 1, "empty");
    assert_malformed(&["   "], 0, "empty");
    assert_malformed(&[&good[..42]], 0, "decodes to 31 bytes");
    assert_malformed(&[&good[..41]], 0, "cannot be decoded");
    let unpadded = good.trim_end_matches('=');
    assert_malformed(&[&format!("{unpadded},{unpadded}")], 0, "FERNET_KEYS");
    assert_malformed(&[&format!("{}={}", &good[..20], &good[20..])], 0, "'='");
    assert!(matches!(
        Keyring::from_keys::<&str>(&[]),
        Err(SecretsError::NoKeys)
    ));
}

#[test]
fn key_spellings_accepted_like_python() {
    let padded = Keyring::generate_key();
    let reference = keyring(&[&padded]);
    let token = reference.encrypt(b"secret");
    let raw = URL_SAFE.decode(&padded).unwrap();
    let standard = base64::engine::general_purpose::STANDARD.encode(&raw);
    let spellings = [
        padded.trim_end_matches('=').to_owned(), // unpadded (the Rust crate's form)
        standard.clone(), // standard alphabet, like `openssl rand -base64 32`
        standard.trim_end_matches('=').to_owned(),
        format!("  {padded}\n"), // surrounding whitespace
        format!("{padded}=="),   // extra padding, which Python ignores
    ];
    for spelling in &spellings {
        let keys = keyring(&[spelling]);
        assert_eq!(keys.primary_fingerprint(), reference.primary_fingerprint());
        assert_eq!(keys.primary_key_material(), padded);
        assert_eq!(keys.decrypt(&token).unwrap(), b"secret");
        assert_eq!(reference.decrypt(&keys.encrypt(b"x")).unwrap(), b"x");
    }
}

#[test]
fn non_canonical_trailing_bits_are_accepted_like_python() {
    // The 43rd character carries 4 key bits and 2 unused bits; Python ignores the unused
    // bits, the base64 crate rejects them by default.
    let raw = [0u8; 32];
    let canonical = URL_SAFE.encode(raw);
    assert_eq!(&canonical[42..], "A=");
    let sloppy = format!("{}B=", &canonical[..42]);
    assert_eq!(
        keyring(&[&sloppy]).primary_fingerprint(),
        keyring(&[&canonical]).primary_fingerprint()
    );
}

#[test]
fn a_token_stamped_in_the_future_decrypts() {
    let keys = keyring(&[SPEC_KEY]);
    let future = token_at(SPEC_KEY, b"from a fast clock", now() + 600);
    // The bite: the crate's own decrypt refuses it (> 60 s clock skew).
    assert!(
        fernet::Fernet::new(SPEC_KEY)
            .unwrap()
            .decrypt(&future)
            .is_err()
    );
    assert_eq!(keys.decrypt(&future).unwrap(), b"from a fast clock");
    assert!(keys.is_primary(&future));

    // Extreme timestamps neither fail nor overflow.
    for stamp in [0, 1, u64::MAX - 60, u64::MAX - 1, u64::MAX] {
        let token = token_at(SPEC_KEY, b"edge", stamp);
        assert_eq!(keys.decrypt(&token).unwrap(), b"edge", "timestamp {stamp}");
        assert_eq!(token_timestamp(&token).unwrap(), stamp);
    }
}

#[test]
fn an_old_token_decrypts_without_ttl() {
    let keys = keyring(&[SPEC_KEY]);
    let spec_token = "gAAAAAAdwJ6wAAECAwQFBgcICQoLDA0ODy021cpGVWKZ_eEwCGM4BLLF_5CV9dOPmrhuVUPgJobwOz7JcbmrR64jVmpU4IwqDA==";
    assert_eq!(keys.decrypt(spec_token).unwrap(), b"hello");
    assert_eq!(token_timestamp(spec_token).unwrap(), 499_162_800);
    // Unpadded and whitespace-wrapped forms of the same token.
    assert_eq!(
        keys.decrypt(spec_token.trim_end_matches('=')).unwrap(),
        b"hello"
    );
    assert_eq!(keys.decrypt(&format!(" {spec_token}\n")).unwrap(), b"hello");
}

#[test]
fn wrong_key_or_damaged_token_is_invalid_token() {
    let keys = keyring(&[&Keyring::generate_key()]);
    let other = keyring(&[&Keyring::generate_key()]);
    let token = other.encrypt(b"x");
    assert!(matches!(
        keys.decrypt(&token),
        Err(SecretsError::InvalidToken)
    ));
    assert!(!keys.is_primary(&token));

    let mut damaged = keys.encrypt(b"x").into_bytes();
    damaged[30] = if damaged[30] == b'A' { b'B' } else { b'A' };
    let damaged = String::from_utf8(damaged).unwrap();
    for bad in ["", "gA==", "not a token", "%%%%", &damaged] {
        assert!(
            matches!(keys.decrypt(bad), Err(SecretsError::InvalidToken)),
            "{bad:?}"
        );
    }
    let error = keys.decrypt(&token).unwrap_err().to_string();
    assert!(error.contains("invalid Fernet token"), "{error}");
}

#[test]
fn decrypt_str_rejects_non_utf8() {
    let keys = keyring(&[SPEC_KEY]);
    assert!(matches!(
        keys.decrypt_str(&keys.encrypt(&[0xff, 0xfe])),
        Err(SecretsError::NotUtf8)
    ));
}

#[test]
fn debug_prints_fingerprints_not_keys() {
    let key = Keyring::generate_key();
    let second = Keyring::generate_key();
    let keys = keyring(&[&key, &second]);
    let debug = format!("{keys:?}");
    assert!(!debug.contains(&key[..20]) && !debug.contains(&second[..20]));
    assert!(!debug.contains(&keys.primary_key_material()[..20]));
    assert!(debug.contains(keys.primary_fingerprint()), "{debug}");
    assert_eq!(keys.primary_fingerprint().len(), 8);
    assert!(
        keys.primary_fingerprint()
            .bytes()
            .all(|b| b.is_ascii_hexdigit())
    );
    assert_eq!(keys.fingerprints().len(), 2);
    // sha256 of the raw key bytes.
    let raw = URL_SAFE.decode(&key).unwrap();
    assert_eq!(
        keys.primary_fingerprint(),
        &hex::encode(Sha256::digest(&raw))[..8]
    );
}

// --- load ---

#[test]
fn load_prefers_fernet_keys_then_fernet_key_then_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b, c) = (
        Keyring::generate_key(),
        Keyring::generate_key(),
        Keyring::generate_key(),
    );
    let fp = |key: &str| keyring(&[key]).primary_fingerprint().to_owned();
    fs::write(dir.path().join(KEY_FILE_NAME), format!("{c}\n")).unwrap();

    let list = format!(" {a} ,, {b},");
    let (keys, source) = Keyring::load(Some(&list), Some(&c), dir.path()).unwrap();
    assert_eq!(source, KeySource::Env);
    assert_eq!(keys.len(), 2);
    assert_eq!(keys.fingerprints(), [fp(&a), fp(&b)]);

    let (keys, source) = Keyring::load(None, Some(&format!(" {b}\n")), dir.path()).unwrap();
    assert_eq!(source, KeySource::Env);
    assert_eq!(keys.fingerprints(), [fp(&b)]);
    // Empty or separator-only values count as unset.
    let (keys, source) = Keyring::load(Some(" , "), Some(&b), dir.path()).unwrap();
    assert_eq!(
        (keys.fingerprints(), source),
        (&[fp(&b)][..], KeySource::Env)
    );

    let (keys, source) = Keyring::load(Some(""), Some("  "), dir.path()).unwrap();
    assert_eq!(source, KeySource::File(dir.path().join(KEY_FILE_NAME)));
    assert_eq!(keys.fingerprints(), [fp(&c)]);
}

#[test]
fn load_reads_several_keys_from_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (Keyring::generate_key(), Keyring::generate_key());
    let path = dir.path().join(KEY_FILE_NAME);
    fs::write(&path, format!("# primary\n{a}\n\n  {b}  \n")).unwrap();
    let (keys, source) = Keyring::load(None, None, dir.path()).unwrap();
    assert_eq!(source, KeySource::File(path.clone()));
    assert_eq!(keys.len(), 2);
    assert_eq!(
        keys.primary_fingerprint(),
        keyring(&[&a]).primary_fingerprint()
    );

    fs::write(&path, "# nothing here\n\n").unwrap();
    assert!(matches!(
        Keyring::load(None, None, dir.path()),
        Err(SecretsError::EmptyKeyFile { .. })
    ));
    fs::write(&path, format!("{a}\nnot-a-key\n")).unwrap();
    let error = Keyring::load(None, None, dir.path()).unwrap_err();
    assert!(
        matches!(&error, SecretsError::MalformedKey { index: 1, origin, .. } if origin.contains("fernet.key")),
        "{error:?}"
    );
}

#[test]
fn load_reports_malformed_env_keys() {
    let dir = tempfile::tempdir().unwrap();
    let good = Keyring::generate_key();
    let bad = URL_SAFE.encode([1u8; 31]);
    let error = Keyring::load(Some(&format!("{good},{bad}")), None, dir.path()).unwrap_err();
    let message = error.to_string();
    assert!(
        message.contains("FERNET_KEYS") && message.contains("index 1"),
        "{message}"
    );
    assert!(
        !message.contains(&bad) && !message.contains(&good),
        "{message}"
    );

    let error = Keyring::load(None, Some(&bad), dir.path()).unwrap_err();
    assert!(error.to_string().contains("FERNET_KEY "), "{error}");
    // A malformed key never falls back to generating one.
    assert!(!dir.path().join(KEY_FILE_NAME).exists());
}

#[test]
fn load_generates_a_private_key_file_once() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("nested").join("data");
    let path = data_dir.join(KEY_FILE_NAME);

    let (first, source) = Keyring::load(None, None, &data_dir).unwrap();
    assert_eq!(source, KeySource::Generated(path.clone()));
    let content = fs::read_to_string(&path).unwrap();
    let key = content.trim_end_matches('\n');
    assert_eq!(content, format!("{key}\n"));
    assert_eq!(key.len(), 44);
    assert_eq!(
        keyring(&[key]).primary_fingerprint(),
        first.primary_fingerprint()
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "mode {mode:o}");
    }
    // Only the key file is left behind (no temporary files).
    assert_eq!(fs::read_dir(&data_dir).unwrap().count(), 1);

    let token = first.encrypt(b"kept");
    let (second, source) = Keyring::load(None, None, &data_dir).unwrap();
    assert_eq!(source, KeySource::File(path.clone()));
    assert_eq!(second.primary_fingerprint(), first.primary_fingerprint());
    assert_eq!(second.decrypt(&token).unwrap(), b"kept");
    assert_eq!(fs::read_to_string(&path).unwrap(), content);
}

#[test]
fn create_key_file_never_replaces_an_existing_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(KEY_FILE_NAME);
    let (a, b) = (Keyring::generate_key(), Keyring::generate_key());
    assert!(create_key_file(dir.path(), &path, &a).unwrap());
    assert!(!create_key_file(dir.path(), &path, &b).unwrap());
    assert_eq!(fs::read_to_string(&path).unwrap(), format!("{a}\n"));
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn key_source_display() {
    assert!(KeySource::Env.to_string().contains("FERNET_KEYS"));
    assert!(
        KeySource::Generated(PathBuf::from("/d/fernet.key"))
            .to_string()
            .contains("/d/fernet.key")
    );
}

// --- mask / fingerprint ---

#[test]
fn mask_shows_only_the_last_four_characters_of_long_secrets() {
    assert_eq!(mask("sk-live-00001a2b"), "••••1a2b");
    assert_eq!(mask("123456789012"), "••••9012");
    assert_eq!(mask("12345678901"), "••••");
    assert_eq!(mask("short"), "••••");
    assert_eq!(mask(""), "••••");
    // Characters, not bytes.
    assert_eq!(mask("ääääääääääääöüßé"), "••••öüßé");
}

#[test]
fn fingerprint_is_stable_short_and_not_the_secret() {
    let fp = fingerprint("hunter2-secret");
    assert_eq!(fp, fingerprint("hunter2-secret"));
    assert_ne!(fp, fingerprint("hunter2-secreT"));
    assert_eq!(fp.len(), "sha256:".len() + 12);
    assert!(fp.starts_with("sha256:"));
    assert!(!fp.contains("hunter2"));
    // sha256("abc") = ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad
    assert_eq!(fingerprint("abc"), "sha256:ba7816bf8f01");
}
