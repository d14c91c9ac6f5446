//! Property tests of what the app reads from a token endpoint: any JSON a provider sends
//! either fails to parse as a token response or becomes a [`TokenSet`] whose stored form
//! never panics, keeps the tokens it was given, keeps the old refresh token when the
//! provider did not rotate it, and has an expiry only when `expires_in` is a time.

use oauth2::basic::BasicTokenResponse;
use proptest::prelude::*;
use serde_json::{Value, json};

use super::TokenSet;

fn token() -> impl Strategy<Value = String> {
    "[ -~]{1,40}"
}

fn expires_in() -> impl Strategy<Value = Option<Value>> {
    prop_oneof![
        Just(None),
        any::<u64>().prop_map(|n| Some(json!(n))),
        any::<i64>().prop_map(|n| Some(json!(n))),
        any::<f64>().prop_map(|f| Some(json!(f))),
        "\\PC{0,10}".prop_map(|s| Some(json!(s))),
    ]
}

fn response() -> impl Strategy<Value = Value> {
    (
        prop::option::of(token()),
        prop::sample::select(vec!["Bearer", "bearer", "BEARER", "mac", ""]),
        expires_in(),
        prop::option::of(token()),
        prop::option::of("[a-z:/. ]{0,40}"),
    )
        .prop_map(|(access, token_type, expires, refresh, scope)| {
            let mut body = serde_json::Map::new();
            if let Some(access) = access {
                body.insert("access_token".into(), json!(access));
            }
            body.insert("token_type".into(), json!(token_type));
            if let Some(expires) = expires {
                body.insert("expires_in".into(), expires);
            }
            if let Some(refresh) = refresh {
                body.insert("refresh_token".into(), json!(refresh));
            }
            if let Some(scope) = scope {
                body.insert("scope".into(), json!(scope));
            }
            Value::Object(body)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_token_response_is_stored_without_panicking_and_keeps_what_it_was_given(
        body in response(),
        previous_refresh in prop::option::of(token()),
    ) {
        let Ok(parsed) = serde_json::from_value::<BasicTokenResponse>(body.clone()) else {
            // Refused whole (no access token, a token type or expiry of the wrong kind).
            return Ok(());
        };
        let set = TokenSet::from_response(parsed);
        prop_assert_eq!(Some(set.access_token.as_str()), body["access_token"].as_str());
        let previous = previous_refresh
            .as_ref()
            .map(|r| json!({"access_token": "old", "refresh_token": r, "expires_at": "x"}));
        let stored = set.merge_into(previous.as_ref());
        prop_assert_eq!(&stored["access_token"], &body["access_token"]);
        let expected_refresh = body
            .get("refresh_token")
            .cloned()
            .or_else(|| previous_refresh.map(Value::from))
            .unwrap_or(Value::Null);
        prop_assert_eq!(&stored["refresh_token"], &expected_refresh);
        match set.expires_at() {
            Some(at) => {
                prop_assert!(at >= set.obtained_at);
                let written = at.to_rfc3339();
                prop_assert_eq!(stored["expires_at"].as_str(), Some(written.as_str()));
            }
            None => prop_assert!(stored.get("expires_at").is_none(), "{}", stored),
        }
    }

    #[test]
    fn any_bytes_from_a_token_endpoint_are_refused_or_read_without_panicking(
        bytes in proptest::collection::vec(any::<u8>(), 0..200),
    ) {
        if let Ok(parsed) = serde_json::from_slice::<BasicTokenResponse>(&bytes) {
            let set = TokenSet::from_response(parsed);
            let _ = set.merge_into(None);
        }
    }
}
