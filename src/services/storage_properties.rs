//! Property tests of the object key a stored file gets: whatever its name, the last segment
//! is short, made of characters every object store and file system takes, never `.`/`..`
//! or dot-ended, and the whole key parses as an object-store path under its folder.

use proptest::prelude::*;

use super::{safe_name, source_file_key};

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn a_safe_name_is_one_plain_segment_every_store_accepts(
        raw in prop_oneof!["\\PC{0,300}", "[a-z./\\\\ .\u{202e}]{0,200}"],
        folder in any::<i64>(),
    ) {
        let name = safe_name(&raw);
        prop_assert!(!name.is_empty() && name.len() <= 120, "{:?}", name);
        prop_assert!(
            name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_')),
            "{:?}",
            name
        );
        prop_assert!(!name.starts_with('.') && !name.ends_with('.'), "{:?} from {:?}", name, raw);
        prop_assert_eq!(safe_name(&name), name.clone());
        let key = source_file_key(folder, "0f8fad5b-d9cb-469f-a165-70867728950e", &raw);
        let path = object_store::path::Path::parse(&key);
        prop_assert!(path.is_ok(), "{:?}: {:?}", key, path);
        prop_assert_eq!(key.matches('/').count(), 3, "{:?}", key);
    }
}

/// Found by the property above: a long name cut at 120 bytes could end in a dot, which
/// Windows file systems drop (the key and the file would then differ).
#[test]
fn a_long_name_cut_at_a_dot_does_not_end_in_one() {
    let raw = format!("{}.{}", "a".repeat(119), "b".repeat(10));
    let name = safe_name(&raw);
    assert!(!name.ends_with('.'), "{name:?}");
    assert_eq!(name, "a".repeat(119));
}
