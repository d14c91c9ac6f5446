//! The `servicenow` spec — OAuth 2.0 through the instance's OAuth Application Registry, on
//! the instance's own host — and the identity (name, user name, email).
//!
//! Every campus runs its own instance, so `API_BASE_URL` (e.g.
//! `https://campus.service-now.com`) has no default and the sign-in endpoints default to
//! paths on it: `oauth_auth.do`, `oauth_token.do`, and `oauth_revoke_token.do` for
//! Disconnect. Access tokens live 30 minutes by default, refresh tokens 100 days; they are
//! refreshed like every other OAuth connector's. The instance's ACLs decide what each user
//! may read and change (upstream scoping).

use async_trait::async_trait;

use super::actions::{ServiceNowActions, identity};
use super::api::Instance;
use crate::{
    ActionContext, AuthScoping, ClientAuth, ConfigKey, ConnectorDef, ConnectorError, ConnectorKind,
    ConnectorSpec, OAuthDescriptor, Revocation, keys,
};

const OAUTH: OAuthDescriptor = OAuthDescriptor {
    auth_url: "{API_BASE_URL}/oauth_auth.do",
    token_url: "{API_BASE_URL}/oauth_token.do",
    revoke_url: Some("{API_BASE_URL}/oauth_revoke_token.do"),
    // The instance's default scope for OAuth applications: the signed-in user's own access.
    scopes: &["useraccount"],
    pkce: true,
    extra_auth_params: &[],
    // ServiceNow documents the client credentials as form parameters of oauth_token.do.
    client_auth: ClientAuth::RequestBody,
    revocation: Revocation::Rfc7009,
};

/// The standard OAuth keys, with `API_BASE_URL` required and without default.
const CONFIG_KEYS: [ConfigKey; 7] = {
    let mut keys = crate::sdk::spec::standard_oauth_keys(&OAUTH, "");
    keys[6] = ConfigKey::new(
        keys::API_BASE_URL,
        "ServiceNow instance URL",
        "Your institution's instance, e.g. https://campus.service-now.com (sign-in and the \
         Table API both live there).",
    )
    .required();
    keys
};

/// The `servicenow` connector.
#[derive(Debug, Default)]
pub struct ServiceNow {
    actions: ServiceNowActions,
}

#[async_trait]
impl ConnectorDef for ServiceNow {
    const SPEC: ConnectorSpec = ConnectorSpec {
        slug: "servicenow",
        name: "ServiceNow",
        description: "Your IT incidents (list, read, report, update, comment), the knowledge \
                      base (search, read, import articles into folders), the service catalog \
                      and your requests — as the instance's own access rules allow.",
        icon: include_str!("icon.svg"),
        kind: ConnectorKind::OAuth2,
        scoping: AuthScoping::Upstream,
        version: "1",
        oauth: Some(OAUTH),
        form: &[],
        config_keys: &CONFIG_KEYS,
    };

    type Actions = ServiceNowActions;

    fn actions(&self) -> &ServiceNowActions {
        &self.actions
    }

    fn files(&self) -> Option<&dyn crate::FileSource> {
        Some(&self.actions)
    }

    /// The signed-in `sys_user`: `Name (user_name, email)`.
    async fn fetch_identity(&self, ctx: &ActionContext) -> Result<Option<String>, ConnectorError> {
        identity(&Instance::new(ctx)?).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sdk::testing;

    #[test]
    fn sign_in_lives_on_the_instance_and_needs_its_url() {
        let unset = testing::settings(&ServiceNow::SPEC, &[]);
        assert_eq!(
            unset.missing_required(),
            ["CLIENT_ID", "CLIENT_SECRET", "API_BASE_URL"]
        );
        let set = testing::settings(
            &ServiceNow::SPEC,
            &[("API_BASE_URL", "https://campus.service-now.com")],
        );
        assert_eq!(
            set.get("AUTH_URL"),
            Some("https://campus.service-now.com/oauth_auth.do")
        );
        assert_eq!(
            set.get("TOKEN_URL"),
            Some("https://campus.service-now.com/oauth_token.do")
        );
        assert_eq!(
            set.get("REVOKE_URL"),
            Some("https://campus.service-now.com/oauth_revoke_token.do")
        );
        assert_eq!(set.scopes(), ["useraccount"]);
    }
}
