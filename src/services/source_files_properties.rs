//! Property tests of `display_name`, which every uploaded or imported file's name passes
//! through: whatever the client or the provider sends, the name shown and stored is one path
//! segment without control or bidirectional-text characters, bounded, trimmed, and naming
//! it again changes nothing.

use proptest::prelude::*;

use super::{display_name, is_bidi_control};

/// Names as clients and providers send them, weighted towards the hostile parts.
fn raw_name() -> impl Strategy<Value = String> {
    prop_oneof![
        "\\PC{0,300}",
        ".{0,80}",
        "[a-z./\\\\ \u{0}\u{1f}\u{7f}\u{85}\u{200e}\u{202a}-\u{202e}\u{2066}-\u{2069}\u{61c}]{0,40}",
        "(C:\\\\|/|\\.\\./)?([a-zA-Z0-9 ._-]{1,12}[/\\\\]){0,4}[a-zA-Z0-9 ._\u{202e}-]{0,20}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn a_display_name_is_one_clean_bounded_segment_and_stable(raw in raw_name()) {
        let Some(name) = display_name(&raw) else {
            return Ok(());
        };
        prop_assert!(!name.is_empty());
        prop_assert!(!name.contains('/') && !name.contains('\\'), "{:?}", name);
        prop_assert!(
            !name.chars().any(|c| c.is_control() || is_bidi_control(c)),
            "{:?}",
            name
        );
        prop_assert!(name.chars().count() <= 255);
        prop_assert_eq!(name.trim(), name.as_str());
        prop_assert_eq!(display_name(&name), Some(name.clone()));
        // Nothing is made up: the name is what was sent, minus what was removed.
        let last = raw.rsplit(['/', '\\']).next().unwrap_or(&raw);
        let kept: String = last.chars().filter(|c| !c.is_control() && !is_bidi_control(*c)).collect();
        prop_assert!(kept.contains(name.as_str()), "{:?} from {:?}", name, raw);
    }
}
