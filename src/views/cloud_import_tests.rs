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
