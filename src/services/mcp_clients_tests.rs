//! Redirect URIs, client metadata and metadata documents, checked without a network; the
//! fetch through the SSRF guard is tested end to end in `tests/api/mcp_oauth.rs`.

use super::*;

#[test]
fn redirect_uris_are_https_loopback_http_or_an_apps_own_scheme() {
    for good in [
        "https://assistant.example.com/oauth/callback",
        "http://127.0.0.1:33418/callback",
        "http://localhost:6274/oauth/callback",
        "http://[::1]/cb",
        "com.example.assistant:/oauth2redirect",
    ] {
        assert!(check_redirect_uri(good).is_ok(), "{good}");
    }
    for bad in [
        "http://assistant.example.com/callback",
        "http://10.0.0.5/cb",
        "https://assistant.example.com/cb#frag",
        "https://user:pw@assistant.example.com/cb",
        "javascript:alert(1)",
        "data:text/html,hi",
        "file:///etc/passwd",
        "myapp:/cb",
        "/relative/callback",
    ] {
        assert!(check_redirect_uri(bad).is_err(), "{bad}");
    }
}

#[test]
fn a_loopback_redirect_may_come_back_on_another_port_and_nothing_else_may() {
    let registered = vec![
        "http://127.0.0.1:5000/callback".to_owned(),
        "https://app.example.com/cb".to_owned(),
    ];
    assert!(redirect_uri_allowed(
        &registered,
        "http://127.0.0.1:5000/callback"
    ));
    assert!(redirect_uri_allowed(
        &registered,
        "http://127.0.0.1:61234/callback"
    ));
    assert!(!redirect_uri_allowed(
        &registered,
        "http://127.0.0.1:61234/other"
    ));
    assert!(!redirect_uri_allowed(
        &registered,
        "http://localhost:5000/callback"
    ));
    assert!(!redirect_uri_allowed(
        &registered,
        "https://app.example.com/cb/"
    ));
    assert!(!redirect_uri_allowed(
        &registered,
        "https://app.example.com:8443/cb"
    ));
    assert!(!redirect_uri_allowed(
        &registered,
        "https://evil.example/cb"
    ));
}

#[test]
fn redirect_destinations_are_said_in_words_a_person_can_check() {
    assert_eq!(
        redirect_destination("https://claude.ai/api/mcp/auth_callback"),
        "claude.ai"
    );
    assert_eq!(
        redirect_destination("https://app.example.com:8443/cb"),
        "app.example.com:8443"
    );
    assert_eq!(
        redirect_destination("http://127.0.0.1:5000/cb"),
        "an app on this computer"
    );
    assert_eq!(
        redirect_destination("com.example.app:/cb"),
        "the app com.example.app"
    );
}

fn meta(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

#[test]
fn metadata_of_public_clients_is_accepted_as_the_python_client_sends_it() {
    let valid = check_metadata(&meta(json!({
        "redirect_uris": ["http://localhost:3030/callback"],
        "token_endpoint_auth_method": "none",
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "client_name": "  My\u{7}  Assistant ",
        "application_type": "native",
        "scope": "mcp:read",
    })));
    assert_eq!(
        valid,
        Ok(ValidMetadata {
            name: Some("My Assistant".into()),
            redirect_uris: vec!["http://localhost:3030/callback".into()],
        })
    );
}

#[test]
fn metadata_outside_what_this_server_offers_is_refused_with_the_rfc_7591_error() {
    let error = |v: Value| check_metadata(&meta(v)).err().map(|e| e.error);
    assert_eq!(error(json!({})), Some("invalid_redirect_uri"));
    assert_eq!(
        error(json!({"redirect_uris": ["http://evil.example/cb"]})),
        Some("invalid_redirect_uri")
    );
    assert_eq!(
        error(
            json!({"redirect_uris": ["https://a.example/cb"], "token_endpoint_auth_method": "client_secret_basic"})
        ),
        Some("invalid_client_metadata")
    );
    assert_eq!(
        error(
            json!({"redirect_uris": ["https://a.example/cb"], "grant_types": ["client_credentials"]})
        ),
        Some("invalid_client_metadata")
    );
    assert_eq!(
        error(json!({"redirect_uris": ["https://a.example/cb"], "response_types": ["token"]})),
        Some("invalid_client_metadata")
    );
    assert_eq!(
        error(
            json!({"redirect_uris": ["https://a.example/cb"], "logo_uri": "http://a.example/logo.png"})
        ),
        Some("invalid_client_metadata")
    );
    assert_eq!(
        error(json!({"redirect_uris": ["https://a.example/cb"], "client_name": 7})),
        Some("invalid_client_metadata")
    );
}

#[test]
fn document_urls_are_https_with_a_path_and_nothing_ambiguous() {
    let none = AllowList::none();
    assert!(check_document_url("https://assistant.example.com/client.json", &none, false).is_ok());
    for bad in [
        "http://assistant.example.com/client.json",
        "https://assistant.example.com",
        "https://assistant.example.com/",
        "https://assistant.example.com/a/../client.json",
        "https://assistant.example.com/client.json#x",
        "https://me@assistant.example.com/client.json",
    ] {
        assert!(check_document_url(bad, &none, false).is_err(), "{bad}");
    }
    // Plain http only in tests, and only to a host the operator allowed.
    let loopback = AllowList::parse(&["127.0.0.1"]).expect("a valid allow list");
    assert!(check_document_url("http://127.0.0.1:9/client.json", &loopback, true).is_ok());
    assert!(check_document_url("http://127.0.0.1:9/client.json", &loopback, false).is_err());
    assert!(check_document_url("http://127.0.0.2:9/client.json", &loopback, true).is_err());
}

#[test]
fn a_document_must_name_the_url_it_was_fetched_from_and_hold_no_secret() {
    let url = "https://assistant.example.com/client.json";
    let doc = |v: Value| parse_document(url, v.to_string().as_bytes());
    let good = doc(json!({
        "client_id": url,
        "client_name": "Example Assistant",
        "redirect_uris": ["https://assistant.example.com/callback"],
    }))
    .expect("a valid document");
    assert_eq!(good.name, "Example Assistant");
    assert_eq!(
        good.redirect_uris,
        ["https://assistant.example.com/callback"]
    );
    let unnamed =
        doc(json!({"client_id": url, "redirect_uris": ["https://assistant.example.com/cb"]}));
    assert_eq!(unnamed.map(|d| d.name), Ok("assistant.example.com".into()));
    assert!(doc(json!({"client_id": "https://other.example/client.json", "redirect_uris": ["https://a.example/cb"]})).is_err());
    assert!(doc(json!({"client_id": url, "client_secret": "s", "redirect_uris": ["https://a.example/cb"]})).is_err());
    assert!(doc(json!({"client_id": url})).is_err());
    assert!(parse_document(url, b"not json").is_err());
}
