//! The token endpoint (`/oauth/token`, RFC 6749 with PKCE and RFC 8707 resources) and the
//! revocation endpoint (`/oauth/revoke`, RFC 7009) of the MCP authorization server.
//!
//! Codes are single-use: a code presented again ends the grant it created and every token
//! of it. Refresh tokens rotate: each use retires the old one and issues a new pair, and a
//! retired refresh token presented again (someone kept a copy) ends the whole grant.
//! Tokens are random, prefixed and stored only as SHA-256 hashes, bound to their grant and
//! to the resource `<base>/mcp`.

use super::mcp_auth::{
    self, ACCESS_TOKEN_PREFIX, ACCESS_TOKEN_TTL, McpScopes, REFRESH_TOKEN_PREFIX, REFRESH_TOKEN_TTL,
};
use super::mcp_authorize::is_pkce_value;
use super::mcp_grants;
use crate::config::Settings;
use crate::crypto::{random_token, sha256_hex};
use crate::error::AppResult;
use crate::models::entities::{mcp_client, mcp_grant};
use crate::models::{McpTokenKind, mcp_authorization_codes, mcp_clients, mcp_grants as grants};
use crate::models::{mcp_tokens, users};
use base64::Engine;
use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr, TransactionTrait};
use serde_json::{Value, json};
use sha2::Digest;
use std::collections::HashMap;

/// An OAuth error answer (RFC 6749 §5.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenError {
    /// `invalid_request`, `invalid_client`, `invalid_grant`, `invalid_scope`,
    /// `invalid_target` or `unsupported_grant_type`.
    pub error: &'static str,
    pub description: String,
}

impl TokenError {
    /// An error with its description.
    pub fn new(error: &'static str, description: impl Into<String>) -> Self {
        Self {
            error,
            description: description.into(),
        }
    }

    fn grant(description: impl Into<String>) -> Self {
        Self::new("invalid_grant", description)
    }

    /// The HTTP status: 401 for a client that is not known, 400 for the rest.
    pub fn status(&self) -> u16 {
        if self.error == "invalid_client" {
            401
        } else {
            400
        }
    }

    /// The JSON body.
    pub fn body(&self) -> Value {
        json!({ "error": self.error, "error_description": self.description })
    }
}

/// The form parameters of a token or revocation request.
#[derive(Clone, Debug, Default)]
pub struct TokenParams(HashMap<String, String>);

impl TokenParams {
    /// Reads a form-encoded body; a parameter sent twice is `invalid_request` (RFC 6749 §3.2).
    pub fn parse(body: &[u8]) -> Result<Self, TokenError> {
        let mut params = HashMap::new();
        for (name, value) in url::form_urlencoded::parse(body) {
            if params
                .insert(name.to_string(), value.into_owned())
                .is_some()
            {
                return Err(TokenError::new(
                    "invalid_request",
                    format!("{name} was sent more than once"),
                ));
            }
        }
        Ok(Self(params))
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    fn require(&self, name: &str) -> Result<&str, TokenError> {
        self.get(name)
            .ok_or_else(|| TokenError::new("invalid_request", format!("{name} is required")))
    }
}

/// Answers a token request: a token response (RFC 6749 §5.1) or an error.
pub async fn token(
    db: &DatabaseConnection,
    settings: &Settings,
    params: &TokenParams,
) -> AppResult<Result<Value, TokenError>> {
    match params.get("grant_type") {
        Some("authorization_code") => exchange_code(db, settings, params).await,
        Some("refresh_token") => refresh(db, settings, params).await,
        Some(other) => Ok(Err(TokenError::new(
            "unsupported_grant_type",
            format!("grant_type {other} is not supported"),
        ))),
        None => Ok(Err(TokenError::new(
            "invalid_request",
            "grant_type is required",
        ))),
    }
}

/// The requesting client, and the resource: given, it must be this server's `/mcp`.
async fn client_and_resource(
    db: &DatabaseConnection,
    settings: &Settings,
    params: &TokenParams,
) -> AppResult<Result<mcp_client::Model, TokenError>> {
    let expected = mcp_auth::resource(settings);
    if let Some(resource) = params.get("resource")
        && !mcp_auth::same_resource(resource, &expected)
    {
        return Ok(Err(TokenError::new(
            "invalid_target",
            format!("this server issues tokens only for {expected}"),
        )));
    }
    let Some(client_id) = params.get("client_id") else {
        return Ok(Err(TokenError::new(
            "invalid_client",
            "client_id is required (public clients send it in the body)",
        )));
    };
    Ok(mcp_clients::find_by_client_id(db, client_id)
        .await?
        .ok_or_else(|| TokenError::new("invalid_client", "this client is not known")))
}

/// `grant_type=authorization_code`: checks the code, its client, redirect URI, PKCE
/// verifier and resource, then spends it. A code presented after it was spent ends its
/// grant.
async fn exchange_code(
    db: &DatabaseConnection,
    settings: &Settings,
    params: &TokenParams,
) -> AppResult<Result<Value, TokenError>> {
    let client = match client_and_resource(db, settings, params).await? {
        Ok(client) => client,
        Err(e) => return Ok(Err(e)),
    };
    let (code, redirect_uri, verifier) = match (
        params.require("code"),
        params.require("redirect_uri"),
        params.require("code_verifier"),
    ) {
        (Ok(c), Ok(r), Ok(v)) => (c, r, v),
        (Err(e), ..) | (_, Err(e), _) | (.., Err(e)) => return Ok(Err(e)),
    };
    let Some(row) = mcp_authorization_codes::find_by_hash(db, &sha256_hex(code)).await? else {
        return Ok(Err(TokenError::grant("the code is not valid")));
    };
    let Some(grant) = grants::find(db, row.mcp_grant_id).await? else {
        return Ok(Err(TokenError::grant("the code is not valid")));
    };
    if grant.revoked_at.is_some() {
        return Ok(Err(TokenError::grant("the grant was revoked")));
    }
    if row.used_at.is_some() {
        mcp_grants::revoke(db, grant.id, "authorization code replayed").await?;
        return Ok(Err(TokenError::grant(
            "the code was used before; what it issued is revoked",
        )));
    }
    let now = Utc::now();
    if row.expires_at <= now {
        return Ok(Err(TokenError::grant("the code has expired")));
    }
    if grant.mcp_client_id != client.id {
        return Ok(Err(TokenError::grant(
            "the code was issued to another client",
        )));
    }
    if row.redirect_uri != redirect_uri {
        return Ok(Err(TokenError::grant(
            "redirect_uri is not the one the code was issued for",
        )));
    }
    if !is_pkce_value(verifier) || s256(verifier) != row.code_challenge {
        return Ok(Err(TokenError::grant(
            "the code_verifier does not match the code_challenge",
        )));
    }
    if let Some(refused) = unusable(db, &grant).await? {
        return Ok(Err(refused));
    }
    if !mcp_authorization_codes::mark_used(db, row.id, now).await? {
        // Another exchange of the same code got there first.
        mcp_grants::revoke(db, grant.id, "authorization code replayed").await?;
        return Ok(Err(TokenError::grant(
            "the code was used before; what it issued is revoked",
        )));
    }
    let scopes = McpScopes::parse(&grant.scopes).unwrap_or_default();
    let txn = db.begin().await?;
    let response = issue(&txn, &grant, scopes, &row.resource, now).await?;
    txn.commit().await?;
    tracing::info!(mcp.grant_id = grant.id, "mcp tokens issued for a code");
    Ok(Ok(response))
}

/// `grant_type=refresh_token`: retires the refresh token and issues a new pair, with the
/// scopes asked for if they are within the old token's. A retired token presented again
/// ends the grant.
async fn refresh(
    db: &DatabaseConnection,
    settings: &Settings,
    params: &TokenParams,
) -> AppResult<Result<Value, TokenError>> {
    let client = match client_and_resource(db, settings, params).await? {
        Ok(client) => client,
        Err(e) => return Ok(Err(e)),
    };
    let presented = match params.require("refresh_token") {
        Ok(t) => t,
        Err(e) => return Ok(Err(e)),
    };
    let Some(token) = mcp_tokens::find_by_hash(db, &sha256_hex(presented))
        .await?
        .filter(|t| t.kind == McpTokenKind::Refresh)
    else {
        return Ok(Err(TokenError::grant("the refresh token is not valid")));
    };
    let Some(grant) = grants::find(db, token.mcp_grant_id).await? else {
        return Ok(Err(TokenError::grant("the refresh token is not valid")));
    };
    if grant.mcp_client_id != client.id {
        return Ok(Err(TokenError::grant(
            "the refresh token was issued to another client",
        )));
    }
    if grant.revoked_at.is_some() {
        return Ok(Err(TokenError::grant("the grant was revoked")));
    }
    let reused = || async {
        mcp_grants::revoke(db, grant.id, "refresh token reused").await?;
        Ok::<_, DbErr>(Err(TokenError::grant(
            "the refresh token was used before; the grant is revoked",
        )))
    };
    if token.retired_at.is_some() {
        return Ok(reused().await?);
    }
    let now = Utc::now();
    if token.expires_at <= now {
        return Ok(Err(TokenError::grant("the refresh token has expired")));
    }
    if let Some(refused) = unusable(db, &grant).await? {
        return Ok(Err(refused));
    }
    let held = McpScopes::parse(&token.scopes).unwrap_or_default();
    let scopes = match params.get("scope").map(McpScopes::parse) {
        None => held,
        Some(Some(asked)) if asked.within(held) => asked,
        Some(_) => {
            return Ok(Err(TokenError::new(
                "invalid_scope",
                "the scopes asked for exceed the grant",
            )));
        }
    };
    let txn = db.begin().await?;
    if !mcp_tokens::retire(&txn, token.id, now).await? {
        txn.rollback().await?;
        return Ok(reused().await?);
    }
    let response = issue(&txn, &grant, scopes, &token.resource, now).await?;
    txn.commit().await?;
    tracing::info!(mcp.grant_id = grant.id, "mcp tokens refreshed");
    Ok(Ok(response))
}

/// Why a grant can no longer have tokens, if it cannot: revoked, or its user gone.
async fn unusable(
    db: &DatabaseConnection,
    grant: &mcp_grant::Model,
) -> Result<Option<TokenError>, DbErr> {
    if grant.revoked_at.is_some() {
        return Ok(Some(TokenError::grant("the grant was revoked")));
    }
    let active = users::find(db, grant.user_id)
        .await?
        .is_some_and(|u| u.is_active);
    Ok((!active).then(|| TokenError::grant("the account is no longer active")))
}

/// BASE64URL(SHA-256(verifier)), the S256 challenge of a verifier (RFC 7636 §4.2).
fn s256(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier))
}

/// Stores a new access and refresh token of `grant` and moves the grant's end to the
/// refresh token's; returns the token response.
async fn issue(
    db: &impl ConnectionTrait,
    grant: &mcp_grant::Model,
    scopes: McpScopes,
    resource: &str,
    now: DateTime<Utc>,
) -> Result<Value, DbErr> {
    let access = format!("{ACCESS_TOKEN_PREFIX}{}", random_token(32));
    let refresh = format!("{REFRESH_TOKEN_PREFIX}{}", random_token(32));
    let refresh_until = now + REFRESH_TOKEN_TTL;
    for (token, kind, expires_at) in [
        (&access, McpTokenKind::Access, now + ACCESS_TOKEN_TTL),
        (&refresh, McpTokenKind::Refresh, refresh_until),
    ] {
        mcp_tokens::insert(
            db,
            mcp_tokens::NewToken {
                token_hash: sha256_hex(token),
                mcp_grant_id: grant.id,
                kind,
                scopes: scopes.as_scope(),
                resource: resource.to_owned(),
                expires_at,
            },
        )
        .await?;
    }
    grants::extend(db, grant.id, refresh_until).await?;
    Ok(json!({
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": ACCESS_TOKEN_TTL.num_seconds(),
        "refresh_token": refresh,
        "scope": scopes.as_scope(),
    }))
}

/// Answers a revocation request (RFC 7009): an access token stops; a refresh token ends its
/// whole grant. Unknown tokens, and tokens of another client, are answered the same as
/// revoked ones and left alone.
pub async fn revoke(
    db: &DatabaseConnection,
    params: &TokenParams,
) -> AppResult<Result<(), TokenError>> {
    let presented = match params.require("token") {
        Ok(t) => t,
        Err(e) => return Ok(Err(e)),
    };
    let Some(client_id) = params.get("client_id") else {
        return Ok(Err(TokenError::new(
            "invalid_client",
            "client_id is required",
        )));
    };
    let Some(token) = mcp_tokens::find_by_hash(db, &sha256_hex(presented)).await? else {
        return Ok(Ok(()));
    };
    let Some(grant) = grants::find(db, token.mcp_grant_id).await? else {
        return Ok(Ok(()));
    };
    let owner = mcp_clients::find(db, grant.mcp_client_id).await?;
    if owner.is_none_or(|c| c.client_id != client_id) {
        return Ok(Ok(()));
    }
    match token.kind {
        McpTokenKind::Refresh => {
            mcp_grants::revoke(db, grant.id, "refresh token revoked by its client").await?;
        }
        McpTokenKind::Access => {
            mcp_tokens::retire(db, token.id, Utc::now()).await?;
        }
    }
    Ok(Ok(()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_s256_challenge_is_the_rfc_7636_example() {
        // RFC 7636, Appendix B.
        assert_eq!(
            s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn token_parameters_sent_twice_are_an_invalid_request() {
        let params =
            TokenParams::parse(b"grant_type=refresh_token&scope=&client_id=a").expect("parses");
        assert_eq!(params.get("grant_type"), Some("refresh_token"));
        assert_eq!(params.get("scope"), None);
        let twice = TokenParams::parse(b"code=a&code=b").err();
        assert_eq!(twice.map(|e| e.error), Some("invalid_request"));
    }

    #[test]
    fn an_unknown_client_is_a_401_and_the_rest_400() {
        assert_eq!(TokenError::new("invalid_client", "x").status(), 401);
        assert_eq!(TokenError::grant("x").status(), 400);
        assert_eq!(
            TokenError::grant("x").body(),
            json!({"error": "invalid_grant", "error_description": "x"})
        );
    }
}
