//! Tests of `cloud_import.rs`.

use super::*;

#[test]
fn trails_round_trip_and_junk_gives_an_empty_path() {
    let trail = vec![
        Breadcrumb {
            id: "root".into(),
            name: "My Drive".into(),
        },
        Breadcrumb {
            id: "x/y?&".into(),
            name: "Ünïcode & <b>".into(),
        },
    ];
    assert_eq!(decode_trail(&encode_trail(&trail)), trail);
    assert!(decode_trail("%%%").is_empty());
}

#[test]
fn browse_links_encode_every_parameter() {
    let url = browse_url(
        3,
        9,
        &BrowseQuery {
            folder: Some("a b&c".into()),
            q: None,
            trail: None,
            page_token: Some("t=1".into()),
        },
    );
    assert_eq!(
        url,
        "/api/htmx/knowledge-folders/3/cloud-import/9/browse/?folder=a+b%26c&page_token=t%3D1"
    );
}

#[test]
fn modification_times_read_as_the_strftime_pattern_did() {
    use chrono::TimeZone;
    for t in [
        chrono::Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5),
        chrono::Utc.with_ymd_and_hms(2026, 12, 31, 23, 59, 59),
        chrono::Utc.with_ymd_and_hms(999, 7, 8, 0, 0, 0),
        chrono::Utc.with_ymd_and_hms(10_000, 1, 1, 10, 9, 0),
        chrono::Utc.with_ymd_and_hms(-5, 6, 7, 8, 9, 10),
    ] {
        let t = t.single().expect("a valid time");
        assert_eq!(
            Minute(t).to_string(),
            t.format("%Y-%m-%d %H:%M").to_string()
        );
    }
}

#[test]
fn a_pick_needs_no_html_escaping_whatever_the_file_is_called() {
    let pick = Pick {
        id: "<id>\"&'".into(),
        name: "<script>alert(\"x\")</script> & 'más'.pdf".into(),
        revision: Some("r<1>".into()),
        size: Some(12),
        mime_type: Some("text/html; a=\"b\"".into()),
    };
    let value = pick.encode();
    assert!(
        value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
        "{value}"
    );
    assert_eq!(Pick::decode(&value), Some(pick));
}
