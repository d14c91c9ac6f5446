//! The static description of a connector: `ConnectorSpec` and the pieces it is made of
//! (kind, authorization scoping, OAuth descriptor, manual credential form, config keys).
//!
//! A spec is a `const`: plain data with `&'static` references, so the catalog, the admin
//! pages and the registry checks can read it without running connector code.

use std::borrow::Cow;

use serde::Serialize;

/// The standard connector config key names, the same for every connector.
pub mod keys {
    /// OAuth client id.
    pub const CLIENT_ID: &str = "CLIENT_ID";
    /// OAuth client secret (secret).
    pub const CLIENT_SECRET: &str = "CLIENT_SECRET";
    /// OAuth authorization endpoint.
    pub const AUTH_URL: &str = "AUTH_URL";
    /// OAuth token endpoint.
    pub const TOKEN_URL: &str = "TOKEN_URL";
    /// OAuth token revocation endpoint.
    pub const REVOKE_URL: &str = "REVOKE_URL";
    /// Base URL of the service's API; tests point it at a fake upstream.
    pub const API_BASE_URL: &str = "API_BASE_URL";
    /// Space-separated OAuth scopes.
    pub const SCOPES: &str = "SCOPES";
    /// Comma-separated hosts or CIDRs exempt from the SSRF block.
    pub const ALLOWED_HOSTS: &str = "ALLOWED_HOSTS";
}

/// How a user connects: through an OAuth 2.0 consent screen or by typing credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
pub enum ConnectorKind {
    /// OAuth 2.0 authorization code flow.
    #[serde(rename = "oauth2")]
    OAuth2,
    /// A form of credentials (host, user, password, API key…).
    #[serde(rename = "manual")]
    Manual,
}

impl ConnectorKind {
    /// `"oauth2"` or `"manual"`, as stored in the catalog.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OAuth2 => "oauth2",
            Self::Manual => "manual",
        }
    }
}

/// Who enforces per-user access to the data behind a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthScoping {
    /// The provider enforces per-user access (each user signs in upstream).
    Upstream,
    /// Each user brings their own credentials.
    UserSupplied,
    /// One shared institutional credential: the app must scope access per user itself.
    InstitutionWide,
}

impl AuthScoping {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Upstream => "upstream",
            Self::UserSupplied => "user_supplied",
            Self::InstitutionWide => "institution_wide",
        }
    }
}

/// Default OAuth 2.0 endpoints and parameters; every URL is overridable by config keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct OAuthDescriptor {
    /// Authorization endpoint (default of `AUTH_URL`).
    pub auth_url: &'static str,
    /// Token endpoint (default of `TOKEN_URL`).
    pub token_url: &'static str,
    /// Revocation endpoint, if the provider has one (default of `REVOKE_URL`).
    pub revoke_url: Option<&'static str>,
    /// Default scopes (default of `SCOPES`, joined with spaces).
    pub scopes: &'static [&'static str],
    /// Whether to use PKCE (S256).
    pub pkce: bool,
    /// Extra query parameters for the authorization URL (e.g. `access_type=offline`).
    pub extra_auth_params: &'static [(&'static str, &'static str)],
    /// How the client authenticates at the token endpoint.
    pub client_auth: ClientAuth,
    /// How a grant is ended when the user disconnects.
    pub revocation: Revocation,
}

/// How the app sends its client id and secret to the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientAuth {
    /// HTTP Basic (RFC 6749 §2.3.1, the default every provider must accept).
    Basic,
    /// `client_id` and `client_secret` in the form body, for providers that document only
    /// that (Canvas).
    RequestBody,
}

/// How the app asks the provider to end a grant when a user disconnects (at `REVOKE_URL`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Revocation {
    /// RFC 7009: the refresh token (else the access token) is POSTed with its
    /// `token_type_hint`.
    Rfc7009,
    /// `DELETE REVOKE_URL` with a live access token as the bearer (Canvas), which ends the
    /// access token and its refresh token together. The app first trades the refresh token
    /// for a fresh access token, so an expired one still ends the grant.
    BearerDelete,
}

/// The input widget and parsing rule of a manual credential form field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "type", content = "options", rename_all = "snake_case")]
pub enum FieldKind {
    /// Free text (trimmed).
    Text,
    /// Secret text: never echoed back, redacted in logs.
    Password,
    /// An integer or decimal number.
    Number,
    /// An `http(s)` URL.
    Url,
    /// One of a fixed list of `(value, label)` options.
    Select(&'static [(&'static str, &'static str)]),
    /// A boolean checkbox.
    Checkbox,
}

impl FieldKind {
    /// The snake_case kind name (`"text"`, `"password"`, `"select"`…).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::Password => "password",
            Self::Number => "number",
            Self::Url => "url",
            Self::Select(_) => "select",
            Self::Checkbox => "checkbox",
        }
    }

    /// Whether values of this kind are secrets.
    pub fn is_secret(self) -> bool {
        matches!(self, Self::Password)
    }
}

/// One field of a manual connector's credential form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct FormField {
    /// Field name, also the key in the submitted JSON and in the stored credentials.
    pub name: &'static str,
    /// Label shown next to the input.
    pub label: &'static str,
    /// Help text under the input.
    pub help: &'static str,
    /// Widget and parsing rule.
    pub kind: FieldKind,
    /// Whether the field must be filled in.
    pub required: bool,
    /// Value used when the field is left empty.
    pub default: Option<&'static str>,
    /// Placeholder shown in the empty input.
    pub placeholder: Option<&'static str>,
}

/// A connector configuration key an admin can set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ConfigKey {
    /// Key name (`CLIENT_ID`, `API_BASE_URL`, …).
    pub key: &'static str,
    /// Label on the admin page.
    pub label: &'static str,
    /// Help text on the admin page.
    pub help: &'static str,
    /// Whether the value is stored encrypted and masked on display.
    pub secret: bool,
    /// Whether the connector cannot work until the key has a value.
    pub required: bool,
    /// Value used when the admin sets none.
    pub default: Option<&'static str>,
}

impl ConfigKey {
    /// A plain, optional key without default.
    pub const fn new(key: &'static str, label: &'static str, help: &'static str) -> Self {
        Self {
            key,
            label,
            help,
            secret: false,
            required: false,
            default: None,
        }
    }

    /// Marks the key secret.
    pub const fn secret(mut self) -> Self {
        self.secret = true;
        self
    }

    /// Marks the key required.
    pub const fn required(mut self) -> Self {
        self.required = true;
        self
    }

    /// Sets the default value.
    pub const fn with_default(mut self, default: &'static str) -> Self {
        self.default = Some(default);
        self
    }

    /// Standard `CLIENT_ID` (required).
    pub const fn client_id() -> Self {
        Self::new(
            keys::CLIENT_ID,
            "Client ID",
            "OAuth client id registered with the provider.",
        )
        .required()
    }

    /// Standard `CLIENT_SECRET` (secret, required).
    pub const fn client_secret() -> Self {
        Self::new(keys::CLIENT_SECRET, "Client secret", "OAuth client secret.")
            .secret()
            .required()
    }

    /// Standard `API_BASE_URL` with the connector's default.
    pub const fn api_base_url(default: &'static str) -> Self {
        Self::new(
            keys::API_BASE_URL,
            "API base URL",
            "Base URL of the service API.",
        )
        .with_default(default)
    }

    /// Standard `ALLOWED_HOSTS`, for connectors that reach user-supplied hosts.
    pub const fn allowed_hosts() -> Self {
        Self::new(
            keys::ALLOWED_HOSTS,
            "Allowed private hosts",
            "Comma-separated hosts or CIDRs that may be reached even though they are private.",
        )
    }
}

/// The standard OAuth key list (`CLIENT_ID`, `CLIENT_SECRET`, `AUTH_URL`, `TOKEN_URL`,
/// `REVOKE_URL`, `SCOPES`, `API_BASE_URL`) with defaults taken from `oauth`.
///
/// `SCOPES` carries no `default` here (a const cannot join strings); settings and
/// [`ConnectorSpec::config_default`] fall back to the descriptor's scopes. To add
/// connector-specific keys, use [`oauth_config_keys!`](crate::oauth_config_keys).
pub const fn standard_oauth_keys(
    oauth: &OAuthDescriptor,
    api_base_url: &'static str,
) -> [ConfigKey; 7] {
    let auth = ConfigKey::new(
        keys::AUTH_URL,
        "Authorization URL",
        "OAuth authorization endpoint.",
    )
    .with_default(oauth.auth_url);
    let token = ConfigKey::new(keys::TOKEN_URL, "Token URL", "OAuth token endpoint.")
        .with_default(oauth.token_url);
    let mut revoke = ConfigKey::new(
        keys::REVOKE_URL,
        "Revocation URL",
        "OAuth revocation endpoint.",
    );
    revoke.default = oauth.revoke_url;
    let scopes = ConfigKey::new(keys::SCOPES, "Scopes", "Space-separated OAuth scopes.");
    [
        ConfigKey::client_id(),
        ConfigKey::client_secret(),
        auth,
        token,
        revoke,
        scopes,
        ConfigKey::api_base_url(api_base_url),
    ]
}

/// Builds a `[ConfigKey; N]` of the standard OAuth keys followed by extra keys, for
/// `ConnectorSpec::config_keys`:
///
/// ```
/// use campuscore_connectors::{ClientAuth, ConfigKey, OAuthDescriptor, Revocation, oauth_config_keys};
///
/// const OAUTH: OAuthDescriptor = OAuthDescriptor {
///     auth_url: "https://login.example.edu/authorize",
///     token_url: "https://login.example.edu/token",
///     revoke_url: None,
///     scopes: &["files.read"],
///     pkce: true,
///     extra_auth_params: &[("prompt", "consent")],
///     client_auth: ClientAuth::Basic,
///     revocation: Revocation::Rfc7009,
/// };
/// static KEYS: &[ConfigKey] = &oauth_config_keys!(
///     OAUTH,
///     "https://api.example.edu",
///     ConfigKey::new("TENANT", "Tenant", "Directory tenant id.").required(),
/// );
/// assert_eq!(KEYS.len(), 8);
/// assert_eq!(KEYS[3].default, Some("https://login.example.edu/token"));
/// ```
#[macro_export]
macro_rules! oauth_config_keys {
    ($oauth:expr, $api_base:expr $(, $extra:expr)* $(,)?) => {{
        let s = $crate::sdk::spec::standard_oauth_keys(&$oauth, $api_base);
        [s[0], s[1], s[2], s[3], s[4], s[5], s[6] $(, $extra)*]
    }};
}

/// Everything static about a connector.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct ConnectorSpec {
    /// Lowercase kebab-case identifier used in URLs, catalog rows and logs.
    pub slug: &'static str,
    /// Display name.
    pub name: &'static str,
    /// One or two sentences for the catalog.
    pub description: &'static str,
    /// The icon, as SVG markup: `include_str!("icon.svg")` from the connector's folder. The
    /// app serves it from the registry (the registry refuses script or outside references).
    pub icon: &'static str,
    /// OAuth or manual credentials.
    pub kind: ConnectorKind,
    /// Who enforces per-user access.
    pub scoping: AuthScoping,
    /// Connector version (bump when actions change shape).
    pub version: &'static str,
    /// OAuth defaults; required for `OAuth2` connectors.
    pub oauth: Option<OAuthDescriptor>,
    /// Manual credential form; non-empty for `Manual` connectors.
    pub form: &'static [FormField],
    /// Admin configuration keys.
    pub config_keys: &'static [ConfigKey],
}

impl ConnectorSpec {
    /// The declared config key named `key`.
    pub fn config_key(&self, key: &str) -> Option<&'static ConfigKey> {
        self.config_keys.iter().find(|k| k.key == key)
    }

    /// The form field named `name`.
    pub fn form_field(&self, name: &str) -> Option<&'static FormField> {
        self.form.iter().find(|f| f.name == name)
    }

    /// The value of `key` when no admin override exists: the key's declared default, else
    /// for `AUTH_URL`, `TOKEN_URL`, `REVOKE_URL` and `SCOPES` the OAuth descriptor's value.
    pub fn config_default(&self, key: &str) -> Option<Cow<'static, str>> {
        if let Some(default) = self.config_key(key).and_then(|k| k.default) {
            return Some(Cow::Borrowed(default));
        }
        let oauth = self.oauth.as_ref()?;
        match key {
            keys::AUTH_URL => Some(Cow::Borrowed(oauth.auth_url)),
            keys::TOKEN_URL => Some(Cow::Borrowed(oauth.token_url)),
            keys::REVOKE_URL => oauth.revoke_url.map(Cow::Borrowed),
            keys::SCOPES if !oauth.scopes.is_empty() => Some(Cow::Owned(oauth.scopes.join(" "))),
            _ => None,
        }
    }

    /// Names of the form fields whose values are secrets (for redaction).
    pub fn secret_form_fields(&self) -> Vec<&'static str> {
        self.form
            .iter()
            .filter(|f| f.kind.is_secret())
            .map(|f| f.name)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OAUTH: OAuthDescriptor = OAuthDescriptor {
        auth_url: "https://auth.example.edu/authorize",
        token_url: "https://auth.example.edu/token",
        revoke_url: None,
        scopes: &["files.read", "profile"],
        pkce: true,
        extra_auth_params: &[],
        client_auth: ClientAuth::Basic,
        revocation: Revocation::Rfc7009,
    };

    static SPEC: ConnectorSpec = ConnectorSpec {
        slug: "example",
        name: "Example",
        description: "An example.",
        icon: "<svg viewBox=\"0 0 1 1\"></svg>",
        kind: ConnectorKind::OAuth2,
        scoping: AuthScoping::Upstream,
        version: "1",
        oauth: Some(OAUTH),
        form: &[],
        config_keys: &oauth_config_keys!(
            OAUTH,
            "https://api.example.edu",
            ConfigKey::new("TENANT", "Tenant", "Tenant id.").required()
        ),
    };

    #[test]
    fn oauth_config_keys_lists_the_standard_keys_then_the_extras() {
        let names: Vec<_> = SPEC.config_keys.iter().map(|k| k.key).collect();
        assert_eq!(
            names,
            [
                "CLIENT_ID",
                "CLIENT_SECRET",
                "AUTH_URL",
                "TOKEN_URL",
                "REVOKE_URL",
                "SCOPES",
                "API_BASE_URL",
                "TENANT"
            ]
        );
        assert!(
            SPEC.config_key("CLIENT_SECRET")
                .is_some_and(|k| k.secret && k.required)
        );
    }

    #[test]
    fn config_default_falls_back_to_the_oauth_descriptor() {
        assert_eq!(
            SPEC.config_default("AUTH_URL").as_deref(),
            Some(OAUTH.auth_url)
        );
        assert_eq!(
            SPEC.config_default("SCOPES").as_deref(),
            Some("files.read profile")
        );
        assert_eq!(
            SPEC.config_default("API_BASE_URL").as_deref(),
            Some("https://api.example.edu")
        );
        assert_eq!(SPEC.config_default("REVOKE_URL"), None);
        assert_eq!(SPEC.config_default("TENANT"), None);
    }

    #[test]
    fn kinds_and_scopings_serialize_as_documented() {
        let json = serde_json::to_value((ConnectorKind::OAuth2, AuthScoping::InstitutionWide))
            .expect("serializes");
        assert_eq!(json, serde_json::json!(["oauth2", "institution_wide"]));
        assert_eq!(ConnectorKind::Manual.as_str(), "manual");
        assert_eq!(AuthScoping::UserSupplied.as_str(), "user_supplied");
    }

    #[test]
    fn select_fields_serialize_with_their_options() {
        let json = serde_json::to_value(FieldKind::Select(&[("require", "Require TLS")]))
            .expect("serializes");
        assert_eq!(
            json,
            serde_json::json!({"type": "select", "options": [["require", "Require TLS"]]})
        );
    }
}
