//! The app as the OAuth 2.1 authorization server of its own MCP endpoint, and what that
//! endpoint asks of it: who an access token speaks for (`authenticate`), the challenge of a
//! 401 (`challenge`), and the metadata documents clients discover the server with
//! (RFC 9728 for the resource, RFC 8414 for the authorization server).
//!
//! The rest of the server lives beside this file: `mcp_clients` (who the assistants are:
//! metadata documents and dynamic registration), `mcp_authorize` (the authorization request
//! and the user's decision), `mcp_tokens` (the token and revocation endpoints) and
//! `mcp_grants` (the grants a user sees and revokes on `/settings`).
//!
//! Tokens are opaque random strings stored only as SHA-256 hashes, each bound to one grant
//! and to the resource `<base>/mcp`; no other route accepts them, and nothing upstream
//! (a connection's own tokens) is ever handed out.

use crate::config::Settings;
use crate::crypto::sha256_hex;
use crate::error::AppResult;
use crate::models::entities::user;
use crate::models::{McpTokenKind, connections, mcp_clients, mcp_grants, mcp_tokens, users};
use chrono::{Duration, Utc};
use sea_orm::DatabaseConnection;
use serde_json::{Value, json};

/// The path of the MCP endpoint, the one resource tokens are issued for.
pub const MCP_PATH: &str = "/mcp";
/// Prefix of access tokens (recognisable to people and secret scanners).
pub const ACCESS_TOKEN_PREFIX: &str = "ccmcp_";
/// Prefix of refresh tokens.
pub const REFRESH_TOKEN_PREFIX: &str = "ccmcpr_";
/// How long an access token lives. Revoking a grant stops its tokens at once whatever this
/// says; the lifetime bounds what a leaked token is worth.
pub const ACCESS_TOKEN_TTL: Duration = Duration::minutes(30);
/// How long a refresh token lives; each refresh issues a new one with a fresh lifetime, so
/// an assistant in use stays signed in and one left alone for a month signs in again.
pub const REFRESH_TOKEN_TTL: Duration = Duration::days(30);
/// How often at most `authenticate` writes a grant's `last_used_at`.
const TOUCH_INTERVAL: Duration = Duration::seconds(60);
/// Read-only tools.
pub const SCOPE_READ: &str = "mcp:read";
/// Tools that make changes.
pub const SCOPE_WRITE: &str = "mcp:write";

/// Who an MCP access token speaks for.
#[derive(Clone, Debug)]
pub struct McpGrantPrincipal {
    /// The user who allowed the assistant (active, or the token is refused).
    pub user: user::Model,
    pub grant_id: i64,
    /// The assistant's OAuth `client_id`.
    pub client_id: String,
    /// The name the assistant gives itself.
    pub client_name: String,
    /// Whether the user let it make changes (write tools), and this token carries that.
    pub allow_write: bool,
    /// The connections the user chose, less any deleted since.
    pub connection_ids: Vec<i64>,
}

/// The scopes of a grant or token: reading always, writing when the user allowed it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct McpScopes {
    pub write: bool,
}

impl McpScopes {
    /// Reads a space-separated `scope` parameter; an empty one means reading. `None` when it
    /// names a scope this server does not know.
    pub fn parse(scope: &str) -> Option<Self> {
        let mut scopes = Self::default();
        for s in scope.split_ascii_whitespace() {
            match s {
                SCOPE_READ => {}
                SCOPE_WRITE => scopes.write = true,
                _ => return None,
            }
        }
        Some(scopes)
    }

    /// The `scope` string of these scopes.
    pub fn as_scope(self) -> String {
        if self.write {
            format!("{SCOPE_READ} {SCOPE_WRITE}")
        } else {
            SCOPE_READ.to_owned()
        }
    }

    /// Whether every scope of `self` is in `granted`.
    pub fn within(self, granted: Self) -> bool {
        !self.write || granted.write
    }
}

/// The resource URI of the MCP endpoint (`<base>/mcp`).
pub fn resource(settings: &Settings) -> String {
    settings.absolute_url(MCP_PATH)
}

/// The issuer of this authorization server: the base URL, without a trailing slash.
pub fn issuer(settings: &Settings) -> String {
    settings.base_url.as_str().trim_end_matches('/').to_owned()
}

/// Whether `requested` names the resource `expected` (a trailing slash is the same URI).
pub fn same_resource(requested: &str, expected: &str) -> bool {
    requested.strip_suffix('/').unwrap_or(requested)
        == expected.strip_suffix('/').unwrap_or(expected)
}

/// Where the MCP endpoint's protected resource metadata is (RFC 9728).
fn resource_metadata_url(settings: &Settings) -> String {
    settings.absolute_url(crate::paths::oauth_protected_resource_mcp())
}

/// The WWW-Authenticate value of a 401 from /mcp.
pub fn challenge(settings: &Settings) -> String {
    format!(
        "Bearer resource_metadata=\"{}\", scope=\"{SCOPE_READ}\"",
        resource_metadata_url(settings)
    )
}

/// The WWW-Authenticate value of a 403 from /mcp when a tool needs `mcp:write` and the token
/// was granted reading only.
pub fn insufficient_scope_challenge(settings: &Settings) -> String {
    format!(
        "Bearer error=\"insufficient_scope\", scope=\"{SCOPE_READ} {SCOPE_WRITE}\", resource_metadata=\"{}\", error_description=\"The user allowed this assistant to read only.\"",
        resource_metadata_url(settings)
    )
}

/// The protected resource metadata of the MCP endpoint (RFC 9728).
pub fn protected_resource_metadata(settings: &Settings) -> Value {
    json!({
        "resource": resource(settings),
        "authorization_servers": [issuer(settings)],
        "scopes_supported": [SCOPE_READ, SCOPE_WRITE],
        "bearer_methods_supported": ["header"],
        "resource_name": "CampusCore",
    })
}

/// The authorization server metadata (RFC 8414).
pub fn authorization_server_metadata(settings: &Settings) -> Value {
    let url = |path: &str| settings.absolute_url(path);
    json!({
        "issuer": issuer(settings),
        "authorization_endpoint": url(crate::paths::oauth_authorize()),
        "token_endpoint": url(crate::paths::oauth_token()),
        "registration_endpoint": url(crate::paths::oauth_register()),
        "revocation_endpoint": url(crate::paths::oauth_revoke()),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["none"],
        "revocation_endpoint_auth_methods_supported": ["none"],
        "scopes_supported": [SCOPE_READ, SCOPE_WRITE],
        "client_id_metadata_document_supported": true,
        "authorization_response_iss_parameter_supported": true,
    })
}

/// The principal of a live access token for `resource`; None for unknown, expired, revoked,
/// or another audience.
pub async fn authenticate(
    db: &DatabaseConnection,
    access_token: &str,
    resource: &str,
) -> AppResult<Option<McpGrantPrincipal>> {
    if !access_token.starts_with(ACCESS_TOKEN_PREFIX) {
        return Ok(None);
    }
    let now = Utc::now();
    let Some(token) = mcp_tokens::find_by_hash(db, &sha256_hex(access_token)).await? else {
        return Ok(None);
    };
    let live = token.kind == McpTokenKind::Access
        && token.retired_at.is_none()
        && token.expires_at > now
        && same_resource(resource, &token.resource);
    if !live {
        return Ok(None);
    }
    // Read on every request, never cached: revoking a grant stops its tokens at once.
    let Some(grant) = mcp_grants::find(db, token.mcp_grant_id)
        .await?
        .filter(|g| g.revoked_at.is_none())
    else {
        return Ok(None);
    };
    let Some(user) = users::find(db, grant.user_id)
        .await?
        .filter(|u| u.is_active)
    else {
        return Ok(None);
    };
    let Some(client) = mcp_clients::find(db, grant.mcp_client_id).await? else {
        return Ok(None);
    };
    if grant
        .last_used_at
        .is_none_or(|at| now - at >= TOUCH_INTERVAL)
    {
        mcp_grants::touch(db, grant.id, now).await?;
    }
    let granted: Vec<i64> = serde_json::from_str(&grant.connection_ids).unwrap_or_default();
    let connection_ids = connections::owned_ids(db, user.id, granted).await?;
    let token_scopes = McpScopes::parse(&token.scopes).unwrap_or_default();
    let grant_scopes = McpScopes::parse(&grant.scopes).unwrap_or_default();
    Ok(Some(McpGrantPrincipal {
        user,
        grant_id: grant.id,
        client_id: client.client_id,
        client_name: client.name,
        allow_write: token_scopes.write && grant_scopes.write,
        connection_ids,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_read_the_scope_parameter_and_refuse_unknown_ones() {
        assert_eq!(McpScopes::parse(""), Some(McpScopes { write: false }));
        assert_eq!(
            McpScopes::parse("mcp:read"),
            Some(McpScopes { write: false })
        );
        assert_eq!(
            McpScopes::parse("mcp:read  mcp:write"),
            Some(McpScopes { write: true })
        );
        assert_eq!(McpScopes::parse("mcp:read admin"), None);
        assert_eq!(McpScopes { write: true }.as_scope(), "mcp:read mcp:write");
        assert!(McpScopes { write: false }.within(McpScopes { write: false }));
        assert!(!McpScopes { write: true }.within(McpScopes { write: false }));
    }

    #[test]
    fn a_trailing_slash_names_the_same_resource() {
        assert!(same_resource("https://a.edu/mcp/", "https://a.edu/mcp"));
        assert!(same_resource("https://a.edu/mcp", "https://a.edu/mcp"));
        assert!(!same_resource("https://a.edu/api", "https://a.edu/mcp"));
        assert!(!same_resource("https://b.edu/mcp", "https://a.edu/mcp"));
    }

    #[test]
    fn the_challenge_points_at_the_resource_metadata() -> anyhow::Result<()> {
        let settings = Settings::from_lookup(|k| {
            (k == "CAMPUSCORE_BASE_URL").then(|| "https://campus.example.edu".to_owned())
        })?;
        assert_eq!(
            challenge(&settings),
            "Bearer resource_metadata=\"https://campus.example.edu/.well-known/oauth-protected-resource/mcp\", scope=\"mcp:read\""
        );
        assert_eq!(resource(&settings), "https://campus.example.edu/mcp");
        assert_eq!(issuer(&settings), "https://campus.example.edu");
        let metadata = authorization_server_metadata(&settings);
        assert_eq!(
            metadata["token_endpoint"],
            "https://campus.example.edu/oauth/token"
        );
        assert_eq!(
            metadata["code_challenge_methods_supported"],
            json!(["S256"])
        );
        Ok(())
    }
}
