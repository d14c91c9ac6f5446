//! The `canvas` spec — per-institution OAuth 2.0 through a Canvas developer key, on the
//! instance's own host — and the identity lookup.
//!
//! Every campus runs its own Canvas, so `API_BASE_URL` (the instance, e.g.
//! `https://canvas.example.edu`) has no default and the sign-in endpoints default to paths on
//! it (`{API_BASE_URL}/login/oauth2/auth`, `…/token`). Canvas access tokens live one hour;
//! the refresh token does not rotate (the app keeps the stored one when a refresh answer has
//! none). Disconnecting sends Canvas's own `DELETE /login/oauth2/token`, which ends the
//! access token and its refresh token together.

use async_trait::async_trait;

use super::actions::CanvasActions;
use super::api::Canvas;
use super::wire::User;
use crate::{
    ActionContext, AuthScoping, ClientAuth, ConfigKey, ConnectorDef, ConnectorError, ConnectorKind,
    ConnectorSpec, OAuthDescriptor, Revocation, keys,
};

/// The scopes the connector's requests need, for developer keys that enforce scopes (Canvas
/// refuses any request a scoped token was not granted). Keys that do not enforce scopes
/// grant everything the user can see, whatever is asked.
pub const SCOPES: &[&str] = &[
    "url:GET|/api/v1/users/:id",
    "url:GET|/api/v1/courses",
    "url:GET|/api/v1/courses/:id",
    "url:GET|/api/v1/courses/:course_id/modules",
    "url:GET|/api/v1/courses/:course_id/modules/:module_id/items",
    "url:GET|/api/v1/courses/:course_id/pages",
    "url:GET|/api/v1/courses/:course_id/pages/:url_or_id",
    "url:GET|/api/v1/courses/:course_id/assignments",
    "url:GET|/api/v1/courses/:course_id/assignments/:id",
    "url:GET|/api/v1/announcements",
    "url:GET|/api/v1/courses/:course_id/folders/:id",
    "url:GET|/api/v1/folders/:id",
    "url:GET|/api/v1/folders/:id/folders",
    "url:GET|/api/v1/folders/:id/files",
    "url:GET|/api/v1/courses/:course_id/files",
    "url:GET|/api/v1/files/:id",
];

const OAUTH: OAuthDescriptor = OAuthDescriptor {
    auth_url: "{API_BASE_URL}/login/oauth2/auth",
    token_url: "{API_BASE_URL}/login/oauth2/token",
    revoke_url: Some("{API_BASE_URL}/login/oauth2/token"),
    scopes: SCOPES,
    // Canvas accepts PKCE (S256); a state is sent as with every provider.
    pkce: true,
    extra_auth_params: &[],
    // Canvas documents the client credentials as form parameters of the token request.
    client_auth: ClientAuth::RequestBody,
    revocation: Revocation::BearerDelete,
};

/// The standard OAuth keys, with `API_BASE_URL` required and without default.
const CONFIG_KEYS: [ConfigKey; 7] = {
    let mut keys = crate::sdk::spec::standard_oauth_keys(&OAUTH, "");
    keys[6] = ConfigKey::new(
        keys::API_BASE_URL,
        "Canvas URL",
        "Your institution's Canvas, e.g. https://canvas.example.edu (the sign-in and API \
         both live there).",
    )
    .required();
    keys
};

/// The `canvas` connector.
#[derive(Debug, Default)]
pub struct CanvasLms {
    actions: CanvasActions,
}

#[async_trait]
impl ConnectorDef for CanvasLms {
    const SPEC: ConnectorSpec = ConnectorSpec {
        slug: "canvas",
        name: "Canvas LMS",
        description: "Read your Canvas courses — modules, pages, assignments, announcements and \
                      course files — and import course files and pages into knowledge folders \
                      (read-only; Canvas decides what you may see).",
        icon: include_str!("icon.svg"),
        kind: ConnectorKind::OAuth2,
        scoping: AuthScoping::Upstream,
        version: "1",
        oauth: Some(OAUTH),
        form: &[],
        config_keys: &CONFIG_KEYS,
    };

    type Actions = CanvasActions;

    fn actions(&self) -> &CanvasActions {
        &self.actions
    }

    fn files(&self) -> Option<&dyn crate::FileSource> {
        Some(&self.actions)
    }

    /// `GET /api/v1/users/self`: the name and login id (`Ada Lovelace (alovelace)`).
    async fn fetch_identity(&self, ctx: &ActionContext) -> Result<Option<String>, ConnectorError> {
        let canvas = Canvas::new(ctx)?;
        let user: User = canvas.get_json(canvas.url("/users/self", &[])?).await?;
        Ok(user.identity())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sdk::testing;

    #[test]
    fn sign_in_lives_on_the_instance_and_needs_its_url() {
        let unset = testing::settings(&CanvasLms::SPEC, &[]);
        assert_eq!(
            unset.missing_required(),
            ["CLIENT_ID", "CLIENT_SECRET", "API_BASE_URL"]
        );
        assert_eq!(unset.get("AUTH_URL"), None);
        let set = testing::settings(
            &CanvasLms::SPEC,
            &[("API_BASE_URL", "https://canvas.example.edu/")],
        );
        assert_eq!(
            set.get("AUTH_URL"),
            Some("https://canvas.example.edu/login/oauth2/auth")
        );
        assert_eq!(
            set.get("TOKEN_URL"),
            Some("https://canvas.example.edu/login/oauth2/token")
        );
        assert_eq!(
            set.get("REVOKE_URL"),
            Some("https://canvas.example.edu/login/oauth2/token")
        );
        assert_eq!(set.scopes().len(), SCOPES.len());
        assert!(
            set.scopes()
                .iter()
                .all(|s| s.starts_with("url:GET|/api/v1/"))
        );
    }
}
