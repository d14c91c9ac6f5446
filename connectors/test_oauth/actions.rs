//! The `test-oauth` actions: the OpenID Connect userinfo endpoint is the "API".

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::sdk::status::json_body;
use crate::{ActionContext, ConnectorError, connector_actions};

/// The `test-oauth` actions.
#[derive(Debug, Default)]
pub struct OAuthActions;

/// The signed-in account, as the userinfo endpoint describes it.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct UserInfo {
    /// Subject: the account's stable id at the provider.
    pub sub: String,
    /// E-mail address, when the `email` scope was granted.
    #[serde(default)]
    pub email: Option<String>,
}

/// `GET {API_BASE_URL}/me` with the connection's bearer token (refreshed once on a 401).
pub(super) async fn userinfo(ctx: &ActionContext) -> Result<UserInfo, ConnectorError> {
    let url = format!("{}/me", ctx.settings.api_base_url()?);
    let response = ctx
        .send_authorized(|credentials| {
            let request = ctx.http.get(&url);
            match credentials.access_token() {
                Some(token) => request.bearer_auth(token),
                None => request,
            }
        })
        .await?;
    json_body(response).await
}

#[connector_actions]
impl OAuthActions {
    /// Ask the provider who the connected account is (OpenID Connect userinfo).
    #[action(tags(read))]
    async fn whoami(&self, ctx: &ActionContext) -> Result<UserInfo, ConnectorError> {
        userinfo(ctx).await
    }
}
