//! The authorization request of the MCP authorization server (`/oauth/authorize`) and the
//! user's decision on the consent page.
//!
//! A request is checked in two stages. Until the client and its redirect URI are known
//! good, nothing is sent anywhere: the user sees an error page ([`Refusal::Page`]). After
//! that, errors go back to the client as RFC 6749 error redirects carrying `state` and
//! `iss` (RFC 9207). The consent form carries the request in hidden fields and is checked
//! again when posted, so nothing of a half-finished authorization is stored. Allowing
//! writes a grant and a single-use code ([`CODE_TTL`]) bound to the client, the redirect
//! URI, the PKCE challenge and the resource.

use super::mcp_auth::{self, McpScopes};
use super::mcp_clients;
use super::runtime::ConnectorRuntime;
use crate::config::Settings;
use crate::crypto::{random_token, sha256_hex};
use crate::error::AppResult;
use crate::models::entities::mcp_client;
use crate::models::{connections, connectors, mcp_authorization_codes, mcp_grants};
use chrono::{Duration, Utc};
use sea_orm::{DatabaseConnection, TransactionTrait};
use serde_json::json;
use std::collections::HashMap;
use url::Url;

/// How long an authorization code may wait for its exchange.
pub const CODE_TTL: Duration = Duration::seconds(60);
/// Most connections one grant may name.
const MAX_CHOSEN: usize = 500;

/// The parameters of an authorization request, as sent (the query string, or the consent
/// form's hidden fields).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuthorizationParams {
    pub response_type: Option<String>,
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub state: Option<String>,
    pub scope: Option<String>,
    pub resource: Option<String>,
}

impl AuthorizationParams {
    /// Reads the request's parameters from name/value pairs; other names are ignored. A
    /// parameter sent twice is refused (RFC 6749 §3.1), with its name.
    pub fn from_pairs<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, String> {
        let mut params = Self::default();
        for (name, value) in pairs {
            let slot = match name {
                "response_type" => &mut params.response_type,
                "client_id" => &mut params.client_id,
                "redirect_uri" => &mut params.redirect_uri,
                "code_challenge" => &mut params.code_challenge,
                "code_challenge_method" => &mut params.code_challenge_method,
                "state" => &mut params.state,
                "scope" => &mut params.scope,
                "resource" => &mut params.resource,
                _ => continue,
            };
            if slot.is_some() {
                return Err(format!("The parameter {name} was sent more than once."));
            }
            *slot = Some(value.to_owned());
        }
        Ok(params)
    }

    /// The parameters as name/value pairs (for the consent form's hidden fields).
    pub fn pairs(&self) -> Vec<(&'static str, String)> {
        [
            ("response_type", &self.response_type),
            ("client_id", &self.client_id),
            ("redirect_uri", &self.redirect_uri),
            ("code_challenge", &self.code_challenge),
            ("code_challenge_method", &self.code_challenge_method),
            ("state", &self.state),
            ("scope", &self.scope),
            ("resource", &self.resource),
        ]
        .into_iter()
        .filter_map(|(name, value)| value.clone().map(|v| (name, v)))
        .collect()
    }
}

/// Why an authorization request cannot go on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Before the client and its redirect URI are trusted: said on a page, never sent.
    Page(String),
    /// After: where to send the browser back to the client, with the error.
    Redirect(String),
}

/// A request that passed every check.
#[derive(Clone, Debug)]
pub struct ValidRequest {
    pub client: mcp_client::Model,
    pub redirect_uri: String,
    pub code_challenge: String,
    pub state: Option<String>,
    /// What the client asked for (the consent page offers writing either way).
    pub requested: McpScopes,
    pub resource: String,
    /// The request as sent, for the consent form.
    pub params: AuthorizationParams,
}

/// Checks an authorization request: the client (fetching its metadata document when its
/// id is a URL), the redirect URI, then the response type, PKCE (S256 only), the resource
/// (this server's `/mcp`, RFC 8707) and the scopes.
pub async fn check(
    rt: &ConnectorRuntime,
    params: AuthorizationParams,
) -> AppResult<Result<ValidRequest, Refusal>> {
    let Some(client_id) = params.client_id.as_deref().filter(|c| !c.is_empty()) else {
        return Ok(Err(Refusal::Page(
            "The request does not say which assistant is asking (client_id is missing).".into(),
        )));
    };
    let client = match mcp_clients::resolve(rt, client_id).await? {
        Ok(client) => client,
        Err(reason) => return Ok(Err(Refusal::Page(reason))),
    };
    let Some(redirect_uri) = params.redirect_uri.clone().filter(|r| !r.is_empty()) else {
        return Ok(Err(Refusal::Page(
            "The request does not say where to send you back (redirect_uri is missing).".into(),
        )));
    };
    if !mcp_clients::redirect_uri_allowed(&mcp_clients::redirect_uris(&client), &redirect_uri) {
        return Ok(Err(Refusal::Page(format!(
            "{} asked to send you back to {}, which is not one of its registered addresses. \
             Nothing was shared.",
            client.name,
            mcp_clients::redirect_destination(&redirect_uri)
        ))));
    }
    let back = |error: &str, description: &str| {
        Refusal::Redirect(error_location(
            &rt.settings,
            &redirect_uri,
            error,
            description,
            params.state.as_deref(),
        ))
    };
    if params.response_type.as_deref() != Some("code") {
        return Ok(Err(back(
            "unsupported_response_type",
            "only response_type=code is supported",
        )));
    }
    if params.code_challenge_method.as_deref() != Some("S256") {
        return Ok(Err(back(
            "invalid_request",
            "PKCE is required with code_challenge_method=S256",
        )));
    }
    let Some(code_challenge) = params.code_challenge.clone().filter(|c| is_pkce_value(c)) else {
        return Ok(Err(back(
            "invalid_request",
            "code_challenge must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~",
        )));
    };
    let expected = mcp_auth::resource(&rt.settings);
    let resource = match params.resource.as_deref() {
        None | Some("") => {
            return Ok(Err(back(
                "invalid_request",
                &format!("resource is required and must be {expected}"),
            )));
        }
        Some(r) if !mcp_auth::same_resource(r, &expected) => {
            return Ok(Err(back(
                "invalid_target",
                &format!("this server issues tokens only for {expected}"),
            )));
        }
        Some(_) => expected,
    };
    let Some(requested) = McpScopes::parse(params.scope.as_deref().unwrap_or_default()) else {
        return Ok(Err(back(
            "invalid_scope",
            "the scopes offered are mcp:read and mcp:write",
        )));
    };
    Ok(Ok(ValidRequest {
        client,
        redirect_uri,
        code_challenge,
        state: params.state.clone(),
        requested,
        resource,
        params,
    }))
}

/// Whether `value` has the shape of a PKCE verifier or S256 challenge (RFC 7636 §4.1).
pub fn is_pkce_value(value: &str) -> bool {
    (43..=128).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// `redirect_uri` with `pairs` added to its query.
fn location(redirect_uri: &str, pairs: &[(&str, &str)]) -> String {
    match Url::parse(redirect_uri) {
        Ok(mut url) => {
            url.query_pairs_mut().extend_pairs(pairs);
            url.to_string()
        }
        // Only checked URIs get here; keep the shape anyway.
        Err(_) => redirect_uri.to_owned(),
    }
}

/// An error redirect back to the client (RFC 6749 §4.1.2.1, with `iss` of RFC 9207).
fn error_location(
    settings: &Settings,
    redirect_uri: &str,
    error: &str,
    description: &str,
    state: Option<&str>,
) -> String {
    let issuer = mcp_auth::issuer(settings);
    let mut pairs = vec![("error", error), ("error_description", description)];
    if let Some(state) = state {
        pairs.push(("state", state));
    }
    pairs.push(("iss", &issuer));
    location(redirect_uri, &pairs)
}

/// One of the user's connections, as the consent page offers it.
#[derive(Clone, Debug)]
pub struct ConsentConnection {
    pub id: i64,
    pub service: String,
    pub icon: String,
    /// The account at the service, when known.
    pub account: Option<String>,
}

/// The connections the consent page lists, oldest first.
pub async fn consent_connections(
    db: &DatabaseConnection,
    user_id: i64,
) -> AppResult<Vec<ConsentConnection>> {
    let catalog: HashMap<i64, _> = connectors::list(db)
        .await?
        .into_iter()
        .map(|k| (k.id, k))
        .collect();
    Ok(connections::list_for_user(db, user_id)
        .await?
        .into_iter()
        .map(|c| {
            let connector = catalog.get(&c.connector_id);
            ConsentConnection {
                id: c.id,
                service: connector.map(|k| k.name.clone()).unwrap_or_default(),
                icon: connector
                    .map(|k| k.icon.clone())
                    .unwrap_or_else(|| "/static/icons/plug.svg".into()),
                account: c.service_identity,
            }
        })
        .collect())
}

/// The user said no: back to the client with `access_denied`.
pub fn deny(settings: &Settings, request: &ValidRequest) -> String {
    tracing::info!(mcp.client_id = %request.client.client_id, "mcp authorization denied");
    error_location(
        settings,
        &request.redirect_uri,
        "access_denied",
        "the user did not allow access",
        request.state.as_deref(),
    )
}

/// The user said yes: a grant of `write` (besides reading) on those of `chosen` that are
/// the user's connections, and a code for it. Returns where to send the browser.
pub async fn approve(
    db: &DatabaseConnection,
    settings: &Settings,
    request: &ValidRequest,
    user_id: i64,
    write: bool,
    mut chosen: Vec<i64>,
) -> AppResult<String> {
    let now = Utc::now();
    chosen.sort_unstable();
    chosen.dedup();
    // No one has this many connections; a longer list is not worth a query.
    chosen.truncate(MAX_CHOSEN);
    let connection_ids = connections::owned_ids(db, user_id, chosen).await?;
    let code = random_token(32);
    let txn = db.begin().await?;
    // Until its code is exchanged the grant lives as long as the code.
    let grant = mcp_grants::insert(
        &txn,
        mcp_grants::NewGrant {
            user_id,
            mcp_client_id: request.client.id,
            scopes: McpScopes { write }.as_scope(),
            connection_ids: json!(connection_ids).to_string(),
            expires_at: now + CODE_TTL,
        },
    )
    .await?;
    mcp_authorization_codes::insert(
        &txn,
        mcp_authorization_codes::NewCode {
            code_hash: sha256_hex(&code),
            mcp_grant_id: grant.id,
            redirect_uri: request.redirect_uri.clone(),
            code_challenge: request.code_challenge.clone(),
            resource: request.resource.clone(),
            expires_at: now + CODE_TTL,
        },
    )
    .await?;
    txn.commit().await?;
    tracing::info!(
        user.id = user_id,
        mcp.client_id = %request.client.client_id,
        mcp.grant_id = grant.id,
        mcp.write = write,
        mcp.connections = connection_ids.len(),
        "mcp authorization granted"
    );
    let issuer = mcp_auth::issuer(settings);
    let mut pairs = vec![("code", code.as_str())];
    if let Some(state) = request.state.as_deref() {
        pairs.push(("state", state));
    }
    pairs.push(("iss", &issuer));
    Ok(location(&request.redirect_uri, &pairs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_sent_twice_are_refused_by_name() {
        let params = AuthorizationParams::from_pairs([
            ("client_id", "a"),
            ("state", "xyz"),
            ("other", "ignored"),
        ]);
        assert_eq!(
            params.map(|p| p.pairs()),
            Ok(vec![("client_id", "a".into()), ("state", "xyz".into())])
        );
        let twice = AuthorizationParams::from_pairs([("resource", "a"), ("resource", "b")]);
        assert_eq!(
            twice,
            Err("The parameter resource was sent more than once.".into())
        );
    }

    #[test]
    fn pkce_values_have_the_rfc_7636_shape() {
        assert!(is_pkce_value(&"a".repeat(43)));
        assert!(is_pkce_value(&"A-._~9".repeat(20)));
        assert!(!is_pkce_value(&"a".repeat(42)));
        assert!(!is_pkce_value(&"a".repeat(129)));
        assert!(!is_pkce_value(&format!("{}+", "a".repeat(43))));
    }

    #[test]
    fn redirects_keep_the_clients_own_query_and_add_ours() {
        assert_eq!(
            location(
                "http://127.0.0.1:9/cb?x=1",
                &[("code", "c d"), ("state", "s")]
            ),
            "http://127.0.0.1:9/cb?x=1&code=c+d&state=s"
        );
        assert_eq!(
            location("com.example.app:/cb", &[("code", "c")]),
            "com.example.app:/cb?code=c"
        );
    }
}
