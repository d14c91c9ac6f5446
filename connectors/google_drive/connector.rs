//! The `google-drive` spec: OAuth endpoints, scopes, config keys, and the account's
//! identity (its e-mail address).

use async_trait::async_trait;

use super::actions::DriveActions;
use super::client::DriveClient;
use super::mime::EXPORT_FORMAT_KEY;
use crate::{
    ActionContext, AuthScoping, ConfigKey, ConnectorDef, ConnectorError, ConnectorKind,
    ConnectorSpec, OAuthDescriptor, oauth_config_keys,
};

/// Google's OAuth 2.0 endpoints.
///
/// Scopes: `drive.readonly` is the narrowest scope that can both browse the whole drive
/// and read file content. `drive.file` only reaches files the user created with or opened
/// in this app (through the Google Picker), so browsing My Drive, Shared with me and
/// shared drives would show almost nothing; `drive.metadata.readonly` lists everything
/// but cannot download or export. `openid email` identify the account (its e-mail also
/// comes from `about.get`, which `drive.readonly` covers). `drive.readonly` is a
/// "restricted" scope: an app used outside the institution's own Google Workspace needs
/// Google's verification.
///
/// `access_type=offline` + `prompt=consent` make Google return a refresh token on every
/// consent (it otherwise sends one only the first time); `include_granted_scopes=true`
/// keeps scopes the user granted the same client earlier.
const OAUTH: OAuthDescriptor = OAuthDescriptor {
    auth_url: "https://accounts.google.com/o/oauth2/v2/auth",
    token_url: "https://oauth2.googleapis.com/token",
    revoke_url: Some("https://oauth2.googleapis.com/revoke"),
    scopes: &[
        "openid",
        "email",
        "https://www.googleapis.com/auth/drive.readonly",
    ],
    pkce: true,
    extra_auth_params: &[
        ("access_type", "offline"),
        ("prompt", "consent"),
        ("include_granted_scopes", "true"),
    ],
    client_auth: crate::ClientAuth::Basic,
    revocation: crate::Revocation::Rfc7009,
};

/// The `google-drive` connector.
#[derive(Debug, Default)]
pub struct GoogleDrive {
    actions: DriveActions,
}

#[async_trait]
impl ConnectorDef for GoogleDrive {
    const SPEC: ConnectorSpec = ConnectorSpec {
        slug: "google-drive",
        name: "Google Drive",
        description: "Browse, search and import files from Google Drive: My Drive, files \
                      shared with you and shared drives. Google Docs, Sheets and Slides \
                      are exported to Office formats or PDF.",
        icon: include_str!("icon.svg"),
        kind: ConnectorKind::OAuth2,
        scoping: AuthScoping::Upstream,
        version: "1",
        oauth: Some(OAUTH),
        form: &[],
        config_keys: &oauth_config_keys!(
            OAUTH,
            "https://www.googleapis.com",
            ConfigKey::new(
                EXPORT_FORMAT_KEY,
                "Export format",
                "How Google Docs, Sheets and Slides are downloaded: `office` (docx, xlsx, \
                 pptx) or `pdf`. Drawings are always PDF.",
            )
            .with_default("office"),
        ),
    };

    type Actions = DriveActions;

    fn actions(&self) -> &DriveActions {
        &self.actions
    }

    fn files(&self) -> Option<&dyn crate::FileSource> {
        Some(&self.actions)
    }

    async fn fetch_identity(&self, ctx: &ActionContext) -> Result<Option<String>, ConnectorError> {
        let user = DriveClient::new(ctx)?
            .about()
            .await?
            .user
            .unwrap_or_default();
        Ok(user.email_address.or(user.display_name))
    }
}
