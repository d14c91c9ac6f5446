//! OAuth 2.0 for every `oauth2` connector, through the `oauth2` crate: the authorization
//! code flow with PKCE (S256) and a single-use, session-bound `state`, the refresh grant and
//! RFC 7009 revocation. Every endpoint URL and the client credentials come from the
//! connector's config (admin-managed, with per-connector defaults); the redirect URI from
//! `CAMPUSCORE_BASE_URL`. Token requests go through the app's reqwest client with redirects
//! disabled, so a code, secret or refresh token is never replayed to another host.

use super::runtime::ConnectorRuntime;
use crate::error::{AppError, AppResult};
use campuscore_connectors::{ClientAuth, ConnectorSettings, ConnectorSpec, Revocation, keys};
use chrono::{DateTime, Utc};
use oauth2::basic::{BasicClient, BasicErrorResponseType, BasicTokenResponse};
use oauth2::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, RefreshToken, RequestTokenError, Scope, TokenResponse, TokenUrl,
};
use serde_json::{Map, Value, json};
use std::time::Duration;

/// The redirect URI registered with providers for `slug`.
pub fn redirect_uri(rt: &ConnectorRuntime, slug: &str) -> String {
    rt.settings
        .absolute_url(&crate::paths::oauth_callback(slug))
}

/// A connector's OAuth client as configured: endpoints, credentials and scopes.
pub struct OAuthClient {
    slug: &'static str,
    client_id: String,
    client_secret: Option<String>,
    auth_url: String,
    token_url: String,
    revoke_url: Option<String>,
    scopes: Vec<String>,
    pkce: bool,
    extra_auth_params: &'static [(&'static str, &'static str)],
    client_auth: ClientAuth,
    revocation: Revocation,
    pub(super) redirect_uri: String,
}

impl OAuthClient {
    /// The client for `spec` from its effective `settings`; a missing client id or an
    /// endpoint that is not a URL means an administrator must configure the connector.
    pub fn from_settings(
        spec: &ConnectorSpec,
        settings: &ConnectorSettings,
        redirect_uri: String,
    ) -> AppResult<Self> {
        let descriptor = spec.oauth.ok_or_else(|| {
            AppError::BadRequest(format!("{} does not sign in with OAuth.", spec.name))
        })?;
        let missing = settings.missing_required();
        if !missing.is_empty() {
            return Err(not_configured(spec));
        }
        let get = |key: &str| {
            settings
                .get(key)
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        let client_id = get(keys::CLIENT_ID).ok_or_else(|| not_configured(spec))?;
        let url = |key: &str| -> AppResult<String> {
            let value = get(key).ok_or_else(|| not_configured(spec))?;
            match url::Url::parse(&value) {
                Ok(parsed) if secure_endpoint(&parsed) => Ok(value),
                _ => Err(not_configured(spec)),
            }
        };
        Ok(Self {
            slug: spec.slug,
            client_id,
            client_secret: get(keys::CLIENT_SECRET),
            auth_url: url(keys::AUTH_URL)?,
            token_url: url(keys::TOKEN_URL)?,
            revoke_url: match get(keys::REVOKE_URL) {
                Some(_) => Some(url(keys::REVOKE_URL)?),
                None => None,
            },
            scopes: settings.scopes(),
            pkce: descriptor.pkce,
            extra_auth_params: descriptor.extra_auth_params,
            client_auth: descriptor.client_auth,
            revocation: descriptor.revocation,
            redirect_uri,
        })
    }

    /// The connector this client signs in to.
    pub fn slug(&self) -> &'static str {
        self.slug
    }

    /// Whether the provider has a revocation endpoint.
    pub fn can_revoke(&self) -> bool {
        self.revoke_url.is_some()
    }

    fn client(
        &self,
    ) -> AppResult<
        BasicClient<
            oauth2::EndpointSet,
            oauth2::EndpointNotSet,
            oauth2::EndpointNotSet,
            oauth2::EndpointNotSet,
            oauth2::EndpointSet,
        >,
    > {
        let bad = |what: &str| {
            AppError::Internal(anyhow::anyhow!("the configured {what} is not a valid URL"))
        };
        let mut client = BasicClient::new(ClientId::new(self.client_id.clone()))
            .set_auth_uri(AuthUrl::new(self.auth_url.clone()).map_err(|_| bad("AUTH_URL"))?)
            .set_token_uri(TokenUrl::new(self.token_url.clone()).map_err(|_| bad("TOKEN_URL"))?)
            .set_redirect_uri(
                RedirectUrl::new(self.redirect_uri.clone()).map_err(|_| bad("redirect URI"))?,
            );
        if let Some(secret) = &self.client_secret {
            client = client.set_client_secret(ClientSecret::new(secret.clone()));
        }
        if self.client_auth == ClientAuth::RequestBody {
            client = client.set_auth_type(AuthType::RequestBody);
        }
        Ok(client)
    }

    /// The authorization URL for `state`, with the PKCE challenge of `verifier`.
    pub(super) fn authorize_url(
        &self,
        state: &str,
        verifier: &PkceCodeVerifier,
    ) -> AppResult<url::Url> {
        let client = self.client()?;
        let state = state.to_owned();
        let mut request = client
            .authorize_url(move || CsrfToken::new(state))
            .add_scopes(self.scopes.iter().cloned().map(Scope::new));
        if self.pkce {
            request =
                request.set_pkce_challenge(PkceCodeChallenge::from_code_verifier_sha256(verifier));
        }
        for (name, value) in self.extra_auth_params {
            request = request.add_extra_param(*name, *value);
        }
        Ok(request.url().0)
    }

    /// Exchanges an authorization code (and its PKCE verifier) for tokens.
    pub async fn exchange_code(
        &self,
        http: &reqwest::Client,
        code: &str,
        verifier: PkceCodeVerifier,
    ) -> Result<TokenSet, TokenError> {
        let client = self.client().map_err(|e| TokenError::Rejected {
            code: "misconfigured".into(),
            description: e.to_string(),
        })?;
        let mut request = client.exchange_code(AuthorizationCode::new(code.to_owned()));
        if self.pkce {
            request = request.set_pkce_verifier(verifier);
        }
        let response = request.request_async(&Transport(http.clone())).await;
        response.map(TokenSet::from_response).map_err(classify)
    }

    /// Uses `refresh_token` to get a new access token (and, with rotation, a new refresh token).
    pub async fn refresh(
        &self,
        http: &reqwest::Client,
        refresh_token: &str,
    ) -> Result<TokenSet, TokenError> {
        let client = self.client().map_err(|e| TokenError::Rejected {
            code: "misconfigured".into(),
            description: e.to_string(),
        })?;
        let token = RefreshToken::new(refresh_token.to_owned());
        let response = client
            .exchange_refresh_token(&token)
            .request_async(&Transport(http.clone()))
            .await;
        response
            .map(TokenSet::from_response)
            .map_err(|e| match classify(e) {
                // Canvas answers an unknown or revoked refresh token with `invalid_request`
                // "refresh_token not found" rather than `invalid_grant`: the same decision.
                TokenError::Rejected { code, description }
                    if code == "invalid_request" && description.contains("refresh_token") =>
                {
                    TokenError::InvalidGrant(description)
                }
                other => other,
            })
    }

    /// Asks the provider to end the grant `token` belongs to, the way the connector declares
    /// (`token_type_hint` is `refresh_token` or `access_token`): `Ok(true)` when confirmed,
    /// `Ok(false)` when the provider has no revocation endpoint.
    pub async fn revoke(
        &self,
        http: &reqwest::Client,
        token: &str,
        token_type_hint: &str,
    ) -> Result<bool, TokenError> {
        let Some(revoke_url) = &self.revoke_url else {
            return Ok(false);
        };
        match self.revocation {
            Revocation::Rfc7009 => {
                self.revoke_rfc7009(http, revoke_url, token, token_type_hint)
                    .await
            }
            Revocation::BearerDelete => {
                self.revoke_by_delete(http, revoke_url, token, token_type_hint)
                    .await
            }
        }
    }

    /// RFC 7009: POST the token with its hint, the client authenticated.
    ///
    /// Written against reqwest directly: the `oauth2` crate refuses plain-HTTP revocation
    /// URLs outright, where this app allows loopback ones (see `secure_endpoint`).
    async fn revoke_rfc7009(
        &self,
        http: &reqwest::Client,
        revoke_url: &str,
        token: &str,
        token_type_hint: &str,
    ) -> Result<bool, TokenError> {
        let mut request = http
            .post(revoke_url)
            .header(reqwest::header::ACCEPT, "application/json")
            .form(&[("token", token), ("token_type_hint", token_type_hint)]);
        request = match &self.client_secret {
            // RFC 6749 §2.3.1: both parts form-urlencoded before Basic encoding.
            Some(secret) => {
                request.basic_auth(form_encode(&self.client_id), Some(form_encode(secret)))
            }
            None => request.query(&[("client_id", &self.client_id)]),
        };
        revocation_answer(request.send().await).await
    }

    /// Canvas style: `DELETE` with a live access token, which ends it and its refresh token.
    /// Given the refresh token, a fresh access token is fetched first (the stored one has
    /// most likely expired); a refresh token the provider no longer knows means the grant is
    /// already gone.
    async fn revoke_by_delete(
        &self,
        http: &reqwest::Client,
        revoke_url: &str,
        token: &str,
        token_type_hint: &str,
    ) -> Result<bool, TokenError> {
        let access_token = if token_type_hint == "refresh_token" {
            match self.refresh(http, token).await {
                Ok(fresh) => fresh.access_token,
                Err(TokenError::InvalidGrant(_)) => return Ok(true),
                Err(other) => return Err(other),
            }
        } else {
            token.to_owned()
        };
        let request = http
            .delete(revoke_url)
            .header(reqwest::header::ACCEPT, "application/json")
            .bearer_auth(access_token);
        revocation_answer(request.send().await).await
    }
}

/// Reads a revocation endpoint's answer: 200 (or 204) confirms; 429 and 5xx are worth
/// retrying; anything else is the provider's refusal.
async fn revocation_answer(
    sent: Result<reqwest::Response, reqwest::Error>,
) -> Result<bool, TokenError> {
    let response = sent.map_err(|e| TokenError::Unavailable {
        message: e.without_url().to_string(),
        retry_after: None,
    })?;
    let status = response.status().as_u16();
    if status == 200 || status == 204 {
        return Ok(true);
    }
    if status == 429 || status >= 500 {
        return Err(TransportError::Status {
            status,
            retry_after: None,
        }
        .into());
    }
    let body: Value = response.json().await.unwrap_or(Value::Null);
    Err(TokenError::Rejected {
        code: body["error"].as_str().unwrap_or("http_error").to_owned(),
        description: body["error_description"]
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| format!("HTTP {status}")),
    })
}

fn form_encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Whether `url` may carry codes, secrets and tokens: `https`, or `http` to a loopback host
/// (development servers and the test suite's provider).
fn secure_endpoint(url: &url::Url) -> bool {
    campuscore_connectors::is_secure_upstream(url)
}

fn not_configured(spec: &ConnectorSpec) -> AppError {
    AppError::NotConfigured(format!(
        "{} is not configured yet — ask an administrator to set it up.",
        spec.name
    ))
}

/// Tokens from a token response, in the shape stored in a connection's credentials.
#[derive(Clone)]
pub struct TokenSet {
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub token_type: String,
    pub expires_in: Option<Duration>,
    pub scopes: Option<Vec<String>>,
    pub obtained_at: DateTime<Utc>,
}

impl TokenSet {
    fn from_response(r: BasicTokenResponse) -> Self {
        Self {
            access_token: r.access_token().secret().clone(),
            refresh_token: r.refresh_token().map(|t| t.secret().clone()),
            token_type: "Bearer".into(),
            expires_in: r.expires_in(),
            scopes: r
                .scopes()
                .map(|s| s.iter().map(|s| s.to_string()).collect()),
            obtained_at: Utc::now(),
        }
    }

    /// When the access token expires, if the provider said something that is a time: an
    /// `expires_in` too large to be a date counts as no expiry (refresh after a 401).
    pub fn expires_at(&self) -> Option<DateTime<Utc>> {
        self.expires_in
            .and_then(|d| chrono::Duration::from_std(d).ok())
            .and_then(|d| self.obtained_at.checked_add_signed(d))
    }

    /// The credentials JSON after this response: new tokens over `previous`, keeping the old
    /// refresh token when the provider did not rotate it.
    pub fn merge_into(&self, previous: Option<&Value>) -> Value {
        let mut map = previous
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_else(Map::new);
        map.insert("access_token".into(), json!(self.access_token));
        if let Some(refresh) = &self.refresh_token {
            map.insert("refresh_token".into(), json!(refresh));
        }
        map.insert("token_type".into(), json!(self.token_type));
        match self.expires_at() {
            Some(at) => {
                map.insert("expires_at".into(), json!(at.to_rfc3339()));
                map.insert(
                    "expires_in".into(),
                    json!(self.expires_in.map(|d| d.as_secs())),
                );
            }
            None => {
                map.remove("expires_at");
                map.remove("expires_in");
            }
        }
        if let Some(scopes) = &self.scopes {
            map.insert("scope".into(), json!(scopes.join(" ")));
        }
        map.insert("obtained_at".into(), json!(self.obtained_at.to_rfc3339()));
        Value::Object(map)
    }

    /// The granted scopes as one space-separated string (for the connection row).
    pub fn scope_string(&self) -> Option<String> {
        self.scopes.as_ref().map(|s| s.join(" "))
    }
}

/// Why a token request failed, as a decision.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The code or refresh token is no longer valid: the user must sign in again.
    #[error("the provider no longer accepts the grant ({0})")]
    InvalidGrant(String),
    /// The provider refused for another reason (client, scope…): configuration.
    #[error("the provider refused the request: {code} {description}")]
    Rejected { code: String, description: String },
    /// Network failure, 429 or 5xx: try again later.
    #[error("the provider is unavailable: {message}")]
    Unavailable {
        message: String,
        retry_after: Option<Duration>,
    },
    /// An answer we do not understand.
    #[error("{0}")]
    Malformed(String),
}

impl TokenError {
    /// The decision for callers: reconnect, retry later, or fix the configuration.
    pub fn into_connector_error(self) -> campuscore_connectors::ConnectorError {
        use campuscore_connectors::ConnectorError as E;
        match self {
            TokenError::InvalidGrant(_) => E::AuthExpired {
                message: "the sign-in has expired or was revoked; please reconnect".into(),
            },
            TokenError::Unavailable {
                retry_after: Some(retry_after),
                message,
            } => E::RateLimited {
                retry_after: Some(retry_after),
                message,
            },
            TokenError::Unavailable { message, .. } => E::Transport { message },
            TokenError::Rejected { code, description } => E::misconfigured(format!(
                "the sign-in service refused the app ({code}{}{description})",
                if description.is_empty() { "" } else { ": " }
            )),
            TokenError::Malformed(message) => E::Upstream {
                status: 502,
                message,
            },
        }
    }
}

/// The transport failure of the adapter below.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("{0}")]
    Network(String),
    #[error("HTTP {status}")]
    Status {
        status: u16,
        retry_after: Option<Duration>,
    },
}

impl From<TransportError> for TokenError {
    fn from(e: TransportError) -> Self {
        match e {
            TransportError::Network(message) => TokenError::Unavailable {
                message,
                retry_after: None,
            },
            TransportError::Status {
                status,
                retry_after,
            } => TokenError::Unavailable {
                message: format!("the token endpoint answered HTTP {status}"),
                retry_after: if status == 429 {
                    retry_after.or(Some(Duration::from_secs(30)))
                } else {
                    retry_after
                },
            },
        }
    }
}

/// The largest token response read (a real one is well under a kilobyte).
const MAX_TOKEN_RESPONSE: usize = 1024 * 1024;

/// The `oauth2` crate's HTTP hook over the app's reqwest client (reqwest 0.13; the crate's
/// own integration targets 0.12). A struct rather than a closure: a closure's future borrows
/// the client for a higher-ranked lifetime, which makes the calling future not `Send`.
pub(super) struct Transport(pub(super) reqwest::Client);

impl<'c> oauth2::AsyncHttpClient<'c> for Transport {
    type Error = TransportError;
    type Future = std::pin::Pin<
        Box<dyn Future<Output = Result<oauth2::HttpResponse, TransportError>> + Send + 'c>,
    >;

    fn call(&'c self, request: oauth2::HttpRequest) -> Self::Future {
        Box::pin(send(&self.0, request))
    }
}

/// Sends one token-endpoint request. 429 and 5xx become `TransportError::Status` so they are
/// told apart from an OAuth error response.
async fn send(
    http: &reqwest::Client,
    request: oauth2::HttpRequest,
) -> Result<oauth2::HttpResponse, TransportError> {
    let (parts, body) = request.into_parts();
    let method = reqwest::Method::from_bytes(parts.method.as_str().as_bytes())
        .map_err(|e| TransportError::Network(e.to_string()))?;
    let mut builder = http.request(method, parts.uri.to_string()).body(body);
    for (name, value) in &parts.headers {
        builder = builder.header(name.as_str(), value.as_bytes());
    }
    let response = builder
        .send()
        .await
        .map_err(|e| TransportError::Network(e.without_url().to_string()))?;
    let status = response.status().as_u16();
    if status == 429 || status >= 500 {
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        return Err(TransportError::Status {
            status,
            retry_after,
        });
    }
    let mut out = oauth2::http::Response::builder().status(status);
    for (name, value) in response.headers() {
        out = out.header(name.as_str(), value.as_bytes());
    }
    let body = campuscore_connectors::capped_body(response, MAX_TOKEN_RESPONSE)
        .await
        .map_err(|e| TransportError::Network(e.to_string()))?;
    out.body(body)
        .map_err(|e| TransportError::Network(e.to_string()))
}

fn classify(e: RequestTokenError<TransportError, oauth2::basic::BasicErrorResponse>) -> TokenError {
    match e {
        RequestTokenError::ServerResponse(r) => match r.error() {
            BasicErrorResponseType::InvalidGrant => TokenError::InvalidGrant(
                r.error_description()
                    .cloned()
                    .unwrap_or_else(|| "invalid_grant".into()),
            ),
            other => TokenError::Rejected {
                code: other.to_string(),
                description: r.error_description().cloned().unwrap_or_default(),
            },
        },
        RequestTokenError::Request(t) => t.into(),
        RequestTokenError::Parse(_, _) => {
            TokenError::Malformed("the token endpoint sent a response we do not understand".into())
        }
        RequestTokenError::Other(m) => TokenError::Malformed(m),
    }
}

#[cfg(test)]
#[path = "oauth_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "oauth_properties.rs"]
mod properties;
