//! Redaction of secrets in JSON values before they reach a log line or an audit row.
//!
//! A key is secret when the caller names it (e.g. the connector's password form fields) or
//! when its name looks secret: it contains `password`, `secret`, `token`, `api_key`,
//! `apikey`, `authorization`, `credential` or `private_key` (case-insensitive).

use serde_json::{Map, Value};

/// The replacement for a redacted value.
pub const REDACTED: &str = "[redacted]";

/// Key fragments that mark a value as secret.
const SECRET_KEY_FRAGMENTS: &[&str] = &[
    "password",
    "secret",
    "token",
    "api_key",
    "apikey",
    "authorization",
    "credential",
    "private_key",
];

/// Whether a value stored under `key` must not be shown.
pub fn is_secret_key(key: &str, secret_fields: &[&str]) -> bool {
    if secret_fields.contains(&key) {
        return true;
    }
    let lower = key.to_ascii_lowercase();
    SECRET_KEY_FRAGMENTS
        .iter()
        .any(|fragment| lower.contains(fragment))
}

/// A copy of `value` in which every value under a secret key, at any depth, is
/// replaced by `"[redacted]"`.
pub fn redact_params(value: &Value, secret_fields: &[&str]) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(key, inner)| {
                    let shown = if is_secret_key(key, secret_fields) {
                        Value::String(REDACTED.to_owned())
                    } else {
                        redact_params(inner, secret_fields)
                    };
                    (key.clone(), shown)
                })
                .collect::<Map<_, _>>(),
        ),
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|item| redact_params(item, secret_fields))
                .collect(),
        ),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn redacts_keys_that_look_secret_at_any_depth() {
        let params = json!({
            "host": "db.campus.edu",
            "Password": "hunter2",
            "nested": {"refresh_token": "r", "items": [{"API_KEY": "k", "name": "n"}]},
            "Authorization": "Bearer abc",
            "client_secret": {"even": "objects"},
            "privateKey": "not matched: no underscore",
            "private_key_pem": "pem",
            "db_credentials": "c",
        });
        let shown = redact_params(&params, &[]);
        assert_eq!(
            shown,
            json!({
                "host": "db.campus.edu",
                "Password": REDACTED,
                "nested": {"refresh_token": REDACTED, "items": [{"API_KEY": REDACTED, "name": "n"}]},
                "Authorization": REDACTED,
                "client_secret": REDACTED,
                "privateKey": "not matched: no underscore",
                "private_key_pem": REDACTED,
                "db_credentials": REDACTED,
            })
        );
    }

    #[test]
    fn redacts_fields_the_caller_names() {
        let params = json!({"pin": "1234", "user": "alice"});
        assert_eq!(
            redact_params(&params, &["pin"]),
            json!({"pin": REDACTED, "user": "alice"})
        );
    }

    #[test]
    fn leaves_scalars_and_harmless_values_alone() {
        assert_eq!(redact_params(&json!("token"), &[]), json!("token"));
        assert_eq!(
            redact_params(&json!([1, {"sql": "select 1"}]), &[]),
            json!([1, {"sql": "select 1"}])
        );
    }
}
