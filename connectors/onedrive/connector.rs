//! The `onedrive` spec (Microsoft identity platform v2 OAuth, read-only Graph scopes), the
//! `TENANT` consistency check, and the identity lookup.
//!
//! Tenant. The sign-in URLs embed the directory tenant
//! (`https://login.microsoftonline.com/{tenant}/oauth2/v2.0/…`), but descriptor URLs are
//! static, so the defaults use `common` (any work, school or personal account). A campus
//! that wants only its own accounts sets `TENANT` to its tenant id **and** `AUTH_URL` /
//! `TOKEN_URL` to the tenant's endpoints; [`check_tenant`] refuses to run while the two
//! disagree, so a `TENANT` that is set but not applied cannot pass unnoticed.

use async_trait::async_trait;
use url::Url;

use super::actions::OneDriveActions;
use super::graph::Graph;
use super::models::GraphUser;
use crate::{
    ActionContext, AuthScoping, ConfigKey, ConnectorDef, ConnectorError, ConnectorKind,
    ConnectorSettings, ConnectorSpec, OAuthDescriptor, keys, oauth_config_keys,
};

/// Config key: the directory tenant users sign in to.
pub const TENANT: &str = "TENANT";
/// Default tenant: any Microsoft work, school or personal account.
pub const DEFAULT_TENANT: &str = "common";
/// Microsoft's sign-in host (public cloud).
const LOGIN_HOST: &str = "https://login.microsoftonline.com";

const OAUTH: OAuthDescriptor = OAuthDescriptor {
    auth_url: "https://login.microsoftonline.com/common/oauth2/v2.0/authorize",
    token_url: "https://login.microsoftonline.com/common/oauth2/v2.0/token",
    // Microsoft has no RFC 7009 revocation endpoint; users revoke app consent in their
    // account settings (or admins in Entra ID).
    revoke_url: None,
    // Read-only. `Files.Read.All` rather than `Files.Read`: items shared with the user live
    // in other drives, and Graph lets an app open those (and list `sharedWithMe` with every
    // property) only with an `.All` file scope. It is delegated, so the user never sees
    // more than they can already open, and users can consent to it without an admin.
    scopes: &[
        "Files.Read.All",
        "User.Read",
        "offline_access",
        "openid",
        "email",
    ],
    pkce: true,
    extra_auth_params: &[],
    client_auth: crate::ClientAuth::Basic,
    revocation: crate::Revocation::Rfc7009,
};

/// The `onedrive` connector.
#[derive(Debug, Default)]
pub struct OneDrive {
    actions: OneDriveActions,
}

#[async_trait]
impl ConnectorDef for OneDrive {
    const SPEC: ConnectorSpec = ConnectorSpec {
        slug: "onedrive",
        name: "OneDrive",
        description: "Browse, search and import files from your OneDrive, including files shared with you (Microsoft 365, read-only).",
        icon: include_str!("icon.svg"),
        kind: ConnectorKind::OAuth2,
        scoping: AuthScoping::Upstream,
        version: "1",
        oauth: Some(OAUTH),
        form: &[],
        config_keys: &oauth_config_keys!(
            OAUTH,
            "https://graph.microsoft.com",
            ConfigKey::new(
                TENANT,
                "Directory (tenant)",
                "Microsoft Entra tenant id or domain users sign in to; `common` allows any \
                 Microsoft account. When you set a tenant, also set the Authorization URL to \
                 https://login.microsoftonline.com/<tenant>/oauth2/v2.0/authorize and the Token \
                 URL to https://login.microsoftonline.com/<tenant>/oauth2/v2.0/token.",
            )
            .with_default(DEFAULT_TENANT),
        ),
    };

    type Actions = OneDriveActions;

    fn actions(&self) -> &OneDriveActions {
        &self.actions
    }

    fn files(&self) -> Option<&dyn crate::FileSource> {
        Some(&self.actions)
    }

    /// `GET /v1.0/me?$select=userPrincipalName,mail`: the mail address, else the sign-in
    /// name.
    async fn fetch_identity(&self, ctx: &ActionContext) -> Result<Option<String>, ConnectorError> {
        let graph = Graph::new(ctx)?;
        let user: GraphUser = graph
            .get_json(graph.url("/me?$select=userPrincipalName,mail")?)
            .await?;
        let present = |v: Option<String>| v.filter(|s| !s.trim().is_empty());
        Ok(present(user.mail).or_else(|| present(user.user_principal_name)))
    }
}

/// `Misconfigured` when `TENANT` names a tenant but `AUTH_URL` or `TOKEN_URL` signs in
/// through another one (URLs of another shape — a test server — are not checked).
pub fn check_tenant(settings: &ConnectorSettings) -> Result<(), ConnectorError> {
    let tenant = settings.get(TENANT).unwrap_or(DEFAULT_TENANT);
    if tenant.eq_ignore_ascii_case(DEFAULT_TENANT) {
        return Ok(());
    }
    for (key, endpoint) in [(keys::AUTH_URL, "authorize"), (keys::TOKEN_URL, "token")] {
        let configured = settings
            .get(key)
            .and_then(|raw| Url::parse(raw).ok())
            .and_then(|url| authority_tenant(&url));
        if let Some(configured) = configured.filter(|t| !t.eq_ignore_ascii_case(tenant)) {
            return Err(ConnectorError::misconfigured(format!(
                "`{TENANT}` is `{tenant}` but `{key}` signs in through `{configured}`: set \
                 `{key}` to {LOGIN_HOST}/{tenant}/oauth2/v2.0/{endpoint}"
            )));
        }
    }
    Ok(())
}

/// The `{tenant}` of a `…/{tenant}/oauth2/v2.0/{authorize|token}` URL.
fn authority_tenant(url: &Url) -> Option<String> {
    let segments: Vec<&str> = url.path_segments()?.collect();
    match segments.as_slice() {
        [tenant, "oauth2", "v2.0", "authorize" | "token"] => Some((*tenant).to_owned()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> ConnectorSettings {
        let overrides: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        ConnectorSettings::new(&OneDrive::SPEC, overrides)
    }

    #[test]
    fn defaults_sign_in_through_common_with_read_only_scopes() {
        let settings = settings(&[]);
        assert_eq!(settings.get(TENANT), Some("common"));
        assert_eq!(
            settings.get("API_BASE_URL"),
            Some("https://graph.microsoft.com")
        );
        assert_eq!(settings.get("REVOKE_URL"), None);
        assert_eq!(
            settings.scopes(),
            [
                "Files.Read.All",
                "User.Read",
                "offline_access",
                "openid",
                "email"
            ]
        );
        assert!(check_tenant(&settings).is_ok());
    }

    #[test]
    fn a_tenant_without_matching_sign_in_urls_is_a_misconfiguration() {
        let contoso = "contoso.onmicrosoft.com";
        let error = check_tenant(&settings(&[(TENANT, contoso)])).expect_err("mismatch");
        assert!(
            matches!(&error, ConnectorError::Misconfigured { message }
                if message.contains("AUTH_URL") && message.contains(&format!("{LOGIN_HOST}/{contoso}/oauth2/v2.0/authorize"))),
            "{error:?}"
        );
        let only_auth = settings(&[
            (TENANT, contoso),
            (
                "AUTH_URL",
                &format!("{LOGIN_HOST}/{contoso}/oauth2/v2.0/authorize"),
            ),
        ]);
        assert!(
            matches!(check_tenant(&only_auth), Err(ConnectorError::Misconfigured { message }) if message.contains("TOKEN_URL"))
        );
        let both = settings(&[
            (TENANT, "Contoso.onmicrosoft.com"),
            (
                "AUTH_URL",
                &format!("{LOGIN_HOST}/{contoso}/oauth2/v2.0/authorize"),
            ),
            (
                "TOKEN_URL",
                &format!("{LOGIN_HOST}/{contoso}/oauth2/v2.0/token"),
            ),
        ]);
        assert!(check_tenant(&both).is_ok());
        let fake_server = settings(&[
            (TENANT, contoso),
            ("AUTH_URL", "http://127.0.0.1:4000/auth"),
            ("TOKEN_URL", "http://127.0.0.1:4000/token"),
        ]);
        assert!(check_tenant(&fake_server).is_ok());
    }
}
