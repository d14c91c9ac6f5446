//! Tests of `import_service.rs`.

use super::*;

#[test]
fn a_listed_file_is_picked_with_its_revision_or_its_time_and_size_in_place_of_one() {
    use chrono::TimeZone;
    let modified = chrono::Utc
        .with_ymd_and_hms(2025, 1, 7, 5, 7, 32)
        .single()
        .expect("a valid time");
    let mut entry = campuscore_connectors::FileEntry {
        id: "1p4C".into(),
        name: "Syllabus \"2025\".pdf".into(),
        kind: campuscore_connectors::FileKind::File,
        mime_type: "application/pdf".into(),
        size: Some(15_300_081),
        modified_time: Some(modified),
        checksum: None,
        revision: Some("0B-rev-7".into()),
        web_link: None,
        parent_id: None,
        can_download: true,
    };
    let pick = |revision: Option<&str>, size: Option<u64>| Pick {
        id: "1p4C".into(),
        name: "Syllabus \"2025\".pdf".into(),
        revision: revision.map(str::to_owned),
        size,
        mime_type: Some("application/pdf".into()),
    };
    let expected = pick(Some("0B-rev-7"), Some(15_300_081));
    assert_eq!(
        Pick::decode(&Pick::encode_entry(&entry)),
        Some(expected.clone())
    );
    // The same pick encodes to the same value whichever way it is written.
    assert_eq!(Pick::encode_entry(&entry), expected.encode());
    entry.revision = None;
    assert_eq!(
        Pick::decode(&Pick::encode_entry(&entry)),
        Some(pick(
            Some("2025-01-07T05:07:32+00:00/15300081"),
            Some(15_300_081)
        ))
    );
    entry.modified_time = None;
    entry.size = None;
    assert_eq!(
        Pick::decode(&Pick::encode_entry(&entry)),
        Some(pick(None, None))
    );
}

#[test]
fn picks_survive_the_form_and_junk_does_not_decode() {
    let pick = Pick {
        id: "1AbC".into(),
        name: "Lecture 1 “intro”.pdf".into(),
        revision: Some("42".into()),
        size: Some(1234),
        mime_type: Some("application/pdf".into()),
    };
    assert_eq!(Pick::decode(&pick.encode()), Some(pick));
    assert_eq!(Pick::decode("not base64!"), None);
    assert_eq!(
        Pick::decode(&URL_SAFE_NO_PAD.encode(b"{\"i\":\"\",\"n\":\"x\"}")),
        None
    );
}

#[test]
fn the_same_revision_has_the_same_key_and_another_revision_does_not() {
    let a = Pick {
        id: "f".into(),
        name: "a".into(),
        revision: Some("1".into()),
        size: None,
        mime_type: None,
    };
    let renamed = Pick {
        name: "b".into(),
        ..a.clone()
    };
    let newer = Pick {
        revision: Some("2".into()),
        ..a.clone()
    };
    assert_eq!(idempotency_key(1, 2, &a), idempotency_key(1, 2, &renamed));
    assert_ne!(idempotency_key(1, 2, &a), idempotency_key(1, 2, &newer));
    assert_ne!(idempotency_key(1, 2, &a), idempotency_key(3, 2, &a));
}
