//! `ConnectorSettings`: a connector's effective configuration — admin overrides over the
//! spec's defaults — handed to every action through the `ActionContext`.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use url::Url;

use super::error::ConnectorError;
use super::redact::{REDACTED, is_secret_key};
use super::spec::{ConfigKey, ConnectorSpec, keys};

/// What a default (or an override) writes to stand for the effective `API_BASE_URL`.
pub const API_BASE_URL_PLACEHOLDER: &str = "{API_BASE_URL}";

/// Effective configuration of one connector. Read-only once resolved, and shared: a clone
/// (one per action call, from the app's cache) copies two pointers, not the map.
#[derive(Clone, Default)]
pub struct ConnectorSettings {
    slug: &'static str,
    keys: &'static [ConfigKey],
    values: Arc<HashMap<String, String>>,
}

impl ConnectorSettings {
    /// Resolves settings from the spec's defaults and the admin's overrides (empty or
    /// whitespace-only overrides count as unset). Overrides for undeclared keys are kept.
    pub fn new(spec: &ConnectorSpec, overrides: HashMap<String, String>) -> Self {
        let mut values: HashMap<String, String> = overrides
            .into_iter()
            .filter_map(|(key, value)| {
                let value = value.trim();
                (!value.is_empty()).then(|| (key, value.to_owned()))
            })
            .collect();
        let standard = [
            keys::AUTH_URL,
            keys::TOKEN_URL,
            keys::REVOKE_URL,
            keys::SCOPES,
        ];
        let declared = spec.config_keys.iter().map(|k| k.key);
        for key in declared.chain(standard) {
            if !values.contains_key(key)
                && let Some(default) = spec.config_default(key)
            {
                values.insert(key.to_owned(), default.into_owned());
            }
        }
        expand_api_base_url(&mut values);
        Self {
            slug: spec.slug,
            keys: spec.config_keys,
            values: Arc::new(values),
        }
    }

    /// The slug of the connector these settings belong to.
    pub fn slug(&self) -> &'static str {
        self.slug
    }

    /// The effective value of `key`: the admin's override, else the default.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.values.get(key).map(String::as_str)
    }

    /// The effective value of `key`, or `Misconfigured` naming the key.
    pub fn require(&self, key: &str) -> Result<&str, ConnectorError> {
        self.get(key).ok_or_else(|| {
            ConnectorError::misconfigured(format!(
                "`{key}` is not set for connector `{}`",
                self.slug
            ))
        })
    }

    /// `key` parsed as an absolute URL of an upstream service, or `Misconfigured`: it must
    /// be `https`, or plain `http` to this machine only ([`is_secure_upstream`]), since a
    /// connector sends tokens and credentials to it. This also stops a value stored before
    /// the rule existed.
    pub fn url(&self, key: &str) -> Result<Url, ConnectorError> {
        let raw = self.require(key)?;
        let url = Url::parse(raw).map_err(|e| {
            ConnectorError::misconfigured(format!(
                "`{key}` of connector `{}` is not a URL: {e}",
                self.slug
            ))
        })?;
        if !is_secure_upstream(&url) {
            return Err(ConnectorError::misconfigured(format!(
                "`{key}` of connector `{}` must be an https:// URL (plain http only to this \
                 machine)",
                self.slug
            )));
        }
        Ok(url)
    }

    /// `API_BASE_URL` as a string without trailing slash, ready for `format!("{base}/path")`.
    pub fn api_base_url(&self) -> Result<String, ConnectorError> {
        let url = self.url(keys::API_BASE_URL)?;
        Ok(url.as_str().trim_end_matches('/').to_owned())
    }

    /// Required keys without a value, in declaration order.
    pub fn missing_required(&self) -> Vec<&'static str> {
        self.keys
            .iter()
            .filter(|k| k.required && self.get(k.key).is_none())
            .map(|k| k.key)
            .collect()
    }

    /// `SCOPES`, split on spaces (commas are accepted too).
    pub fn scopes(&self) -> Vec<String> {
        split_list(self.get(keys::SCOPES), |c: char| {
            c.is_whitespace() || c == ','
        })
    }

    /// `ALLOWED_HOSTS`, split on commas (spaces are accepted too).
    pub fn allowed_hosts(&self) -> Vec<String> {
        split_list(self.get(keys::ALLOWED_HOSTS), |c: char| {
            c.is_whitespace() || c == ','
        })
    }

    fn is_secret(&self, key: &str) -> bool {
        self.keys.iter().any(|k| k.key == key && k.secret) || is_secret_key(key, &[])
    }
}

/// Whether `url` may be an upstream service's address (an `API_BASE_URL`, an OAuth
/// endpoint): `https`, or plain `http` to a loopback address or `localhost` — development
/// servers and the test suite's fakes. Anything else would carry tokens and credentials in
/// clear over the network.
pub fn is_secure_upstream(url: &Url) -> bool {
    match url.scheme() {
        "https" => url.host().is_some(),
        "http" => match url.host() {
            Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            None => false,
        },
        _ => false,
    }
}

/// Replaces [`API_BASE_URL_PLACEHOLDER`] in every value with the effective `API_BASE_URL`
/// (without trailing slash), for services whose sign-in lives on each institution's own
/// host (Canvas: `{API_BASE_URL}/login/oauth2/auth`). A value that names the placeholder
/// while `API_BASE_URL` is unset is dropped, so it reads as missing rather than as a URL
/// that cannot work.
fn expand_api_base_url(values: &mut HashMap<String, String>) {
    let base = values
        .get(keys::API_BASE_URL)
        .filter(|base| !base.contains(API_BASE_URL_PLACEHOLDER))
        .map(|base| base.trim_end_matches('/').to_owned());
    values.retain(|_, value| {
        if !value.contains(API_BASE_URL_PLACEHOLDER) {
            return true;
        }
        match &base {
            Some(base) => {
                *value = value.replace(API_BASE_URL_PLACEHOLDER, base);
                true
            }
            None => false,
        }
    });
}

fn split_list(value: Option<&str>, separator: impl Fn(char) -> bool) -> Vec<String> {
    value
        .unwrap_or_default()
        .split(separator)
        .filter(|part| !part.is_empty())
        .map(str::to_owned)
        .collect()
}

impl fmt::Debug for ConnectorSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut sorted: Vec<_> = self.values.iter().collect();
        sorted.sort();
        let mut map = f.debug_map();
        for (key, value) in sorted {
            if self.is_secret(key) {
                map.entry(key, &REDACTED);
            } else {
                map.entry(key, value);
            }
        }
        map.finish()?;
        write!(f, " ({})", self.slug)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sdk::spec::{AuthScoping, ConnectorKind, OAuthDescriptor};

    const OAUTH: OAuthDescriptor = OAuthDescriptor {
        auth_url: "https://login.example.edu/authorize",
        token_url: "https://login.example.edu/token",
        revoke_url: Some("https://login.example.edu/revoke"),
        scopes: &["openid", "files.read"],
        pkce: true,
        extra_auth_params: &[],
        client_auth: crate::ClientAuth::Basic,
        revocation: crate::Revocation::Rfc7009,
    };

    static SPEC: ConnectorSpec = ConnectorSpec {
        slug: "example",
        name: "Example",
        description: "Example.",
        icon: "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 24 24\"><circle cx=\"12\" cy=\"12\" r=\"9\"/></svg>",
        kind: ConnectorKind::OAuth2,
        scoping: AuthScoping::Upstream,
        version: "1",
        oauth: Some(OAUTH),
        form: &[],
        config_keys: &crate::oauth_config_keys!(OAUTH, "https://api.example.edu/"),
    };

    fn overrides(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn defaults_come_from_config_keys_and_the_oauth_descriptor() {
        let settings = ConnectorSettings::new(&SPEC, HashMap::new());
        assert_eq!(settings.get("AUTH_URL"), Some(OAUTH.auth_url));
        assert_eq!(settings.get("REVOKE_URL"), OAUTH.revoke_url);
        assert_eq!(settings.scopes(), ["openid", "files.read"]);
        assert_eq!(
            settings.api_base_url().ok().as_deref(),
            Some("https://api.example.edu")
        );
        assert_eq!(settings.get("CLIENT_ID"), None);
    }

    #[test]
    fn overrides_win_unless_they_are_blank() {
        let settings = ConnectorSettings::new(
            &SPEC,
            overrides(&[
                ("TOKEN_URL", "http://127.0.0.1:4000/token"),
                ("AUTH_URL", "  "),
                ("SCOPES", "a, b c"),
            ]),
        );
        assert_eq!(
            settings.get("TOKEN_URL"),
            Some("http://127.0.0.1:4000/token")
        );
        assert_eq!(settings.get("AUTH_URL"), Some(OAUTH.auth_url));
        assert_eq!(settings.scopes(), ["a", "b", "c"]);
    }

    #[test]
    fn an_api_base_url_in_clear_to_another_host_is_refused_when_used() {
        for (base, ok) in [
            ("https://api.example.edu", true),
            ("http://127.0.0.1:9000", true),
            ("http://localhost:9000", true),
            ("http://[::1]:9000", true),
            ("http://api.example.edu", false),
            ("http://10.0.0.5", false),
            ("http://169.254.169.254/latest", false),
            ("ftp://api.example.edu", false),
            ("file:///etc/passwd", false),
        ] {
            let settings = ConnectorSettings::new(&SPEC, overrides(&[("API_BASE_URL", base)]));
            let result = settings.url("API_BASE_URL");
            assert_eq!(result.is_ok(), ok, "{base}: {result:?}");
            if !ok {
                assert!(
                    matches!(&result, Err(ConnectorError::Misconfigured { message }) if message.contains("https://")),
                    "{base}: {result:?}"
                );
                assert!(settings.api_base_url().is_err(), "{base}");
            }
        }
    }

    #[test]
    fn missing_required_lists_unset_required_keys_in_order() {
        let settings = ConnectorSettings::new(&SPEC, HashMap::new());
        assert_eq!(settings.missing_required(), ["CLIENT_ID", "CLIENT_SECRET"]);
        let settings = ConnectorSettings::new(
            &SPEC,
            overrides(&[("CLIENT_ID", "id"), ("CLIENT_SECRET", "s")]),
        );
        assert!(settings.missing_required().is_empty());
        assert!(matches!(
            ConnectorSettings::new(&SPEC, HashMap::new()).require("CLIENT_ID"),
            Err(ConnectorError::Misconfigured { message }) if message.contains("CLIENT_ID")
        ));
    }

    #[test]
    fn debug_output_redacts_secret_keys() {
        let settings = ConnectorSettings::new(
            &SPEC,
            overrides(&[
                ("CLIENT_SECRET", "s3cr3t-value"),
                ("CLIENT_ID", "visible-id"),
                ("X_API_TOKEN", "tok-value"),
            ]),
        );
        let shown = format!("{settings:?}");
        assert!(shown.contains("visible-id"));
        assert!(!shown.contains("s3cr3t-value"));
        assert!(!shown.contains("tok-value"));
        assert!(shown.contains(REDACTED));
    }

    #[test]
    fn defaults_on_the_institution_host_follow_api_base_url() {
        const INSTANCE: OAuthDescriptor = OAuthDescriptor {
            auth_url: "{API_BASE_URL}/login/oauth2/auth",
            token_url: "{API_BASE_URL}/login/oauth2/token",
            revoke_url: Some("{API_BASE_URL}/login/oauth2/token"),
            ..OAUTH
        };
        static PER_INSTANCE: ConnectorSpec = ConnectorSpec {
            oauth: Some(INSTANCE),
            config_keys: &[ConfigKey::new(keys::API_BASE_URL, "URL", "Instance.").required()],
            ..SPEC
        };
        let settings = ConnectorSettings::new(
            &PER_INSTANCE,
            overrides(&[("API_BASE_URL", "https://canvas.example.edu/")]),
        );
        assert_eq!(
            settings.get("AUTH_URL"),
            Some("https://canvas.example.edu/login/oauth2/auth")
        );
        assert_eq!(
            settings.get("REVOKE_URL"),
            Some("https://canvas.example.edu/login/oauth2/token")
        );
        let overridden = ConnectorSettings::new(
            &PER_INSTANCE,
            overrides(&[
                ("API_BASE_URL", "http://127.0.0.1:9000"),
                ("TOKEN_URL", "https://sso.example.edu/token"),
            ]),
        );
        assert_eq!(
            overridden.get("TOKEN_URL"),
            Some("https://sso.example.edu/token")
        );
        assert_eq!(
            overridden.get("AUTH_URL"),
            Some("http://127.0.0.1:9000/login/oauth2/auth")
        );
        let unset = ConnectorSettings::new(&PER_INSTANCE, HashMap::new());
        assert_eq!(unset.get("AUTH_URL"), None);
        assert_eq!(unset.missing_required(), ["API_BASE_URL"]);
    }

    #[test]
    fn bad_urls_are_reported_as_misconfiguration() {
        let settings = ConnectorSettings::new(&SPEC, overrides(&[("API_BASE_URL", "not a url")]));
        assert!(matches!(
            settings.api_base_url(),
            Err(ConnectorError::Misconfigured { .. })
        ));
    }
}
