//! Tests of `oauth.rs`.

use super::*;

fn tokens(refresh: Option<&str>, expires_in: Option<u64>) -> TokenSet {
    TokenSet {
        access_token: "at-2".into(),
        refresh_token: refresh.map(str::to_owned),
        token_type: "Bearer".into(),
        expires_in: expires_in.map(Duration::from_secs),
        scopes: Some(vec!["openid".into(), "email".into()]),
        obtained_at: Utc::now(),
    }
}

#[test]
fn only_https_or_loopback_endpoints_may_carry_tokens() {
    let ok = |u: &str| secure_endpoint(&url::Url::parse(u).expect("url"));
    assert!(ok("https://login.example.edu/token"));
    assert!(ok("http://127.0.0.1:4000/token"));
    assert!(ok("http://localhost/token"));
    assert!(ok("http://[::1]:8080/token"));
    assert!(!ok("http://login.example.edu/token"));
    assert!(!ok("http://10.0.0.5/token"));
    assert!(!ok("ftp://127.0.0.1/token"));
}

#[test]
fn a_refresh_without_rotation_keeps_the_old_refresh_token() {
    let previous = json!({"access_token": "at-1", "refresh_token": "rt-1", "extra": 1});
    let merged = tokens(None, Some(3600)).merge_into(Some(&previous));
    assert_eq!(merged["access_token"], "at-2");
    assert_eq!(merged["refresh_token"], "rt-1");
    assert_eq!(merged["extra"], 1);
    assert_eq!(merged["expires_in"], 3600);
    assert_eq!(merged["scope"], "openid email");
    assert!(merged["expires_at"].is_string());
}

#[test]
fn a_rotated_refresh_token_replaces_the_old_one_and_a_missing_expiry_is_cleared() {
    let previous =
        json!({"refresh_token": "rt-1", "expires_at": "2020-01-01T00:00:00Z", "expires_in": 60});
    let merged = tokens(Some("rt-2"), None).merge_into(Some(&previous));
    assert_eq!(merged["refresh_token"], "rt-2");
    assert!(merged.get("expires_at").is_none());
    assert!(merged.get("expires_in").is_none());
}

#[test]
fn token_errors_become_reconnect_retry_or_configuration_decisions() {
    use campuscore_connectors::ConnectorError as E;
    let reconnect = TokenError::InvalidGrant("expired".into()).into_connector_error();
    assert!(matches!(reconnect, E::AuthExpired { .. }));
    let limited: TokenError = TransportError::Status {
        status: 429,
        retry_after: None,
    }
    .into();
    assert!(matches!(
        limited.into_connector_error(),
        E::RateLimited { retry_after: Some(d), .. } if d == Duration::from_secs(30)
    ));
    let outage: TokenError = TransportError::Status {
        status: 503,
        retry_after: None,
    }
    .into();
    assert!(matches!(outage.into_connector_error(), E::Transport { .. }));
    let client = TokenError::Rejected {
        code: "invalid_client".into(),
        description: String::new(),
    };
    assert!(matches!(
        client.into_connector_error(),
        E::Misconfigured { .. }
    ));
}

#[test]
fn an_expires_in_too_large_to_be_a_date_is_no_expiry_not_a_panic() {
    assert!(tokens(None, Some(u64::MAX)).expires_at().is_none());
    assert!(tokens(None, Some(10_u64.pow(15))).expires_at().is_none());
    let hour = tokens(None, Some(3600)).expires_at().expect("an expiry");
    assert!((hour - Utc::now()).num_seconds() > 3590);
    let merged = tokens(None, Some(10_u64.pow(15))).merge_into(None);
    assert!(merged.get("expires_at").is_none(), "{merged}");
}
