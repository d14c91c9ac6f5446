//! The `test-oauth` spec: endpoints default to an unroutable address, so a test (or an
//! admin) must point `AUTH_URL`, `TOKEN_URL`, `REVOKE_URL` and `API_BASE_URL` at a server.

use async_trait::async_trait;

use super::actions::{OAuthActions, userinfo};
use crate::{
    ActionContext, AuthScoping, ConnectorDef, ConnectorError, ConnectorKind, ConnectorSpec,
    OAuthDescriptor, oauth_config_keys,
};

const OAUTH: OAuthDescriptor = OAuthDescriptor {
    auth_url: "http://127.0.0.1:9/auth",
    token_url: "http://127.0.0.1:9/token",
    revoke_url: Some("http://127.0.0.1:9/token/revocation"),
    scopes: &["openid", "email", "offline_access"],
    pkce: true,
    extra_auth_params: &[("prompt", "consent")],
    client_auth: crate::ClientAuth::Basic,
    revocation: crate::Revocation::Rfc7009,
};

/// The `test-oauth` connector.
#[derive(Debug, Default)]
pub struct TestOAuthConnector {
    actions: OAuthActions,
}

#[async_trait]
impl ConnectorDef for TestOAuthConnector {
    const SPEC: ConnectorSpec = ConnectorSpec {
        slug: "test-oauth",
        name: "Test OAuth",
        description: "Signs in to a standards-compliant OAuth 2.0 / OpenID Connect server (tests only).",
        icon: include_str!("icon.svg"),
        kind: ConnectorKind::OAuth2,
        scoping: AuthScoping::Upstream,
        version: "1",
        oauth: Some(OAUTH),
        form: &[],
        config_keys: &oauth_config_keys!(OAUTH, "http://127.0.0.1:9"),
    };

    type Actions = OAuthActions;

    fn actions(&self) -> &OAuthActions {
        &self.actions
    }

    async fn fetch_identity(&self, ctx: &ActionContext) -> Result<Option<String>, ConnectorError> {
        let info = userinfo(ctx).await?;
        Ok(info.email.or(Some(info.sub)))
    }
}
