//! Tests of `cloud_import.rs`.

use super::*;

/// A trail as the links carry it: URL-safe base64 of the JSON `[["id","name"],…]`.
fn encode_trail(trail: &[Breadcrumb]) -> String {
    let pairs: Vec<(&str, &str)> = trail
        .iter()
        .map(|c| (c.id.as_str(), c.name.as_str()))
        .collect();
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&pairs).expect("strings are JSON"))
}

fn crumb(id: &str, name: &str) -> Breadcrumb {
    Breadcrumb {
        id: id.into(),
        name: name.into(),
    }
}

/// A folder's link, written from the page's shared prefix, is the link `browse_url` makes
/// with the whole path encoded, and it reads back as that path.
#[test]
fn folder_links_are_browse_urls_with_the_path_down_to_the_folder() {
    let odd = "x/y?&=+ %\"\\\u{7}é😀<b>";
    let trails = [
        vec![],
        vec![crumb("root", "My Drive")],
        vec![
            crumb("shared-drives", "Shared drives"),
            crumb("drive:0AF", odd),
            crumb(odd, "Ünïcode & <b>"),
        ],
    ];
    for trail in &trails {
        let links = FolderLinks::new(3, 9, trail);
        for (id, name) in [("1aB-_c", "Notes"), (odd, odd), ("", "")] {
            let mut path = trail.clone();
            path.push(crumb(id, name));
            let expected = browse_url(
                3,
                9,
                &BrowseQuery {
                    folder: Some(id.to_owned()),
                    trail: Some(encode_trail(&path)),
                    ..Default::default()
                },
            );
            let link = links.open(id, name);
            assert_eq!(link, expected);
            let query = link.split_once('?').expect("a query").1;
            let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
                .into_owned()
                .collect();
            assert_eq!(pairs[0], ("folder".to_owned(), id.to_owned()));
            assert_eq!(pairs[1].0, "trail");
            assert_eq!(decode_trail(&pairs[1].1), path);
        }
    }
}

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
