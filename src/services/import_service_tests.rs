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
    assert_eq!(
        Pick::entry_value(&entry).to_string(),
        Pick::encode_entry(&entry)
    );
    // Written into a page, each pick is its own whatever came before it on the thread.
    let long = campuscore_connectors::FileEntry {
        name: format!("{}\n\"{}\".pdf", "ü".repeat(800), "x".repeat(500)),
        id: "i".repeat(1000),
        ..entry.clone()
    };
    for e in [&long, &entry, &long, &entry] {
        let value = Pick::entry_value(e).to_string();
        assert_eq!(value, Pick::encode_entry(e));
        assert_eq!(Pick::decode(&value).map(|p| p.name), Some(e.name.clone()));
    }
    entry.revision = None;
    assert_eq!(
        Pick::decode(&Pick::encode_entry(&entry)),
        Some(pick(
            Some("2025-01-07T05:07:32+00:00/15300081"),
            Some(15_300_081)
        ))
    );
    assert_eq!(
        Pick::entry_value(&entry).to_string(),
        Pick::encode_entry(&entry)
    );
    entry.modified_time = None;
    entry.size = None;
    assert_eq!(
        Pick::decode(&Pick::encode_entry(&entry)),
        Some(pick(None, None))
    );
    assert_eq!(
        Pick::entry_value(&entry).to_string(),
        Pick::encode_entry(&entry)
    );
}

/// The pick's own base64 writer writes what the `base64` crate writes, for every length
/// and every byte value, after whatever the buffer held.
#[test]
fn picks_are_base64_as_the_crate_writes_it() {
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut bytes = Vec::new();
    for _ in 0..600 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        bytes.push((state >> 24) as u8);
    }
    let all: Vec<u8> = (0..=255).collect();
    for input in (0..=bytes.len()).map(|n| &bytes[..n]).chain([&all[..]]) {
        let mut out = b"x=".to_vec();
        push_base64url(&mut out, input);
        assert_eq!(out[..2], *b"x=");
        assert_eq!(
            std::str::from_utf8(&out[2..]),
            Ok(URL_SAFE_NO_PAD.encode(input).as_str()),
            "{} bytes",
            input.len()
        );
    }
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

/// What `PickFields::encode` wrote before it was written by hand: serde_json's compact JSON
/// of the same fields (the derive's field order), then URL-safe base64.
fn encode_with_serde(p: &PickFields<'_>) -> String {
    #[derive(Serialize)]
    struct Fields<'a> {
        i: &'a str,
        n: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        r: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        s: Option<u64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        m: Option<&'a str>,
    }
    let revision = p.revision.map(|r| match r {
        Revision::Given(r) => r.to_owned(),
        Revision::Modified(t, size) => format!("{}/{size}", t.to_rfc3339()),
    });
    let json = serde_json::to_vec(&Fields {
        i: p.id,
        n: p.name,
        r: revision.as_deref(),
        s: p.size,
        m: p.mime_type,
    })
    .expect("JSON");
    URL_SAFE_NO_PAD.encode(json)
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    /// Names as they come: mostly plain, some with quotes, backslashes, control characters,
    /// DEL, accents and emoji.
    fn text() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-zA-Z0-9 ._-]{0,40}",
            proptest::collection::vec(
                prop_oneof![
                    Just('"'),
                    Just('\\'),
                    Just('/'),
                    Just('\u{7f}'),
                    Just('é'),
                    Just('🎓'),
                    (0u32..0x20).prop_map(|c| char::from_u32(c).expect("a control character")),
                    proptest::char::range('a', 'z'),
                ],
                0..24
            )
            .prop_map(|cs| cs.into_iter().collect()),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn picks_are_written_byte_for_byte_as_serde_json_wrote_them(
            id in text(),
            name in text(),
            revision in proptest::option::of(text()),
            size in proptest::option::of(any::<u64>()),
            mime_type in proptest::option::of(text()),
        ) {
            let fields = PickFields {
                id: &id,
                name: &name,
                revision: revision.as_deref().map(Revision::Given),
                size,
                mime_type: mime_type.as_deref(),
            };
            prop_assert_eq!(fields.encode(), encode_with_serde(&fields));
        }

        #[test]
        fn a_revision_from_time_and_size_is_what_chrono_writes(
            secs in -70_000_000_000i64..300_000_000_000,
            nanos in prop_oneof![
                Just(0u32),
                (0u32..1000).prop_map(|ms| ms * 1_000_000),
                (0u32..1_000_000).prop_map(|us| us * 1_000),
                0u32..1_000_000_000,
            ],
            size in any::<u64>(),
        ) {
            let t = chrono::DateTime::from_timestamp(secs, nanos).expect("a time in range");
            let mut written = b"{".to_vec();
            write_modified_revision(&mut written, t, size);
            prop_assert_eq!(
                String::from_utf8(written).expect("UTF-8"),
                format!("{{{}/{}", t.to_rfc3339(), size)
            );
            let fields = PickFields {
                id: "i",
                name: "n",
                revision: Some(Revision::Modified(t, size)),
                size: Some(size),
                mime_type: None,
            };
            prop_assert_eq!(fields.encode(), encode_with_serde(&fields));
        }
    }
}
